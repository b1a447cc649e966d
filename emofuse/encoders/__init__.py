"""Modality encoders: CNN backbones, Hugging Face text encoders, subsamplers."""

__all__: list[str] = []
