"""``concat``: frames stacked (axis 0) or put side by side (axis 1).

Axis 0: the partitions of every frame, one after the other, each conformed
to the joint meta (missing columns added as nulls, dtypes cast as pandas'
own concatenation would). Divisions stay known when every frame's are and
each frame's index range ends before the next one's starts; with
``interleave_partitions=True``, frames whose known ranges overlap are moved
to the union of their divisions and concatenated range by range (each
output partition reads only the input partitions overlapping its range), so
the result keeps known, sorted divisions. Otherwise the divisions become
unknown.

``keys=`` (or a mapping of frames, as in pandas) labels the rows of each frame
with its key, as a new outermost index level (axis 0; the divisions become
unknown, as they do not describe a MultiIndex) or column level (axis 1),
``names=`` naming the levels: every partition gets its frame's key first.

``ignore_index=True`` numbers the rows ``0, 1, ...`` across partitions, as
pandas does (a chain of row counts gives each partition its first number).

Axis 1: frames partitioned alike (same origin or equal known divisions) are
concatenated partition by partition; frames with different known divisions
are moved to their union first. Unknown, different partitionings are refused.

>>> import pandas as pd, shoal.dataframe as dd
>>> a = dd.from_pandas(pd.DataFrame({"x": [1, 2]}, index=[0, 1]), npartitions=1)
>>> b = dd.from_pandas(pd.DataFrame({"x": [3, 4]}, index=[5, 6]), npartitions=1)
>>> both = dd.concat([a, b])
>>> both.divisions, both.compute(scheduler="sync").x.tolist()
((0, 5, 6), [1, 2, 3, 4])
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ...taskgraph.core import Ref, Task
from .expr import FrameExpr
from .meta import make_meta
from .parts import _unify_categories
from .repartition import RepartitionToDivisions

__all__ = ["concat"]


def _conform(part, meta):
    """``part`` with ``meta``'s columns (nulls where it has none) and dtypes."""
    if isinstance(meta, pd.DataFrame):
        if isinstance(part, pd.Series):  # a Series stacked with frames is one column (0 when unnamed), as in pandas
            part = part.to_frame()
        if list(part.columns) != list(meta.columns):
            part = part.reindex(columns=meta.columns)
        wrong = {c: meta.dtypes[c] for c in meta.columns if part.dtypes[c] != meta.dtypes[c]}
        return part.astype(wrong) if wrong else part
    if part.dtype != meta.dtype:
        part = part.astype(meta.dtype)
    if part.name != meta.name:
        part = part.rename(meta.name)
    return part


class StackPartitions(FrameExpr):
    """The partitions of ``frames`` one after another, conformed to ``meta``."""

    _parameters = ["frames", "meta", "divisions_"]

    def _compute_meta(self):
        return self.meta

    def _compute_divisions(self):
        return self.divisions_

    @property
    def npartitions(self):
        return sum(f.npartitions for f in self.frames)

    def _layer(self):
        layer, i = {}, 0
        for frame in self.frames:
            for p in range(frame.npartitions):
                layer[self._key(i)] = Task(self._key(i), _conform, Ref(frame._key(p)), self.meta)
                i += 1
        return layer

    def _explain_args(self):
        return {"frames": len(self.frames)}


def _stack_ranges(meta, *parts):
    pieces = [_conform(p, meta) for p in parts if len(p)]
    if not pieces:
        return meta
    pieces = _unify_categories(pieces)
    return pd.concat(pieces) if len(pieces) > 1 else pieces[0]


class InterleavePartitions(FrameExpr):
    """Frames moved to the same divisions, concatenated range by range (axis 0)."""

    _parameters = ["frames", "meta"]

    def _compute_meta(self):
        return self.meta

    def _compute_divisions(self):
        return self.frames[0].divisions

    def _task(self, index):
        return Task(self._key(index), _stack_ranges, self.meta, *[Ref(f._key(index)) for f in self.frames])


def _side_by_side(join, *parts):
    return pd.concat(parts, axis=1, join=join)


class SideBySide(FrameExpr):
    """Partition ``i`` of every frame concatenated along the columns (frames partitioned alike)."""

    _parameters = ["frames", "join"]
    _is_blockwise = True

    def _compute_meta(self):
        from .meta import meta_nonempty

        return make_meta(pd.concat([meta_nonempty(f._meta) for f in self.frames], axis=1, join=self.join))

    def _task(self, index):
        return Task(self._key(index), _side_by_side, self.join, *[Ref(f._key(index)) for f in self.frames])


def _union(divisions_list) -> tuple:
    return tuple(sorted(set().union(*[set(d) for d in divisions_list])))


def _row_count(part) -> int:
    return len(part)


def _next_offset(offset: int, count: int) -> int:
    return offset + count


def _renumbered(part, offset: int):
    return part.set_axis(pd.RangeIndex(offset, offset + len(part)))


class RenumberRows(FrameExpr):
    """The rows numbered ``0, 1, ...`` across the partitions in order (``ignore_index=True``): a chain of small
    tasks carries each partition's first number, the count of the rows before it."""

    _parameters = ["frame"]

    def _compute_meta(self):
        return self.frame._meta.set_axis(pd.RangeIndex(0))

    def _compute_divisions(self):
        return (None,) * (self.frame.npartitions + 1)

    @property
    def _origin(self):
        return self._name

    def _layer(self):
        name, layer, offset = self._name, {}, 0
        for i in range(self.frame.npartitions):
            layer[self._key(i)] = Task(self._key(i), _renumbered, Ref(self.frame._key(i)),
                                       Ref(offset) if i else offset)
            count, following = (f"{name}-count", i), (f"{name}-offset", i + 1)
            layer[count] = Task(count, _row_count, Ref(self.frame._key(i)))
            layer[following] = Task(following, _next_offset, Ref(offset) if i else offset, Ref(count))
            offset = following
        return layer


def _numbered_columns(part):
    return part.set_axis(pd.RangeIndex(part.shape[1]), axis=1)


def _with_key(part, key, names, axis):
    """``part`` with ``key`` as its outermost index (axis 0) or column (axis 1) level, as ``pd.concat(keys=)``."""
    return pd.concat([part], keys=[key], names=names, axis=axis)


def _keyed(dfs, keys, names, axis, ignore_index):
    """Every frame of ``dfs`` (a list, or a mapping whose keys are the default ``keys``) labelled with its key."""
    from .merge import _as_collection

    if isinstance(dfs, Mapping):
        if keys is None:
            keys = list(dfs)
        missing = [k for k in keys if k not in dfs]
        if missing:
            raise KeyError(f"concat: keys {missing} are not in the mapping of frames; its keys are {list(dfs)}")
        dfs = [dfs[k] for k in keys]
    if keys is None:
        if names is not None:
            raise ValueError("concat: names= names the levels that keys= adds; give keys= too")
        return list(dfs)
    keys, dfs = list(keys), list(dfs)
    if ignore_index:
        raise ValueError("Cannot set ignore_index=True and specify keys. Either should be used.")
    if len(keys) != len(dfs):
        raise ValueError(f"The length of the keys ({len(keys)}) must match the length of the objects to "
                         f"concatenate ({len(dfs)})")
    if axis not in (0, "index", 1, "columns"):
        raise ValueError(f"concat: axis must be 0 or 1, got {axis!r}")
    along_rows = axis in (0, "index")
    labelled = []
    for key, frame in zip(keys, dfs):
        frame = _as_collection(frame)
        if not hasattr(frame, "map_partitions"):
            raise TypeError(f"concat: every item must be a shoal DataFrame or Series, got {type(frame).__name__} "
                            "(use from_pandas first)")
        # the old divisions bound the old index, not the new MultiIndex: unknown along the rows
        labelled.append(frame.map_partitions(_with_key, key, names, 0 if along_rows else 1,
                                             clear_divisions=along_rows))
    return labelled


def concat(dfs, axis=0, join: str = "outer", interleave_partitions: bool = False, ignore_order: bool = False,
           ignore_index: bool = False, keys=None, names=None):
    """Stack ``dfs`` (axis 0) or put them side by side (axis 1); see the module docstring. ``ignore_index=True``
    numbers the rows ``0, 1, ...`` (axis 0; the divisions become unknown) or the columns (axis 1), as pandas;
    ``keys=`` adds an outermost level labelling each frame's rows (axis 0) or columns (axis 1)."""
    from .core import new_collection

    result = _stack_or_align(_keyed(dfs, keys, names, axis, ignore_index), axis, join, interleave_partitions)
    if not ignore_index:
        return result
    if axis in (1, "columns"):
        return result.map_partitions(_numbered_columns)
    return new_collection(RenumberRows(result._expr))


def _stack_or_align(dfs, axis, join: str, interleave_partitions: bool):
    from .core import _Frame, new_collection
    from .merge import _as_collection

    dfs = [_as_collection(d) for d in dfs]  # pandas objects join in as one-partition frames
    if not dfs:
        raise ValueError("concat: no frames given")
    bad = [type(d).__name__ for d in dfs if not isinstance(d, _Frame)]
    if bad:
        raise TypeError(f"concat: every item must be a shoal DataFrame or Series, got {bad} (use from_pandas first)")
    if join not in ("outer", "inner"):
        raise ValueError(f"concat: join must be 'outer' or 'inner', got {join!r}")
    if len(dfs) == 1:
        return dfs[0]
    exprs = [d._expr for d in dfs]
    if axis in (1, "columns"):
        if all(e.partitioning.aligns_with(exprs[0].partitioning) for e in exprs[1:]):
            return new_collection(SideBySide(tuple(exprs), join))
        if all(d.known_divisions for d in dfs):
            union = _union([d.divisions for d in dfs])
            moved = tuple(e if tuple(e.divisions) == union else RepartitionToDivisions(e, union) for e in exprs)
            return new_collection(SideBySide(moved, join))
        raise ValueError(
            "concat(axis=1): the frames are partitioned differently and their divisions are not all known, so rows "
            "cannot be matched partition by partition; set_index on the same column first, or merge on the index"
        )
    if axis not in (0, "index"):
        raise ValueError(f"concat: axis must be 0 or 1, got {axis!r}")
    meta = make_meta(pd.concat([d._meta for d in dfs], join=join))
    if all(d.known_divisions for d in dfs):
        ordered = all(a.divisions[-1] < b.divisions[0] for a, b in zip(dfs[:-1], dfs[1:]))
        if ordered:
            divisions = sum((tuple(d.divisions[:-1]) for d in dfs), ()) + (dfs[-1].divisions[-1],)
            return new_collection(StackPartitions(tuple(exprs), meta, divisions))
        if interleave_partitions:
            union = _union([d.divisions for d in dfs])
            moved = tuple(e if tuple(e.divisions) == union else RepartitionToDivisions(e, union) for e in exprs)
            return new_collection(InterleavePartitions(moved, meta))
    npartitions = sum(d.npartitions for d in dfs)
    return new_collection(StackPartitions(tuple(exprs), meta, (None,) * (npartitions + 1)))
