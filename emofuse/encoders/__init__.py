"""Modality encoders: CNN backbones, Hugging Face text encoders, subsamplers."""

from emofuse.encoders.frame_sequence import FrameSequenceEncoder
from emofuse.encoders.text import HFTextEncoder
from emofuse.encoders.vgg import VGG19_CONVS, VGG_WIDTHS, VGGFeatures, vgg_layout

__all__: list[str] = []
__all__ += [
    "VGG19_CONVS",
    "VGG_WIDTHS",
    "FrameSequenceEncoder",
    "HFTextEncoder",
    "VGGFeatures",
    "vgg_layout",
]
