"""Paper building blocks (fusion modules and the like), each usable on its own."""

from emofuse.blocks.axis_attention import ChannelAttention, SpatialAttention, TemporalAttention
from emofuse.blocks.cross_correlation import CrossCorrelationFusion

__all__: list[str] = []
__all__ += ["ChannelAttention", "CrossCorrelationFusion", "SpatialAttention", "TemporalAttention"]
