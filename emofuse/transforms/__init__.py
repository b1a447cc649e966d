"""Front-ends turning audio files, waveforms and frame sequences into model inputs.

Every audio front-end takes audio with its sample rate and one channel convention: see
:mod:`emofuse.transforms.audio`. :func:`for_model` assembles the paper's whole pipeline of a
model (audio front-end, face frames, tokenizer, feature statistics) from a raw clip to one sample
of its inputs (:mod:`emofuse.transforms.pipeline`).
"""

from emofuse.transforms.audio import Waveform, load_audio, resample
from emofuse.transforms.collate import collate_steps
from emofuse.transforms.faces import FaceCrops
from emofuse.transforms.frame_sampling import (
    face_frame_indices,
    frame_indices_per_second,
    uniform_snippet_indices,
)
from emofuse.transforms.kaldi_fbank import KaldiFbankDeltas
from emofuse.transforms.mel_chunks import MelSpectrogramChunks
from emofuse.transforms.normalization import FeatureNormalizer
from emofuse.transforms.pipeline import InputPipeline, for_model, register_pipeline
from emofuse.transforms.snippet_sampler import KINETICS_MEAN, KINETICS_STD, SnippetSampler
from emofuse.transforms.spectrogram_segments import SpectrogramSegments
from emofuse.transforms.vggish_frontend import MIN_SAMPLES, SAMPLE_RATE, VGGishFrontEnd

__all__ = [
    "KINETICS_MEAN",
    "KINETICS_STD",
    "MIN_SAMPLES",
    "SAMPLE_RATE",
    "FaceCrops",
    "FeatureNormalizer",
    "InputPipeline",
    "KaldiFbankDeltas",
    "MelSpectrogramChunks",
    "SnippetSampler",
    "SpectrogramSegments",
    "VGGishFrontEnd",
    "Waveform",
    "collate_steps",
    "face_frame_indices",
    "for_model",
    "frame_indices_per_second",
    "load_audio",
    "register_pipeline",
    "resample",
    "uniform_snippet_indices",
]
