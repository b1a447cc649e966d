"""Data: the papers' corpora read safely, collation with masks, and a synthetic task.

- :mod:`emofuse.data.safe_pickle`: pickles read without executing code.
- :func:`collate`, :class:`BucketBatchSampler`: padding with masks, batches of similar length.
- :class:`MMSA`: MOSI / MOSEI / CH-SIMS feature pickles (aligned and unaligned).
- :class:`RAVDESS`: the corpus as released, with Mocanu et al.'s actor folds.
- :class:`IEMOCAP`: the release, 4- and 6-class maps, leave-one-session-out.
- :class:`CremaD`: CREMA-D's audio by file name, actor-disjoint folds.
- :class:`MELD`: transcripts, emotion and sentiment labels, dialogue context, optional clips.
- :class:`DaiIEMOCAP`, :class:`DaiMOSEI`: Dai et al. 2021's raw release (wavs, frames, meta.pkl).
- :class:`CSD`: CMU-MultimodalSDK computational sequences (``.csd``, HDF5) aligned to segments.
- :func:`dai2021_split`, :func:`cmu_sdk_folds`, :func:`ravdess_folds`: shipped manifests.
- :class:`SyntheticEmotion`: a learnable cross-modal task in any model's input layout.
- :class:`RandomSnippets`: another random subset of each training clip's snippets per epoch.
"""

from emofuse.data import safe_pickle
from emofuse.data.collate import BucketBatchSampler, collate
from emofuse.data.crema_d import CremaD, CremaDClip, parse_crema_d_name
from emofuse.data.csd import CSD, read_csd
from emofuse.data.dai import DaiIEMOCAP, DaiMOSEI
from emofuse.data.iemocap import IEMOCAP, IemocapUtterance
from emofuse.data.manifests import (
    cmu_sdk_folds,
    crema_d_folds,
    dai2021_split,
    ravdess_folds,
    read_manifest,
)
from emofuse.data.meld import MELD, MeldUtterance, join_context, read_meld_csv
from emofuse.data.mmsa import MMSA
from emofuse.data.ravdess import RAVDESS, RavdessClip, parse_name, read_audio, read_video
from emofuse.data.safe_pickle import UnsafePickleError
from emofuse.data.snippets import RandomSnippets
from emofuse.data.synthetic import SyntheticEmotion

__all__ = [
    "CSD",
    "IEMOCAP",
    "MELD",
    "MMSA",
    "RAVDESS",
    "BucketBatchSampler",
    "CremaD",
    "CremaDClip",
    "DaiIEMOCAP",
    "DaiMOSEI",
    "IemocapUtterance",
    "MeldUtterance",
    "RandomSnippets",
    "RavdessClip",
    "SyntheticEmotion",
    "UnsafePickleError",
    "cmu_sdk_folds",
    "collate",
    "crema_d_folds",
    "dai2021_split",
    "join_context",
    "parse_crema_d_name",
    "parse_name",
    "ravdess_folds",
    "read_audio",
    "read_csd",
    "read_manifest",
    "read_meld_csv",
    "read_video",
    "safe_pickle",
]
