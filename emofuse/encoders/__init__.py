"""Modality encoders: CNN backbones, Hugging Face text encoders, subsamplers."""

from emofuse.encoders.checkpointing import set_gradient_checkpointing
from emofuse.encoders.frame_sequence import FrameSequenceEncoder
from emofuse.encoders.resnet2d import ResNetEncoder, torchvision_imagenet_state
from emofuse.encoders.resnet3d import DEFAULT_WIDTHS, DEPTHS, ResNet3D, hara_to_torchvision
from emofuse.encoders.subsampling import ConvolutionPooling
from emofuse.encoders.text import LOCAL_CONFIGS, HFTextEncoder, truncate_tokens
from emofuse.encoders.timm_frames import TimmFrameEncoder, create_timm_backbone
from emofuse.encoders.vgg import VGG19_CONVS, VGG_WIDTHS, VGGFeatures, vgg_layout
from emofuse.encoders.vggish import EXAMPLE_FRAMES, MEL_BANDS, TORCHVGGISH_URL, VGGish

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
    "ResNet3D",
    "ResNetEncoder",
    "TimmFrameEncoder",
    "VGGFeatures",
    "VGGish",
    "create_timm_backbone",
    "hara_to_torchvision",
    "set_gradient_checkpointing",
    "torchvision_imagenet_state",
    "truncate_tokens",
    "vgg_layout",
]
