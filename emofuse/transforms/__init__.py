"""Front-ends turning waveforms and frame sequences into model inputs."""

from emofuse.transforms.snippet_sampler import SnippetSampler, uniform_snippet_indices
from emofuse.transforms.spectrogram_segments import SpectrogramSegments

__all__: list[str] = []
__all__ += ["SnippetSampler", "SpectrogramSegments", "uniform_snippet_indices"]
