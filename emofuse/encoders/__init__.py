"""Modality encoders: CNN backbones, Hugging Face text encoders, subsamplers."""

from emofuse.encoders.subsampling import ConvolutionPooling
from emofuse.encoders.timm_frames import TimmFrameEncoder, create_timm_backbone

__all__: list[str] = []
__all__ += ["ConvolutionPooling", "TimmFrameEncoder", "create_timm_backbone"]
