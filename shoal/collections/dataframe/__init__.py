"""shoal.dataframe: pandas DataFrames split into partitions, computed in parallel.

The public API lives in ``shoal/dataframe.py``. Modules here, one idea each:

- ``meta``: the empty pandas object ("meta") every expression carries, the
  two-row fake used to infer it, and the compute-time check against it;
- ``expr``: the base of the expression nodes (``FrameExpr``, ``Partitioning``,
  ``HashLayout``); ``sources``: leaves (``FromPandas``, ``FromValues``,
  ``FromDelayed``, ``FromMap``) and readers narrowing their columns;
  ``blockwise``: partition-by-partition nodes and projection pushdown below
  them; ``fusion``: ``Roots`` and blockwise fusion at graph emission;
- ``predicates``: filter comparisons pushed into readers (parquet);
- ``core`` / ``frames`` / ``frame_reductions`` / ``display``: the collections
  (``DataFrame``, ``Series``, ``Index``, ``Scalar``), their reductions and repr;
  ``parts`` (functions on computed partitions), ``subsets`` (``partitions[...]``,
  ``head``'s collapse, ``sample``), ``partitionwise`` (``map_partitions``);
- ``reductions``, ``groupby``, ``groupby_transform``, ``cumulative``,
  ``quantiles``: tree reductions, groupby aggregations, carried cumulative
  operations, approximate quantiles (``describe``: pandas' summary of every column kind;
  ``groupby_spec``: which aggregations split into
  partials; ``groupby_keys``: ``level=``, index names and ``as_index=False``); ``fill``: ``ffill``/``bfill`` carried
  across partitions;
- ``repartition``, ``indexing`` (``loc``/``iloc``), ``accessors`` (``.str``,
  ``.dt``, ``.cat``);
- ``shuffle``: hash (and range) shuffles, staged in memory or spilled to disk,
  and the ``HashLayout`` they leave behind; ``sort`` (``set_index``,
  ``sort_values``), ``sort_index``; ``merge`` (aligned, broadcast, hash and skew
  joins), ``merge_validate`` (``validate=``), ``merge_sorted`` (``sort=True``), ``merge_asof``,
  ``concat``; ``groupby_shuffle`` (``split_out``, ``apply``, ``transform``,
  ``median``); ``rows`` (``drop_duplicates``, ``nlargest``);
  ``windows`` (``shift``, ``diff``, ``rolling``), ``ewm`` (``ewm_unadjusted``:
  ``adjust=False``; ``carry_chain``: the chain of tasks both carry state
  along), ``resample``;
  ``reshape`` (``melt``, ``get_dummies``);
- ``io/``: pandas objects and delayed values, CSV, Parquet, JSON lines, arrays.
"""
