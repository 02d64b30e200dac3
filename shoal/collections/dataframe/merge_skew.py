"""The skew join (``merge(..., skew=True)``, strategy ``hash+skew``): Spark's adaptive skew join.

A sample of one side's keys is computed first; keys holding more than
``1/npartitions`` of its rows are *heavy*. That side's rows with heavy keys are
spread over all partitions (``SpreadSpec``) instead of hashed to one, and the
other side's rows with those keys are gathered once and added to every
partition, so no output partition holds a whole heavy key. Heavy keys on the
left of an ``inner``/``left`` join are spread directly; heavy keys on the right
of an ``inner``/``right`` join by the mirrored join, its columns put back in
order. ``merge`` (in ``merge.py``) calls ``skew_merge`` only when asked to.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...taskgraph.core import Ref, Task
from .expr import FrameExpr
from .merge import (
    _MERGE_PARAMETERS, BlockwiseMerge, MergeNode, _concat_small, _merge_args, _merged_meta, merge_partitions,
)
from .shuffle import INDEX_KEY, Shuffle, SpreadSpec, shuffle_expr

__all__ = ["SkewMerge", "heavy_keys", "skew_merge"]


def skew_merge(lexpr, rexpr, common, l_keys, r_keys, l_cast, r_cast, npartitions, shuffle_method):
    """The skew join of ``lexpr`` and ``rexpr`` (shuffle-ready plans, ``common`` the merge's arguments), or None
    when the join cannot be one (several keys, the index, ``outer``) or no key is heavy: a plain hash join then."""
    from .core import new_collection

    how, indicator = common[0], common[6]
    if how in ("inner", "left") and len(l_keys) == 1 and l_keys != (INDEX_KEY,) and r_keys != (INDEX_KEY,):
        heavy = heavy_keys(lexpr, l_keys[0], npartitions)
        if heavy:
            spread = SpreadSpec(heavy, npartitions, l_cast[0] if l_cast else None)
            spread_left = Shuffle(lexpr, l_keys, npartitions, shuffle_method, None, spread)
            hashed_right = shuffle_expr(rexpr, r_keys, npartitions, shuffle_method, r_cast)
            why = (f"skew: {len(heavy)} heavy left key(s) ({_first_keys(heavy)}) spread over all partitions, "
                   "their right rows copied")
            return new_collection(SkewMerge(spread_left, hashed_right, *common, rexpr, heavy, why))
    if how in ("inner", "right") and len(r_keys) == 1 and INDEX_KEY not in l_keys + r_keys and not indicator:
        return _mirrored_skew_merge(lexpr, rexpr, common, l_keys, r_keys, l_cast, r_cast, npartitions,
                                    shuffle_method)
    return None


def _first_keys(heavy) -> str:
    """The first three heavy keys, for ``explain`` (a long list would drown the plan)."""
    return ", ".join(repr(h) for h in heavy[:3]) + (", ..." if len(heavy) > 3 else "")


def _heavy_rows(right, key, heavy):
    return right[right[key].isin(list(heavy))]


def _skew_merge(left, right, heavy_right, key, heavy, args):
    light = right[~right[key].isin(list(heavy))]
    pieces = [p for p in (light, heavy_right) if len(p)]
    rows = pd.concat(pieces) if len(pieces) > 1 else (pieces[0] if pieces else right)
    return merge_partitions(left, rows, *args)


class SkewMerge(MergeNode):
    """A hash join whose heavy left keys were spread over every partition; their right rows go to all of them."""

    _parameters = _MERGE_PARAMETERS + ["right_source", "heavy", "why"]
    strategy = "hash+skew"

    def _compute_divisions(self):
        return (None,) * (self.left.npartitions + 1)

    def _layer(self):
        key = self.right_on[0]
        gathered = (f"{self._name}-heavy", 0)
        source = self.right_source
        pieces = []
        layer = {}
        for i in range(source.npartitions):
            piece = (f"{self._name}-heavy-piece", i)
            layer[piece] = Task(piece, _heavy_rows, Ref(source._key(i)), key, self.heavy)
            pieces.append(Ref(piece))
        layer[gathered] = Task(gathered, _concat_small, source._meta, *pieces)
        args = _merge_args(self)
        for i in range(self.left.npartitions):
            layer[self._key(i)] = Task(self._key(i), _skew_merge, Ref(self.left._key(i)), Ref(self.right._key(i)),
                                       Ref(gathered), key, self.heavy, args)
        return layer


def heavy_keys(expr: FrameExpr, column, npartitions: int) -> tuple:
    """Keys of ``column`` whose share of the rows (estimated from a sample of every partition) exceeds one
    partition's worth, ``1 / npartitions``; computes the sample now."""
    from .core import new_collection
    from .blockwise import Projection
    from .reductions import TreeReduce
    from .sort import _key_summary, _merge_summaries

    reduce = TreeReduce(Projection(expr, column), _key_summary, _merge_summaries, _merge_summaries, None, None,
                        (pd.Series([]), np.ones(0)), "key-sample")
    values, weights = new_collection(reduce).compute()
    if len(values) == 0:
        return ()
    shares = pd.Series(weights, index=pd.Index(values)).groupby(level=0).sum() / weights.sum()
    heavy = shares[shares > 1 / npartitions].sort_values(ascending=False)
    return tuple(v.item() if isinstance(v, np.generic) else v for v in heavy.index)


def _mirrored_skew_merge(lexpr, rexpr, common, l_keys, r_keys, l_cast, r_cast, npartitions, shuffle_method):
    """An ``inner``/``right`` join whose heavy keys are on the right: computed as the mirrored ``inner``/``left``
    skew join (right side spread, left rows copied) and its columns put back in order; None when no key is heavy
    or the mirrored join would not name and type the columns alike."""
    from .core import new_collection

    how, left_on, right_on, _, _, suffixes, _, validate = common  # validate: None (merge skips skew otherwise)
    heavy = heavy_keys(rexpr, r_keys[0], npartitions)
    if not heavy:
        return None
    mirrored = ("inner" if how == "inner" else "left", right_on, left_on, False, False, suffixes[::-1], False,
                validate)
    wanted = _merged_meta(BlockwiseMerge(lexpr, rexpr, *common, "meta", "", False))
    found = _merged_meta(BlockwiseMerge(rexpr, lexpr, *mirrored, "meta", "", False))
    if (not wanted.columns.is_unique or set(wanted.columns) != set(found.columns)
            or not found[list(wanted.columns)].dtypes.equals(wanted.dtypes)):
        return None
    spread = SpreadSpec(heavy, npartitions, r_cast[0] if r_cast else None)
    spread_right = Shuffle(rexpr, r_keys, npartitions, shuffle_method, None, spread)
    hashed_left = shuffle_expr(lexpr, l_keys, npartitions, shuffle_method, l_cast)
    why = (f"skew: {len(heavy)} heavy right key(s) ({_first_keys(heavy)}) spread over all partitions, "
           "their left rows copied")
    joined = new_collection(SkewMerge(spread_right, hashed_left, *mirrored, lexpr, heavy, why))
    return joined[list(wanted.columns)]
