"""Front-ends turning waveforms and frame sequences into model inputs."""

from emofuse.transforms.frame_sampling import frame_indices_per_second
from emofuse.transforms.mel_chunks import MelSpectrogramChunks, collate_steps

__all__: list[str] = []
__all__ += ["MelSpectrogramChunks", "collate_steps", "frame_indices_per_second"]
