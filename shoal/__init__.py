"""shoal: parallel computing for NumPy, pandas and plain Python.

Collections build lazy task graphs; any scheduler runs them unchanged.

>>> import shoal
>>> from operator import add
>>> shoal.delayed(add)(1, 2).compute()
3
"""

from . import config
from .base import compute, get, is_collection, persist, tokenize, visualize
from .collections.delayed import Delayed, delayed

__version__ = "0.1.0"

__all__ = ["compute", "config", "delayed", "Delayed", "get", "is_collection", "persist", "tokenize", "visualize"]
