"""Per-group cumulative operations carried across partitions: ``groupby(...).cumsum()``, ``cumprod()``,
``cummax()``, ``cummin()``, ``cumcount()``.

Like ``cumulative.py``, but the carry is per group: partition ``i``'s own
per-group running values are combined with ``carry[i]``, the per-group totals
(sums, products, maxima, minima, or row counts for ``cumcount``) of all
earlier partitions, which a chain of small tasks accumulates. Rows keep their
partitions and order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...taskgraph.core import Ref, Task
from .expr import SameRowsExpr
from .meta import make_meta, meta_nonempty

__all__ = ["GroupbyCumulative"]


def _grouped(part, by, dropna):
    return part.groupby(by, sort=False, dropna=dropna, observed=True)


def _local(part, by, columns, method, dropna):
    grouped = _grouped(part, by, dropna)
    if method == "cumcount":
        return grouped.cumcount()
    return getattr(grouped[columns], method)()


#: cumulative method -> how a partition's groups are summarised and the summaries merged
_TOTALS = {"cumcount": "sum", "cumsum": "sum", "cumprod": "prod", "cummax": "max", "cummin": "min"}


def _totals(part, by, columns, method, dropna):
    grouped = _grouped(part, by, dropna)
    if method == "cumcount":
        return grouped.size()
    return getattr(grouped[columns], _TOTALS[method])()


def _fold(carry, totals, method="cumsum"):
    if carry is None:
        return totals
    merged = pd.concat([carry, totals])
    grouped = merged.groupby(level=list(range(merged.index.nlevels)), sort=False, observed=True)
    return getattr(grouped, _TOTALS[method])()


def _combine(local: pd.Series, offsets, method: str) -> pd.Series:
    """A column's running values combined with the earlier partitions' totals of each row's group."""
    shift = pd.Series(offsets, index=local.index)
    if method in ("cumsum", "cumcount"):
        combined = local + shift.fillna(0)
    elif method == "cumprod":
        combined = local * shift.fillna(1)
    else:  # a missing value stays missing; a group not seen before (NaN offset) keeps its own values
        better = np.fmax if method == "cummax" else np.fmin
        combined = local.where(local.isna(), better(local, shift))
    return combined.astype(local.dtype, errors="ignore").rename(local.name)


def _row_keys(part, by):
    if len(by) == 1:
        return pd.Index(part[by[0]])
    return pd.MultiIndex.from_frame(part[by])


def _adjust(part, carry, by, columns, method, dropna):
    local = _local(part, by, columns, method, dropna)
    if carry is None or len(part) == 0:
        return local
    keys = _row_keys(part, by)
    offsets = carry.reindex(keys)
    if isinstance(local, pd.DataFrame):
        out = local.copy()
        for i, column in enumerate(local.columns):
            shift = offsets.iloc[:, i].to_numpy() if isinstance(offsets, pd.DataFrame) else offsets.to_numpy()
            out.isetitem(i, _combine(local.iloc[:, i], shift, method))
        return out
    return _combine(local, offsets.to_numpy(), method)


class GroupbyCumulative(SameRowsExpr):
    """``frame.groupby(by)[columns].<method>()`` over the whole collection, in partition order."""

    _parameters = ["frame", "by", "columns_", "method", "dropna"]

    def _compute_meta(self):
        return make_meta(_local(meta_nonempty(self.frame._meta), list(self.by), self.columns_, self.method,
                                self.dropna))

    def _layer(self):
        by, cols, method, dropna = list(self.by), self.columns_, self.method, self.dropna
        layer, carry = {}, None
        for i in range(self.frame.npartitions):
            part = Ref(self.frame._key(i))
            carry_ref = Ref(carry) if carry is not None else None
            layer[self._key(i)] = Task(self._key(i), _adjust, part, carry_ref, by, cols, method, dropna)
            totals = (f"{self._name}-totals", i)
            layer[totals] = Task(totals, _totals, part, by, cols, method, dropna)
            new_carry = (f"{self._name}-carry", i)
            layer[new_carry] = Task(new_carry, _fold, carry_ref, Ref(totals), method)
            carry = new_carry
        return layer

    def _explain_args(self):
        return {"by": list(self.by), "method": self.method}
