"""Modality encoders: CNN backbones, Hugging Face text encoders, subsamplers."""

from emofuse.encoders.resnet3d import ResNet3D, hara_to_torchvision
from emofuse.encoders.spectrogram_resnet import SpectrogramResNet

__all__: list[str] = []
__all__ += ["ResNet3D", "SpectrogramResNet", "hara_to_torchvision"]
