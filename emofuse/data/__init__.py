"""Data: the papers' corpora read safely, collation with masks, and a synthetic task.

- :mod:`emofuse.data.safe_pickle`: pickles read without executing code.
"""

from emofuse.data import safe_pickle
from emofuse.data.safe_pickle import UnsafePickleError

__all__ = ["UnsafePickleError", "safe_pickle"]
