"""Paper building blocks (fusion modules and the like), each usable on its own."""

from emofuse.blocks.emotion_query import EmotionQueryDecoder, GroupWiseLinear
from emofuse.blocks.token_fusion import EarlyFusion, TokenFusionEncoder

__all__: list[str] = []
__all__ += ["EarlyFusion", "EmotionQueryDecoder", "GroupWiseLinear", "TokenFusionEncoder"]
