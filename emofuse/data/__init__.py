"""Data: the papers' corpora read safely, collation with masks, and a synthetic task.

- :mod:`emofuse.data.safe_pickle`: pickles read without executing code.
- :func:`collate`, :class:`BucketBatchSampler`: padding with masks, batches of similar length.
- :class:`RAVDESS`: the corpus as released, with Mocanu et al.'s actor folds.
- :class:`SyntheticEmotion`: a learnable cross-modal task in any model's input layout.
"""

from emofuse.data import safe_pickle
from emofuse.data.audio import read_audio
from emofuse.data.collate import BucketBatchSampler, collate
from emofuse.data.ravdess import RAVDESS, RavdessClip, parse_name, ravdess_folds, read_video
from emofuse.data.synthetic import SyntheticEmotion
from emofuse.data.safe_pickle import UnsafePickleError

__all__ = [
    "RAVDESS",
    "BucketBatchSampler",
    "RavdessClip",
    "SyntheticEmotion",
    "UnsafePickleError",
    "collate",
    "parse_name",
    "ravdess_folds",
    "read_audio",
    "read_video",
    "safe_pickle",
]
