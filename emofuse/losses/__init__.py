"""The papers' training objectives, each as a function and as an ``nn.Module``."""

__all__: list[str] = []
