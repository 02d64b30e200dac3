"""``merge`` and ``join``: three ways to bring matching rows together, cheapest first.

1. **aligned** — both sides are already placed so that matching keys sit in
   the same partition number: an index join of frames with known divisions
   (after moving both to the union of their divisions, which reads only
   neighbouring partitions), or frames hash-partitioned on the join keys the
   same way (a previous shuffle or merge). Partition ``i`` is merged with
   partition ``i``: no shuffle.
2. **broadcast** — one side is small: one partition, an estimated size
   under the config value ``dataframe.broadcast-bytes`` (known for frames
   made from pandas objects or persisted), or ``broadcast=True``. The small
   side is concatenated once and merged with every partition of the other.
   Only the side whose unmatched rows are dropped can be broadcast (the
   right one for ``left``/``leftsemi``/``leftanti``/``left_anti``, the left
   one for ``right``/``right_anti``, either for ``inner``; never for ``outer``).
3. **hash** — both sides are hash-shuffled on their keys (cast to one dtype
   first when the two key dtypes differ, so ``1`` and ``1.0`` meet) into the
   same number of partitions, then merged partition by partition. The
   result remembers it is hash-partitioned on the left keys, so a following
   merge or shuffle on them needs no new shuffle.

4. **hash+skew** (``skew=True`` or the config value ``dataframe.merge.skew``;
   ``inner``/``left`` joins on one column): a sample of the left keys is
   computed first; keys holding more than ``1/npartitions`` of the rows are
   *heavy*. Their left rows are spread over all partitions and the right
   rows with those keys are gathered once and added to every partition, so
   no output partition holds a whole heavy key (Spark's adaptive skew join).
   Heavy keys on the right of an ``inner``/``right`` join are handled the
   same way with the sides swapped (the columns are put back in order).
   Off by default, as the sample reads the side once more (``merge_skew.py``).

``how="cross"`` (every row with every row) always broadcasts the smaller
side. ``explain()`` shows the strategy and why it was chosen. Columns and
filters taken from the result are pushed into the sides (``merge_pushdown.py``).
``leftsemi`` keeps the rows of the left side whose key appears on the right
(left columns only, each row once); ``leftanti`` those whose key does not. Null
keys match each other, as in pandas.

>>> import pandas as pd, shoal.dataframe as dd
>>> a = dd.from_pandas(pd.DataFrame({"k": [1, 2, 3], "x": [10, 20, 30]}), npartitions=2)
>>> b = dd.from_pandas(pd.DataFrame({"k": [3, 1], "y": ["c", "a"]}), npartitions=1)
>>> a.merge(b, on="k").compute(scheduler="sync").sort_values("k").values.tolist()
[[1, 10, 'a'], [3, 30, 'c']]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ... import config
from ...taskgraph.core import Ref, Task
from .expr import FrameExpr, HashLayout, label_with_reason
from .merge_pushdown import pushed_below_merge
from .merge_validate import check_unique_keys, join_keys as _keys_of, normalised_validate as _normalised_validate
from .merge_validate import unique_sides
from .meta import make_meta, meta_nonempty
from .parts import _concat
from .repartition import RepartitionToDivisions
from .shuffle import INDEX_KEY, hashed_dtypes, shuffle_expr
from .sources import FromPandas, FromValues

__all__ = ["merge", "join", "HOWS", "BlockwiseMerge", "BroadcastMerge"]

config.update_defaults({"dataframe": {"broadcast-bytes": 32 * 2**20, "merge": {"skew": False}}})

#: ``left_anti``/``right_anti`` are pandas' (3.0) anti joins, which keep the other side's columns (all null);
#: ``cross`` pairs every row with every row (always by broadcasting one side)
HOWS = ("inner", "left", "right", "outer", "leftsemi", "leftanti", "left_anti", "right_anti", "cross")


# ------------------------------------------------------------------ the per-partition merge


def merge_partitions(left, right, how, left_on, right_on, left_index, right_index, suffixes, indicator,
                     validate=None):
    """One partition of the result: pandas' merge, or a semi/anti filter of ``left``."""
    if validate is not None:
        check_unique_keys(left, right, validate, left_on, right_on, left_index, right_index)
    if how in ("leftsemi", "leftanti"):
        found = _keys_of(left, left_on, left_index)
        wanted = _keys_of(right, right_on, right_index)
        mask = np.asarray(found.isin(wanted))
        return left[mask if how == "leftsemi" else ~mask]
    if how == "cross":
        return pd.merge(left, right, how="cross", suffixes=suffixes, indicator=indicator)
    return pd.merge(
        left, right, how=how, left_on=None if left_index else list(left_on), right_on=None if right_index else list(right_on),
        left_index=left_index, right_index=right_index, suffixes=suffixes, indicator=indicator,
    )


class _MergeSpec:
    """What is merged and how, shared by the strategies (pickles by value into tasks)."""

    def __init__(self, how, left_on, right_on, left_index, right_index, suffixes, indicator, validate=None):
        self.args = (how, tuple(left_on), tuple(right_on), left_index, right_index, tuple(suffixes), indicator,
                     validate)

    def __call__(self, left, right):
        return merge_partitions(left, right, *self.args)


def _merge_args(expr) -> tuple:
    return (expr.how, tuple(expr.left_on), tuple(expr.right_on), expr.left_index, expr.right_index,
            tuple(expr.suffixes), expr.indicator, expr.validate)


def _merged_meta(expr) -> pd.DataFrame:
    left, right = meta_nonempty(expr.left._meta), meta_nonempty(expr.right._meta)
    # the fake rows may repeat a key: nothing is validated on them
    return make_meta(merge_partitions(left, right, *_merge_args(expr)[:-1], None))


_MERGE_PARAMETERS = ["left", "right", "how", "left_on", "right_on", "left_index", "right_index", "suffixes",
                     "indicator", "validate"]


class MergeNode(FrameExpr):
    """What the node of every merge strategy shares: operands ``_MERGE_PARAMETERS`` and ``why`` (the reason the
    strategy was chosen) and a ``strategy`` (operand or class attribute); the merged meta, ``explain``'s view of
    the keys with that reason, and projections and filters pushed into the sides (``merge_pushdown``)."""

    def _compute_meta(self):
        return _merged_meta(self)

    def _explain_args(self):
        shown = {"how": self.how}
        if self.left_index:
            shown["left"] = "index"
        else:
            shown["left_on"] = list(self.left_on)
        if self.right_index:
            shown["right"] = "index"
        else:
            shown["right_on"] = list(self.right_on)
        shown["strategy"] = self.strategy
        return shown

    def _explain_reason(self):
        return self.why

    _label = label_with_reason

    def _simplify_up(self, parent, dependents):
        return pushed_below_merge(self, parent, dependents)


class BlockwiseMerge(MergeNode):
    """Partition ``i`` of ``left`` merged with partition ``i`` of ``right`` (placed alike beforehand)."""

    _parameters = _MERGE_PARAMETERS + ["strategy", "why", "keeps_index"]
    _is_blockwise = True

    def _compute_divisions(self):
        if self.keeps_index:
            return self.left.divisions
        return (None,) * (self.left.npartitions + 1)

    @property
    def _origin(self):
        return self.left._origin if self.keeps_index else self._name

    @property
    def _hashed_on(self):
        layout = self.left._hashed_on
        if layout is None or self.how not in ("inner", "left", "leftsemi", "leftanti"):
            return None
        meta = self._meta
        if layout.on == (INDEX_KEY,):
            return layout if (self.left_index and self.right_index) else None
        if not set(layout.on) <= set(meta.columns):
            return None
        if hashed_dtypes(meta, layout.on) != layout.dtypes:
            return None
        return layout

    def _task(self, index):
        return Task(self._key(index), merge_partitions, Ref(self.left._key(index)), Ref(self.right._key(index)),
                    *_merge_args(self))


def _concat_small(meta, *parts):
    found = [p for p in parts if len(p)]
    return _concat(found) if found else meta


def _broadcast_merge(large, small, small_is_left, args):
    if small_is_left:
        return merge_partitions(small, large, *args)
    return merge_partitions(large, small, *args)


class BroadcastMerge(MergeNode):
    """Every partition of the large side merged with the whole small side (gathered once)."""

    _parameters = _MERGE_PARAMETERS + ["small_is_left", "why"]

    strategy = "broadcast"

    @property
    def _large(self):
        return self.right if self.small_is_left else self.left

    @property
    def _small(self):
        return self.left if self.small_is_left else self.right

    @property
    def npartitions(self):
        return self._large.npartitions

    def _compute_divisions(self):
        # only the large side's unmatched rows are kept, so each output partition's index is within its input's
        large = self._large
        if self.how in ("leftsemi", "leftanti") or (self.left_index and self.right_index):
            return large.divisions
        return (None,) * (large.npartitions + 1)

    @property
    def _origin(self):
        return self._large._origin if self.how in ("leftsemi", "leftanti") else self._name

    def _layer(self):
        small, large = self._small, self._large
        gathered = (f"{self._name}-small", 0)
        layer = {gathered: Task(gathered, _concat_small, small._meta,
                                *[Ref(small._key(i)) for i in range(small.npartitions)])}
        args = _merge_args(self)
        for i in range(large.npartitions):
            layer[self._key(i)] = Task(self._key(i), _broadcast_merge, Ref(large._key(i)), Ref(gathered),
                                       self.small_is_left, args)
        return layer

    def _explain_args(self):
        shown = super()._explain_args()
        shown["small"] = "left" if self.small_is_left else "right"
        return shown


# ------------------------------------------------------------------ choosing a strategy


def estimate_bytes(expr: FrameExpr) -> int | None:
    """An upper bound of ``expr``'s size in memory when the plan knows it (frames from pandas, persisted frames)."""
    node = expr
    for _ in range(10_000):  # bounded walk down through row-keeping blockwise nodes
        if isinstance(node, FromPandas):
            frame = node.frame
            if node.columns_ is not None:
                frame = frame[list(node.columns_)]
            return int(np.sum(frame.memory_usage(deep=False, index=True)))
        if isinstance(node, FromValues):
            return int(sum(np.sum(v.memory_usage(deep=False)) for v in node.values if hasattr(v, "memory_usage")))
        frames = node._frame_inputs()
        if not (node._is_blockwise and len(frames) == 1):
            return None
        node = frames[0]
    return None


def _key_hash_dtypes(left_meta, right_meta, left_on, right_on, left_index, right_index):
    """Per-side casts (or None) so equal keys of different dtypes hash alike; also checks the dtypes can meet."""
    lt = [left_meta.index.dtype] if left_index else [left_meta[c].dtype for c in left_on]
    rt = [right_meta.index.dtype] if right_index else [right_meta[c].dtype for c in right_on]
    if len(lt) != len(rt):
        raise ValueError(f"merge: {len(lt)} left key(s) but {len(rt)} right key(s); give as many on both sides")
    casts = []
    for a, b in zip(lt, rt):
        # categoricals match by value: decide on their categories' dtype
        a_values = a.categories.dtype if isinstance(a, pd.CategoricalDtype) else a
        b_values = b.categories.dtype if isinstance(b, pd.CategoricalDtype) else b
        if a == b:
            casts.append(None)
        elif a_values.kind in "iufb" and b_values.kind in "iufb":
            casts.append("float64")
        elif a_values.kind in "mM" or b_values.kind in "mM":
            casts.append(None if str(a) == str(b) else _common_time_dtype(a_values, b_values))
        else:
            casts.append("object")
    if all(c is None for c in casts):
        return None, None
    return tuple(casts), tuple(casts)


_TIME_UNITS = ("s", "ms", "us", "ns")


def _common_time_dtype(a, b) -> str:
    """The finer of two datetime (or timedelta) dtypes of the same kind and zone, which both cast to exactly, as
    they hash their integer counts (a microsecond count is not the nanosecond count of the same instant); else
    ``'object'``."""
    if a.kind != b.kind or getattr(a, "tz", None) != getattr(b, "tz", None):
        return "object"
    units = [np.datetime_data(getattr(d, "base", d))[0] if not hasattr(d, "unit") else d.unit for d in (a, b)]
    if not all(u in _TIME_UNITS for u in units):
        return "object"
    unit = max(units, key=_TIME_UNITS.index)
    if a.kind == "m":
        return f"timedelta64[{unit}]"
    tz = getattr(a, "tz", None)
    return f"datetime64[{unit}, {tz}]" if tz is not None else f"datetime64[{unit}]"


def _check_keys(frame, keys, side: str, left, right):
    missing = [k for k in keys if k not in frame.columns]
    if missing:
        raise KeyError(
            f"merge: column{'s' if len(missing) > 1 else ''} {missing if len(missing) > 1 else repr(missing[0])} "
            f"not found on the {side} side; the left columns are {list(left.columns)} and the right columns are "
            f"{list(right.columns)}"
        )


def _as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _as_collection(frame):
    """pandas objects become one-partition collections, as a shoal frame merged with a pandas one is common."""
    from .io.pandas import from_pandas

    if isinstance(frame, (pd.DataFrame, pd.Series)):
        return from_pandas(frame, npartitions=1)
    return frame


def _names_the_index(frame, keys) -> bool:
    """``keys`` is the single name of ``frame``'s index (and no column): pandas merges on the index level then."""
    return len(keys) == 1 and isinstance(keys[0], str) and keys[0] not in frame.columns and (
        frame._meta.index.name == keys[0])


def _reset_index(part):
    return part.reset_index()


def merge(left, right, how: str = "inner", on=None, left_on=None, right_on=None, left_index: bool = False,
          right_index: bool = False, suffixes=("_x", "_y"), indicator: bool | str = False,
          npartitions: int | None = None, shuffle_method: str | None = None, broadcast: bool | None = None,
          skew: bool | None = None, validate: str | None = None, sort: bool = False):
    """Database-style join of two frames; see the module docstring for how the rows are brought together.

    ``validate=`` ("one_to_one"/"1:1", "one_to_many"/"1:m", "many_to_one"/"m:1", "many_to_many"/"m:m") checks,
    when the result is computed, that the keys of the side(s) it names are unique, raising pandas'
    ``MergeError`` naming the side otherwise; a side that must be unique is never the partitioned side of a
    broadcast join, nor split by the skew join. ``sort=True`` sorts the result on the join keys (nulls last), as
    pandas does, through ``sort_values`` (``sort_index`` for an index join), which samples the keys when the
    plan is built.
    """
    keys, result = _merge(left, right, how, on, left_on, right_on, left_index, right_index, suffixes, indicator,
                          npartitions, shuffle_method, broadcast, skew, _normalised_validate(validate))
    if not sort or keys is None:
        return result
    from .merge_sorted import sorted_on_join_keys

    return sorted_on_join_keys(result, how, *keys)


def _merge(left, right, how, on, left_on, right_on, left_index, right_index, suffixes, indicator, npartitions,
           shuffle_method, broadcast, skew, validate):
    """``(keys, joined)``: the join keys as resolved (``(left_on, right_on, left_index, right_index)``, None for a
    cross join) and the joined collection."""
    from .core import _Frame, new_collection
    from .frames import DataFrame, Series

    left, right = _as_collection(left), _as_collection(right)
    if isinstance(right, Series):
        right = right.to_frame()
    if isinstance(left, Series):
        left = left.to_frame()
    if not isinstance(left, DataFrame) or not isinstance(right, DataFrame):
        raise TypeError(f"merge: both sides must be shoal DataFrames or Series, got {type(left).__name__} and "
                        f"{type(right).__name__} (convert pandas objects with from_pandas)")
    if how not in HOWS:
        raise ValueError(f"merge: how={how!r} is not supported; choose one of {list(HOWS)}")
    if how == "cross":
        if on is not None or left_on is not None or right_on is not None or left_index or right_index:
            raise ValueError("merge: how='cross' pairs every row with every row; give no on=, left_on=, right_on=, "
                             "left_index= or right_index=")
        # pandas ignores validate= and sort= here
        return None, _cross_merge(left, right, suffixes, indicator, broadcast)
    if on is not None:
        if left_on is not None or right_on is not None:
            raise ValueError("merge: give on= or left_on=/right_on=, not both")
        left_on = right_on = on
    left_on, right_on = _as_list(left_on), _as_list(right_on)
    for side, keys in (("left_on", left_on), ("right_on", right_on)):
        collections = [type(k).__name__ for k in keys if isinstance(k, (_Frame, pd.Series, pd.Index, np.ndarray))]
        if collections:
            raise TypeError(f"merge: {side}= takes column names, got a {collections[0]}; assign it as a column "
                            "first (df.assign(key=...)) and merge on that name")
    if _names_the_index(left, left_on) and _names_the_index(right, right_on):
        left_on, right_on, left_index, right_index = [], [], True, True
    elif _names_the_index(left, left_on):  # the index level becomes a column, as in pandas' result
        left = left.map_partitions(_reset_index, clear_divisions=True)
    elif _names_the_index(right, right_on):
        right = right.map_partitions(_reset_index, clear_divisions=True)
    if not left_on and not left_index and not right_on and not right_index:
        common = [c for c in left.columns if c in set(right.columns)]
        if not common:
            raise ValueError(
                f"merge: no key given and no common column; the left columns are {list(left.columns)} and the "
                f"right columns are {list(right.columns)}"
            )
        left_on = right_on = common
    if left_index and left_on:
        raise ValueError("merge: give left_on= or left_index=True, not both")
    if right_index and right_on:
        raise ValueError("merge: give right_on= or right_index=True, not both")
    if not left_index and not left_on:
        raise ValueError("merge: the left keys are missing: give left_on= or left_index=True")
    if not right_index and not right_on:
        raise ValueError("merge: the right keys are missing: give right_on= or right_index=True")
    _check_keys(left, left_on, "left", left, right)
    _check_keys(right, right_on, "right", left, right)
    if indicator and how in ("leftsemi", "leftanti"):
        raise ValueError(f"merge: indicator=True means nothing for how={how!r} (every row kept is from the left)")
    keys = (tuple(left_on), tuple(right_on), bool(left_index), bool(right_index))  # for sort=True
    l_cast, r_cast = _key_hash_dtypes(left._meta, right._meta, left_on, right_on, left_index, right_index)
    common = (how, tuple(left_on), tuple(right_on), bool(left_index), bool(right_index), tuple(suffixes),
              indicator if isinstance(indicator, str) else bool(indicator),  # a str names the column
              validate)
    lexpr, rexpr = left._expr, right._expr
    try:
        _merged_meta(BlockwiseMerge(lexpr, rexpr, *common, "meta", "", False))
    except (ValueError, TypeError) as error:
        ltypes = {k: str(left._meta.index.dtype if left_index else left._meta[k].dtype) for k in (left_on or ["index"])}
        rtypes = {k: str(right._meta.index.dtype if right_index else right._meta[k].dtype)
                  for k in (right_on or ["index"])}
        raise ValueError(f"merge: the keys cannot be matched: left key dtypes {ltypes}, right key dtypes {rtypes} "
                         f"({error}); cast one side with astype first") from error

    # 1. aligned: index on both sides with known divisions
    if left_index and right_index and left.known_divisions and right.known_divisions:
        if lexpr.partitioning.aligns_with(rexpr.partitioning):
            why = "same divisions on both sides"
        else:
            union = tuple(sorted(set(left.divisions) | set(right.divisions)))
            lexpr = RepartitionToDivisions(lexpr, union) if tuple(left.divisions) != union else lexpr
            rexpr = RepartitionToDivisions(rexpr, union) if tuple(right.divisions) != union else rexpr
            why = "divisions moved to their union"
        return keys, new_collection(BlockwiseMerge(lexpr, rexpr, *common, "aligned", why, True))
    l_keys = (INDEX_KEY,) if left_index else tuple(left_on)
    r_keys = (INDEX_KEY,) if right_index else tuple(right_on)
    l_layout = HashLayout(l_keys, hashed_dtypes(left._meta, l_keys, l_cast), left.npartitions)
    r_layout = HashLayout(r_keys, hashed_dtypes(right._meta, r_keys, r_cast), right.npartitions)
    if lexpr._hashed_on == l_layout and rexpr._hashed_on == r_layout and l_layout.same_placement(r_layout):
        return keys, new_collection(BlockwiseMerge(lexpr, rexpr, *common, "aligned",
                                             "already hash-partitioned alike", False))

    # 2. broadcast
    small = _broadcast_side(left, right, how, broadcast, unique_sides(validate))
    if small is not None:
        side, why = small
        return keys, new_collection(BroadcastMerge(lexpr, rexpr, *common, side == "left", why))
    if broadcast and _broadcast_side(left, right, how, broadcast, ()) is not None:
        raise ValueError(f"merge: broadcast=True cannot be combined with validate={validate!r}: the side that would "
                         "stay partitioned must have unique keys, which only a hash join can check; drop one of them")
    if broadcast:
        raise ValueError(f"merge: broadcast=True is not possible for how={how!r}: the broadcast side's unmatched "
                         "rows would be repeated; drop broadcast=True")

    # 3. hash join: reuse a side's existing placement when it has one
    if npartitions is None:
        if lexpr._hashed_on == l_layout:
            npartitions = left.npartitions
        elif rexpr._hashed_on == r_layout:
            npartitions = right.npartitions
        else:
            npartitions = max(left.npartitions, right.npartitions)
    if skew is None:
        skew = bool(config.get("dataframe.merge.skew", False))
    if skew and not unique_sides(validate):  # a side that must be unique is checked where its keys are hashed
        from .merge_skew import skew_merge  # builds on this module's merge nodes

        joined = skew_merge(lexpr, rexpr, common, l_keys, r_keys, l_cast, r_cast, npartitions, shuffle_method)
        if joined is not None:
            return keys, joined
    lexpr = shuffle_expr(lexpr, l_keys, npartitions, shuffle_method, l_cast)
    rexpr = shuffle_expr(rexpr, r_keys, npartitions, shuffle_method, r_cast)
    return keys, new_collection(BlockwiseMerge(lexpr, rexpr, *common, "hash", "both sides hash-shuffled",
                                         False))


def _cross_merge(left, right, suffixes, indicator, broadcast):
    """Every row of the larger side (by partitions, then estimated bytes) with the whole smaller side."""
    from .core import new_collection

    if broadcast is False:
        raise ValueError("merge: how='cross' needs one side broadcast to every partition of the other; drop "
                         "broadcast=False")
    sizes = {side: (frame.npartitions, estimate_bytes(frame._expr) or 2**62)
             for side, frame in (("left", left), ("right", right))}
    small = "left" if sizes["left"] < sizes["right"] else "right"
    common = ("cross", (), (), False, False, tuple(suffixes), indicator if isinstance(indicator, str) else
              bool(indicator), None)
    return new_collection(BroadcastMerge(left._expr, right._expr, *common, small == "left",
                                         f"cross join: the {small} side is the smaller"))


def _broadcast_side(left, right, how, broadcast, unique=()) -> tuple[str, str] | None:
    """``(side, why)`` when one side should be broadcast, else None; a side in ``unique`` (whose keys must be
    checked unique) is never the partitioned one, as its repeated keys could sit in different partitions."""
    candidates = {"inner": ["right", "left"], "left": ["right"], "leftsemi": ["right"], "leftanti": ["right"],
                  "left_anti": ["right"], "right": ["left"], "right_anti": ["left"], "outer": []}[how]
    candidates = [side for side in candidates if ("left" if side == "right" else "right") not in unique]
    if broadcast is False or not candidates:
        return None
    frames = {"left": left, "right": right}
    if broadcast:
        sizes = {s: estimate_bytes(frames[s]._expr) for s in candidates}
        side = min(candidates, key=lambda s: (frames[s].npartitions, sizes[s] if sizes[s] is not None else 2**62))
        return side, "broadcast=True"
    threshold = int(config.get("dataframe.broadcast-bytes", 32 * 2**20))
    for side in candidates:
        other = frames["left" if side == "right" else "right"]
        if frames[side].npartitions == 1 and other.npartitions > 1:
            return side, f"{side} side has 1 partition"
    best = None
    for side in candidates:
        size = estimate_bytes(frames[side]._expr)
        if size is not None and size <= threshold and (best is None or size < best[1]):
            best = (side, size)
    if best is not None:
        return best[0], f"{best[0]} ~{best[1]:,}B <= broadcast-bytes"
    return None


def join(left, right, on=None, how: str = "left", lsuffix: str = "", rsuffix: str = "", suffixes=None, **kwargs):
    """``left.join(right)``: ``left``'s column(s) ``on`` (or its index) against ``right``'s index; the suffixes
    come as ``lsuffix``/``rsuffix`` or, as pandas 3 prefers, ``suffixes=(left, right)``."""
    from .frames import Series

    right = _as_collection(right)
    if isinstance(right, Series):
        right = right.to_frame()
    if suffixes is not None:
        if lsuffix or rsuffix:
            raise ValueError("join: give suffixes= or lsuffix=/rsuffix=, not both")
        lsuffix, rsuffix = suffixes
    overlap = set(left.columns) & set(right.columns)
    if overlap and not (lsuffix or rsuffix):
        raise ValueError(f"join: columns overlap but no suffix was given: {sorted(overlap, key=str)}; pass "
                         "suffixes=(left, right) (or lsuffix= and/or rsuffix=)")
    if on is None:
        return merge(left, right, how=how, left_index=True, right_index=True, suffixes=(lsuffix, rsuffix), **kwargs)
    return merge(left, right, how=how, left_on=on, right_index=True, suffixes=(lsuffix, rsuffix), **kwargs)
