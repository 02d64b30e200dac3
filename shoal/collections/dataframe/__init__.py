"""shoal.dataframe: pandas DataFrames split into partitions, computed in parallel.

The public API lives in ``shoal/dataframe.py``; modules here:
``meta`` (meta inference), ``expr`` (expression nodes), ``core`` (the
collections), ``reductions``, ``groupby``, ``accessors`` and ``io/``.
"""
