"""Data: the papers' corpora read safely, collation with masks, and a synthetic task.

- :mod:`emofuse.data.safe_pickle`: pickles read without executing code.
- :func:`collate`, :class:`BucketBatchSampler`: padding with masks, batches of similar length.
"""

from emofuse.data import safe_pickle
from emofuse.data.collate import BucketBatchSampler, collate
from emofuse.data.safe_pickle import UnsafePickleError

__all__ = ["BucketBatchSampler", "UnsafePickleError", "collate", "safe_pickle"]
