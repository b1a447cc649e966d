"""Front-ends turning waveforms and frame sequences into model inputs."""

from emofuse.transforms.frame_sampling import frame_indices_per_second
from emofuse.transforms.kaldi_fbank import KaldiFbankDeltas
from emofuse.transforms.mel_chunks import MelSpectrogramChunks, collate_steps
from emofuse.transforms.snippet_sampler import (
    KINETICS_MEAN,
    KINETICS_STD,
    SnippetSampler,
    uniform_snippet_indices,
)
from emofuse.transforms.spectrogram_segments import SpectrogramSegments
from emofuse.transforms.vggish_frontend import (
    MIN_SAMPLES,
    SAMPLE_RATE,
    VGGishFrontEnd,
    face_frame_indices,
)

__all__ = [
    "KINETICS_MEAN",
    "KINETICS_STD",
    "MIN_SAMPLES",
    "SAMPLE_RATE",
    "KaldiFbankDeltas",
    "MelSpectrogramChunks",
    "SnippetSampler",
    "SpectrogramSegments",
    "VGGishFrontEnd",
    "collate_steps",
    "face_frame_indices",
    "frame_indices_per_second",
    "uniform_snippet_indices",
]
