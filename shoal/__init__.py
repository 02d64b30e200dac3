"""shoal: parallel computing for NumPy, pandas and plain Python.

Collections build lazy task graphs; any scheduler runs them unchanged.
"""

__version__ = "0.1.0"
