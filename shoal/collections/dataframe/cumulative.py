"""Cumulative operations carried across partitions: cumsum, cumprod, cummin, cummax.

Each partition is accumulated on its own (in parallel); its total (sum,
product, min or max) is folded into a running *carry*, a chain of small
tasks: ``carry[i + 1] = fold(carry[i], total[i])``. Output partition ``i`` is
the partition's own accumulation adjusted by ``carry[i]`` (added, multiplied,
or used as a floor/ceiling). Missing values stay missing where they are and
are skipped by the carry, as pandas does with ``skipna=True``; with
``skipna=False`` a missing value makes its own and every later row missing,
so a NaN total is carried on and blanks the partitions after it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...taskgraph.core import Ref, Task
from .expr import SameRowsExpr
from .meta import make_meta, meta_nonempty

__all__ = ["Cumulative", "CUMULATIVE_TOTALS"]

#: cumulative method -> the reduction that summarises one partition
CUMULATIVE_TOTALS = {"cumsum": "sum", "cumprod": "prod", "cummax": "max", "cummin": "min"}


def _total(part, method, skipna=True):
    if len(part) == 0:
        return None
    return getattr(part, CUMULATIVE_TOTALS[method])(skipna=skipna)


def _fold(carry, total, method, skipna=True):
    if total is None:
        return carry
    if carry is None:
        return total
    stacked = pd.DataFrame([carry, total]) if isinstance(total, pd.Series) else pd.Series([carry, total])
    return getattr(stacked, CUMULATIVE_TOTALS[method])(skipna=skipna)


def _adjust_one(accumulated: pd.Series, carry, method: str, skipna: bool = True) -> pd.Series:
    if carry is None:
        return accumulated
    if pd.isna(carry):
        # skipna=False: a missing value earlier in the data blanks every row after it
        return accumulated if skipna else accumulated.where(np.zeros(len(accumulated), dtype=bool))
    dtype = accumulated.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        carry = dtype.type(carry)  # totals of mixed frames come back as float; keep integer columns integer
    if method == "cumsum":
        return accumulated + carry
    if method == "cumprod":
        return accumulated * carry
    if method == "cummax":
        return accumulated.clip(lower=carry)
    return accumulated.clip(upper=carry)


def _adjust(part, carry, method, skipna=True):
    accumulated = getattr(part, method)(skipna=skipna)
    if carry is None or len(part) == 0:
        return accumulated
    if isinstance(part, pd.DataFrame):
        out = accumulated.copy()
        for i, column in enumerate(accumulated.columns):
            out.isetitem(i, _adjust_one(accumulated.iloc[:, i], carry.iloc[i], method, skipna))
        return out
    return _adjust_one(accumulated, carry, method, skipna)


class Cumulative(SameRowsExpr):
    """``frame.<method>(skipna=...)`` over the whole collection, in partition order."""

    _parameters = ["frame", "method", "skipna"]
    _defaults = {"skipna": True}

    def _compute_meta(self):
        return make_meta(getattr(meta_nonempty(self.frame._meta), self.method)(skipna=self.skipna))

    def _layer(self):
        name, method = self._name, self.method
        layer = {}
        carry = None
        for i in range(self.frame.npartitions):
            part = Ref(self.frame._key(i))
            carry_ref = Ref(carry) if carry is not None else None
            layer[self._key(i)] = Task(self._key(i), _adjust, part, carry_ref, method, self.skipna)
            total = (f"{name}-total", i)
            layer[total] = Task(total, _total, part, method, self.skipna)
            new_carry = (f"{name}-carry", i)
            layer[new_carry] = Task(new_carry, _fold, carry_ref, Ref(total), method, self.skipna)
            carry = new_carry
        return layer

    def _explain_args(self):
        return {"method": self.method} if self.skipna else {"method": self.method, "skipna": False}
