"""Modality encoders: CNN backbones, Hugging Face text encoders, subsamplers."""

from emofuse.encoders.resnet2d import ResNetEncoder
from emofuse.encoders.vggish import VGGish

__all__: list[str] = []
__all__ += ["ResNetEncoder", "VGGish"]
