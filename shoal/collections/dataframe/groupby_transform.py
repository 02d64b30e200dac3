"""Per-group cumulative operations carried across partitions: ``groupby(...).cumsum()``, ``cumcount()``.

Like ``cumulative.py``, but the carry is per group: partition ``i``'s own
per-group running values are shifted by ``carry[i]``, the per-group totals
(sums, or row counts for ``cumcount``) of all earlier partitions, which a
chain of small tasks accumulates. Rows keep their partitions and order.
"""

from __future__ import annotations

import pandas as pd

from ...taskgraph.core import Ref, Task
from .expr import FrameExpr
from .meta import make_meta, meta_nonempty

__all__ = ["GroupbyCumulative"]


def _grouped(part, by, dropna):
    return part.groupby(by, sort=False, dropna=dropna, observed=True)


def _local(part, by, columns, method, dropna):
    grouped = _grouped(part, by, dropna)
    if method == "cumcount":
        return grouped.cumcount()
    return grouped[columns].cumsum()


def _totals(part, by, columns, method, dropna):
    grouped = _grouped(part, by, dropna)
    if method == "cumcount":
        return grouped.size()
    return grouped[columns].sum()


def _fold(carry, totals):
    if carry is None:
        return totals
    merged = pd.concat([carry, totals])
    return merged.groupby(level=list(range(merged.index.nlevels)), sort=False, observed=True).sum()


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
            shift = pd.Series(shift, index=local.index).fillna(0)
            out.isetitem(i, (local.iloc[:, i] + shift).astype(local.iloc[:, i].dtype, errors="ignore"))
        return out
    shift = pd.Series(offsets.to_numpy(), index=local.index).fillna(0)
    return (local + shift).astype(local.dtype, errors="ignore").rename(local.name)


class GroupbyCumulative(FrameExpr):
    """``frame.groupby(by)[columns].<method>()`` over the whole collection, in partition order."""

    _parameters = ["frame", "by", "columns_", "method", "dropna"]

    def _compute_meta(self):
        return make_meta(_local(meta_nonempty(self.frame._meta), list(self.by), self.columns_, self.method,
                                self.dropna))

    def _compute_divisions(self):
        return self.frame.divisions

    @property
    def _origin(self):
        return self.frame._origin

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
            layer[new_carry] = Task(new_carry, _fold, carry_ref, Ref(totals))
            carry = new_carry
        return layer

    def _explain_args(self):
        return {"by": list(self.by), "method": self.method}
