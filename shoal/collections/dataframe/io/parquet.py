"""``read_parquet`` and ``to_parquet`` with pyarrow.

Reading: the files (a file, a directory, a glob or a list) are opened as one
``pyarrow.dataset`` with hive partitioning (``key=value`` directories become
categorical columns, as in ``pandas.read_parquet``). Partition ``i`` is one
file, or one row group with ``split_row_groups=True``. ``filters=`` (pandas'
DNF list of ``(column, op, value)`` tuples) prunes hive directories whose
values cannot match and row groups whose min/max statistics cannot match,
before any task runs; the rows of the surviving pieces are filtered exactly.
``columns=`` and the optimizer's projection pushdown make each task read
only the column chunks it needs (``ReadParquet.columns_``).
"""

from __future__ import annotations

import datetime
import os
from typing import Any

import pandas as pd

from ....taskgraph.core import Task
from ..core import DataFrame, _Collection, new_collection
from ..expr import FrameExpr
from ..meta import make_meta
from ..sources import _narrow_reader_columns
from .csv import expand_paths

__all__ = ["read_parquet", "to_parquet", "ReadParquet"]


def _dataset(paths: tuple):
    import pyarrow.dataset as ds

    partitioning = ds.HivePartitioning.discover(infer_dictionary=True)
    source = list(paths) if len(paths) > 1 else paths[0]
    if len(paths) == 1 and os.path.isdir(paths[0]):
        return ds.dataset(source, format="parquet", partitioning=partitioning)
    return ds.dataset(source, format="parquet", partitioning=partitioning,
                      partition_base_dir=os.path.commonpath([os.path.dirname(p) for p in paths]) if len(paths) > 1 else None)


def _filter_expression(filters):
    if not filters:
        return None
    import pyarrow.parquet as pq

    return pq.filters_to_expression(filters)


def _index_columns(schema) -> list[str]:
    meta = schema.pandas_metadata or {}
    return [c for c in meta.get("index_columns", []) if isinstance(c, str)]


def _piece_bounds(piece, column: str):
    """``(min, max)`` of ``column`` over the piece's row groups, from their statistics; None if unknown."""
    metadata = piece.metadata
    groups = [rg.id for rg in piece.row_groups] if piece.row_groups is not None else range(metadata.num_row_groups)
    low = high = None
    for g in groups:
        group = metadata.row_group(g)
        stats = None
        for c in range(group.num_columns):
            if group.column(c).path_in_schema == column:
                stats = group.column(c).statistics
        if stats is None or not stats.has_min_max or stats.null_count:
            return None
        lo, hi = stats.min, stats.max
        if not isinstance(lo, (int, float, str, datetime.datetime)) or isinstance(lo, bool):
            return None  # other types (decimals, dates, bytes): left unknown
        low = lo if low is None else min(low, lo)
        high = hi if high is None else max(high, hi)
    return None if low is None else (low, high)


def _as_index_value(value, dtype):
    """A statistics value as the index holds it: timestamps get the index's time zone; None if impossible."""
    if isinstance(value, datetime.datetime):
        if not pd.api.types.is_datetime64_any_dtype(dtype):
            return None
        stamp = pd.Timestamp(value)
        tz = getattr(dtype, "tz", None)
        if tz is None:
            return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp
        return stamp.tz_localize("UTC").tz_convert(tz) if stamp.tzinfo is None else stamp.tz_convert(tz)
    return value


def _with_partition_categories(meta: pd.DataFrame, dataset) -> pd.DataFrame:
    """The meta with hive partition columns categorical over the values found in the directory names."""
    partitioning = getattr(dataset, "partitioning", None)
    dictionaries = getattr(partitioning, "dictionaries", None) if partitioning is not None else None
    if not dictionaries:
        return meta
    for name, values in zip(partitioning.schema.names, dictionaries):
        if values is not None and name in meta.columns:
            meta[name] = meta[name].astype(pd.CategoricalDtype(values.to_pylist()))
    return meta


def _read_fragment(fragment, schema, columns, filter_expr):
    """One partition: the fragment's columns (plus index columns), rows filtered, as pandas."""
    table = fragment.to_table(schema=schema, columns=columns, filter=filter_expr)
    return table.to_pandas()


def _read_piece(fragment, schema, columns, filters, order, meta):
    filter_expr = _filter_expression(filters)
    frame = _read_fragment(fragment, schema, columns, filter_expr)
    if order is not None:
        frame = frame[list(order)]
    if len(frame) == 0 and len(frame.columns) == len(meta.columns):
        frame = frame.astype(meta.dtypes.to_dict()) if not frame.dtypes.equals(meta.dtypes) else frame
    return frame


class ReadParquet(FrameExpr):
    """Pieces (files or row groups) of a parquet dataset; ``columns_`` narrows what is read.

    ``filters`` (the user's) decide which pieces exist, so they shape the
    partitions. ``pushed_filters`` (added by predicate pushdown) never change
    the partitions, which other branches of the plan may be aligned with:
    they only skip row groups inside each piece (a piece left with none
    becomes an empty partition without reading anything).
    """

    _parameters = ["paths", "columns_", "filters", "split_row_groups", "pushed_filters"]
    _defaults = {"columns_": None, "filters": None, "split_row_groups": False, "pushed_filters": None}
    _is_blockwise = True

    # ----------------------------------------------------------- dataset facts (cached)
    def _facts(self):
        cached = self.__dict__.get("_cached_facts")
        if cached is None:
            dataset = _dataset(self.paths)
            schema = dataset.schema
            expr = _filter_expression(self.filters)
            pieces = []
            for fragment in dataset.get_fragments(filter=expr):
                if expr is not None:
                    fragment = fragment.subset(filter=expr, schema=schema)
                    if fragment.num_row_groups == 0:
                        continue
                if self.split_row_groups:
                    pieces.extend(fragment.split_by_row_group(schema=schema))
                else:
                    pieces.append(fragment)
            full_meta = _with_partition_categories(make_meta(schema.empty_table().to_pandas()), dataset)
            cached = (schema, pieces, full_meta)
            self.__dict__["_cached_facts"] = cached
        return cached

    @property
    def pieces(self) -> list:
        return self._facts()[1]

    def _compute_meta(self):
        meta = self._facts()[2]
        if self.columns_ is not None:
            meta = meta[list(self.columns_)]
        return meta

    def _compute_divisions(self):
        unknown = (None,) * (max(len(self.pieces), 1) + 1)
        schema, pieces, meta = self._facts()
        index_columns = _index_columns(schema)
        if len(index_columns) != 1 or not pieces:
            return unknown
        return self.divisions_of(index_columns[0], meta.index.dtype) or unknown

    def divisions_of(self, column: str, dtype) -> tuple | None:
        """Divisions for ``column`` as an index, from the pieces' statistics; None unless the pieces hold
        sorted, non-overlapping ranges of it."""
        pieces = self.pieces
        if not pieces:
            return None
        bounds = [_piece_bounds(piece, column) for piece in pieces]
        if any(b is None for b in bounds):
            return None
        bounds = [(_as_index_value(lo, dtype), _as_index_value(hi, dtype)) for lo, hi in bounds]
        if any(lo is None or hi is None for lo, hi in bounds):
            return None
        # known only when the pieces are sorted and no label spans two of them (partitions are left-closed)
        if any(not lo <= hi for lo, hi in bounds) or any(
                not bounds[i][1] < bounds[i + 1][0] for i in range(len(bounds) - 1)):
            return None
        return tuple(lo for lo, _ in bounds) + (bounds[-1][1],)

    def _with_filters(self, terms: list) -> "ReadParquet | None":
        """This reader also applying the ``(column, op, value)`` conjuncts; None if it already does."""
        names = set(self._facts()[0].names)
        terms = [t for t in terms if t[0] in names]
        current = self.pushed_filters or []
        merged = current + [t for t in terms if t not in current]
        if merged == current:
            return None
        return self.replace(pushed_filters=merged)

    def _all_filters(self) -> list | None:
        """The user's filters (DNF) and-ed with the pushed conjuncts."""
        if not self.pushed_filters:
            return self.filters
        return [conj + list(self.pushed_filters) for conj in (self.filters or [[]])]

    def _known_row_count(self) -> int | None:
        """Rows of the dataset from the parquet footers alone (None when filters make it depend on data)."""
        if self.filters or self.pushed_filters:
            return None
        total = 0
        for piece in self.pieces:
            metadata = piece.metadata
            groups = piece.row_groups
            if groups is not None and len(groups) != metadata.num_row_groups:
                total += sum(rg.num_rows for rg in groups)
            else:
                total += metadata.num_rows
        return total

    def _read_columns(self) -> list | None:
        if self.columns_ is None:
            return None
        schema = self._facts()[0]
        return list(self.columns_) + [c for c in _index_columns(schema) if c not in self.columns_]

    def _task(self, index):
        from ....taskgraph.core import DataNode

        schema, pieces, _ = self._facts()
        if not pieces:
            return DataNode(self._key(index), self._meta)
        piece = pieces[index]
        if self.pushed_filters:
            kept = piece.subset(filter=_filter_expression(self._all_filters()), schema=schema)
            if kept.num_row_groups == 0:  # statistics rule out every row group: read nothing
                return DataNode(self._key(index), self._meta)
            # Reading only some row groups of a piece would renumber a RangeIndex kept as metadata
            # (and so change how the rows align with other branches): only a piece whose index is
            # stored as columns may drop row groups.
            if _index_columns(schema) and kept.num_row_groups < piece.num_row_groups:
                piece = kept
        # Rows are filtered by the user's filters only; the pushed ones are applied exactly by the Filter above.
        return Task(self._key(index), _read_piece, piece, schema, self._read_columns(), self.filters,
                    self.columns_, self._meta)

    def _explain_args(self):
        shown = {"files": len(self.paths)}
        if self.columns_ is not None:
            shown["columns"] = list(self.columns_)
        if self.filters:
            shown["filters"] = self.filters
        if self.pushed_filters:
            shown["pushed_filters"] = self.pushed_filters
        return shown

    def _simplify_up(self, parent, dependents):
        from ..predicates import push_filter_into_reader

        narrowed = _narrow_reader_columns(self, parent, dependents, "columns_")
        if narrowed is not None:
            return narrowed
        return push_filter_into_reader(self, parent, dependents)


def read_parquet(path, columns: list | str | None = None, filters: list | None = None,
                 split_row_groups: bool = False, index: Any = None, calculate_divisions: bool | None = None):
    """Read parquet files (a file, a directory, a glob or a list) into a DataFrame.

    ``columns=`` reads only those columns (a single name gives a Series);
    ``filters=`` keeps rows matching pandas' DNF filters and skips files,
    hive directories and row groups whose statistics rule them out.
    ``index=`` names a column to index by; its divisions come from the
    statistics when the files hold sorted, non-overlapping ranges of it (as
    they do for an index written by ``to_parquet``), else they are unknown.
    ``calculate_divisions`` is accepted for Dask's signature: divisions are
    always read from the statistics, which costs only the footers.
    """
    if index not in (None, False):
        return _read_parquet_indexed(path, columns, filters, split_row_groups, index)
    if isinstance(path, (str, os.PathLike)) and os.path.isdir(os.fspath(path)):
        paths = [os.fspath(path)]  # a dataset directory: pyarrow finds the files and hive partitions
    else:
        paths = expand_paths(path, "read_parquet")
    filters = _normalize_filters(filters)
    schema_names = list(_dataset(tuple(paths)).schema.names)
    for conjunction in filters or []:
        for term in conjunction:
            if len(term) != 3:
                raise ValueError(f"read_parquet: each filter is (column, op, value); got {term!r}")
            if term[0] not in schema_names:
                raise KeyError(
                    f"read_parquet: the filter {term!r} names column {term[0]!r}, which the dataset does not "
                    f"have; the available columns are "
                    f"{[n for n in schema_names if not n.startswith('__index_level_')]}"
                )
    expr = ReadParquet(tuple(paths), None, filters, split_row_groups)
    available = list(expr._meta.columns)
    if columns is not None:
        wanted = [columns] if isinstance(columns, str) else list(columns)
        missing = [c for c in wanted if c not in available]
        if missing:
            raise KeyError(f"read_parquet: column(s) {missing} not found; the available columns are {available}")
        frame = new_collection(ReadParquet(tuple(paths), wanted, expr.filters, split_row_groups))
        return frame[columns] if isinstance(columns, str) else frame
    return new_collection(expr)


def _read_parquet_indexed(path, columns, filters, split_row_groups, index):
    """``read_parquet(..., index=column)``: the column made the index, sorted in every partition."""
    from ..sort import SetIndexPartitions

    if isinstance(index, (list, tuple)):
        if len(index) != 1:
            raise NotImplementedError("read_parquet: index= takes one column (a MultiIndex is not supported)")
        index = index[0]
    wanted = None if columns is None else [columns] if isinstance(columns, str) else list(columns)
    frame = read_parquet(path, None if wanted is None else wanted + [index], filters, split_row_groups)
    if index not in frame.columns:
        raise KeyError(f"read_parquet: index={index!r} is not a column; the available columns are "
                       f"{list(read_parquet(path, None, filters, split_row_groups).columns)}")
    reader = frame._expr if isinstance(frame._expr, ReadParquet) else None
    divisions = reader.divisions_of(index, frame._meta[index].dtype) if reader is not None else None
    if divisions is None:  # ranges overlap or statistics are missing: indexed per partition, divisions unknown
        indexed = frame.map_partitions(_index_by, index, clear_divisions=True)
    else:
        indexed = new_collection(SetIndexPartitions(frame._expr, index, True, divisions, False))
    return indexed[columns] if isinstance(columns, str) else indexed


def _index_by(part, column):
    return part.set_index(column)


def _normalize_filters(filters):
    if not filters:
        return None
    if isinstance(filters[0], tuple):
        filters = [filters]
    return [[tuple(term) for term in conj] for conj in filters]


# ---------------------------------------------------------------------- writing


def _write_parquet_partition(part, path, index, partition_on, number, kwargs):
    """Write one partition; returns ``(file name, its footer metadata or None)``."""
    if index is None:
        # Store the index labels as a column even for a RangeIndex: kept only as metadata, each file's
        # range is lost when the files are read as one dataset (every piece would restart at 0).
        index = True
    if partition_on:
        part.to_parquet(path, partition_cols=list(partition_on), index=index,
                        basename_template=f"part.{number}.{{i}}.parquet", **kwargs)
        return (path, None)
    import pyarrow as pa
    import pyarrow.parquet as pq

    name = f"part.{number}.parquet"
    table = pa.Table.from_pandas(part, preserve_index=index)
    collector: list = []
    pq.write_table(table, os.path.join(path, name), metadata_collector=collector, **kwargs)
    metadata = collector[0] if collector else None
    if metadata is not None:
        metadata.set_file_path(name)
    return (os.path.join(path, name), metadata)


def _finish_dataset(path, write_metadata_file, *written):
    """Write ``_common_metadata`` (the schema) and ``_metadata`` (every footer), as Dask and Spark do."""
    import pyarrow.parquet as pq

    footers = [m for _, m in written if m is not None]
    if write_metadata_file and footers:
        pq.write_metadata(footers[0].schema.to_arrow_schema(), os.path.join(path, "_common_metadata"))
        combined = footers[0]
        for other in footers[1:]:
            combined.append_row_groups(other)
        combined.write_metadata_file(os.path.join(path, "_metadata"))
    return [name for name, _ in written]


def _part_files(path: str) -> list[str]:
    if not os.path.isdir(path):
        return []
    return sorted(f for f in os.listdir(path) if f.startswith("part.") and f.endswith(".parquet"))


def to_parquet(df, path, partition_on: list | str | None = None, write_index: bool | None = None,
               overwrite: bool = False, append: bool = False, write_metadata_file: bool = True,
               compute: bool = True, scheduler=None, **kwargs):
    """Write one parquet file per partition into the directory ``path`` (``part.<i>.parquet``).

    ``partition_on=`` writes hive directories ``column=value/`` instead.
    ``overwrite=True`` empties ``path`` first; ``append=True`` adds files
    numbered after the ones already there. Without ``partition_on``, the
    ``_common_metadata`` and ``_metadata`` files pandas, pyarrow and Dask
    read are written too (``write_metadata_file=False`` skips them).
    The index is written as a column (also a RangeIndex) unless
    ``write_index=False``, so ``read_parquet`` gives back the same labels.
    Returns the files written.
    """
    if overwrite and append:
        raise ValueError("to_parquet: overwrite=True and append=True contradict each other; choose one")
    import shutil

    from ...delayed import Delayed
    from ..fusion import fused_graph
    from ....taskgraph.core import Ref

    if isinstance(df, _Collection) and not isinstance(df, DataFrame):
        df = df.to_frame()
    path = os.fspath(path)
    if overwrite and os.path.exists(path):
        shutil.rmtree(path)
    os.makedirs(path, exist_ok=True)
    if isinstance(partition_on, str):
        partition_on = [partition_on]
    if partition_on:
        missing = [c for c in partition_on if c not in df.columns]
        if missing:
            raise KeyError(f"to_parquet: partition_on column(s) {missing} not found; the columns are "
                           f"{list(df.columns)}")
    first = 0
    if append:
        numbers = [int(f.split(".")[1]) for f in _part_files(path)]
        first = max(numbers) + 1 if numbers else 0
    elif _part_files(path) and not partition_on:
        raise FileExistsError(
            f"to_parquet: {path!r} already holds part files; pass overwrite=True to replace them or "
            "append=True to add to them"
        )
    plan = df._plan()
    graph = fused_graph(plan)
    name = "to-parquet-" + plan._name.rsplit("-", 1)[-1]
    keys = []
    for i in range(plan.npartitions):
        key = (name, i)
        graph[key] = Task(key, _write_parquet_partition, Ref(plan._key(i)), path, write_index,
                          tuple(partition_on) if partition_on else None, first + i, kwargs)
        keys.append(key)
    final = (name + "-done", 0)
    # Appending: the footers of the earlier files are not at hand, so the summary files would be partial.
    summary = write_metadata_file and not partition_on and not append
    if append:
        for stale in ("_metadata", "_common_metadata"):
            if os.path.exists(os.path.join(path, stale)):
                os.remove(os.path.join(path, stale))
    graph[final] = Task(final, _finish_dataset, path, summary, *[Ref(k) for k in keys])
    result = Delayed(final, None, graph=graph)
    return result.compute(scheduler=scheduler) if compute else result
