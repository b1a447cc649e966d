"""Modality encoders: CNN backbones, Hugging Face text encoders, subsamplers, and the one
module that loads their weights (:mod:`emofuse.encoders.weights`)."""

from emofuse.encoders.checkpointing import set_gradient_checkpointing
from emofuse.encoders.frame_sequence import FrameSequenceEncoder
from emofuse.encoders.mobilenet2d import MobileNetV2Encoder
from emofuse.encoders.resnet2d import ResNetEncoder
from emofuse.encoders.resnet3d import DEFAULT_WIDTHS, DEPTHS, ResNet3D, hara_to_torchvision
from emofuse.encoders.subsampling import ConvolutionPooling
from emofuse.encoders.text import HFTextEncoder, truncate_tokens
from emofuse.encoders.timm_frames import TimmFrameEncoder
from emofuse.encoders.vgg import VGG19_CONVS, VGG_WIDTHS, VGGFeatures, vgg_layout
from emofuse.encoders.vggish import EXAMPLE_FRAMES, MEL_BANDS, VGGish
from emofuse.encoders.weights import (
    LOCAL_CONFIGS,
    TORCHVGGISH_URL,
    WeightsUnavailableError,
    create_timm_backbone,
    load_backbones,
)

__all__ = [
    "DEFAULT_WIDTHS",
    "DEPTHS",
    "EXAMPLE_FRAMES",
    "LOCAL_CONFIGS",
    "MEL_BANDS",
    "TORCHVGGISH_URL",
    "VGG19_CONVS",
    "VGG_WIDTHS",
    "ConvolutionPooling",
    "FrameSequenceEncoder",
    "HFTextEncoder",
    "MobileNetV2Encoder",
    "ResNet3D",
    "ResNetEncoder",
    "TimmFrameEncoder",
    "VGGFeatures",
    "VGGish",
    "WeightsUnavailableError",
    "create_timm_backbone",
    "hara_to_torchvision",
    "load_backbones",
    "set_gradient_checkpointing",
    "truncate_tokens",
    "vgg_layout",
]
