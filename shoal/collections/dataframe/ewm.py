"""``ewm(...).mean()`` and ``.sum()`` (``adjust=True``) carried across partitions.

With decay ``b = 1 - alpha``, pandas' adjusted mean at row ``t`` is
``N_t / D_t`` where ``N_t = sum(b**(t-i) * x_i)`` and ``D_t = sum(b**(t-i))``
over the non-null ``x_i`` with ``i <= t`` (nulls still count as steps); the
adjusted sum is ``N_t``. Each partition computes its own ``N`` and ``D``
with pandas (``ewm().sum()`` of the values and of the non-null indicator); the totals of all earlier
partitions reach row ``j`` of partition ``k`` decayed by ``b**(j + 1)``,
carried along a chain of one-row tasks.

>>> import pandas as pd, shoal.dataframe as dd
>>> s = pd.Series([1.0, 2.0, None, 4.0, 5.0, 6.0])
>>> got = dd.from_pandas(s, npartitions=3).ewm(alpha=0.5).mean().compute(scheduler="sync")
>>> bool((got - s.ewm(alpha=0.5).mean()).abs().max() < 1e-12)
True
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ...taskgraph.core import Ref, Task
from .expr import SameRowsExpr

__all__ = ["EWM"]


def _numeric(part):
    return part.astype("float64")


def _local(part, alpha):
    values = _numeric(part)
    present = values.notna().astype("float64")
    weighted = values.ewm(alpha=alpha, adjust=True, ignore_na=False).sum()
    weights = present.ewm(alpha=alpha, adjust=True, ignore_na=False).sum()
    # pandas' ewm().sum() leaves NaN before the first value; those sums are 0
    return weighted.fillna(0.0), weights, present.cumsum(), len(part)


def _carry(previous, local, alpha):
    """Totals (N, D, count) at the end of everything up to and including this partition."""
    weighted, weights, counts, n = local
    decay = (1 - alpha) ** n
    last = (lambda frame: frame.iloc[-1].to_numpy() if isinstance(frame, pd.DataFrame) else frame.iloc[-1]) if n else None
    if previous is None:
        if n == 0:
            return None
        return last(weighted), last(weights), last(counts)
    if n == 0:
        return previous
    return (last(weighted) + decay * previous[0], last(weights) + decay * previous[1], last(counts) + previous[2])


def _finish(local, previous, alpha, min_periods, method="mean"):
    weighted, weights, counts, n = local
    if previous is not None and n:
        decay = (1 - alpha) ** np.arange(1, n + 1)
        if isinstance(weighted, pd.DataFrame):
            decay = decay[:, None]
        weighted = weighted + decay * previous[0]
        weights = weights + decay * previous[1]
        counts = counts + previous[2]
    result = weighted if method == "sum" else weighted / weights.where(weights > 0)
    return result.where(counts >= max(min_periods, 1))


class EWMMean(SameRowsExpr):
    """``mean`` (``N / D``) or, with ``method="sum"``, pandas' adjusted ``sum`` (``N``) of every row."""

    _parameters = ["frame", "alpha", "min_periods", "meta", "method"]
    _defaults = {"method": "mean"}

    def _compute_meta(self):
        return self.meta

    def _layer(self):
        name, n = self._name, self.frame.npartitions
        layer, carries = {}, [None] * n
        for i in range(n):
            key = (f"{name}-local", i)
            layer[key] = Task(key, _local, Ref(self.frame._key(i)), self.alpha)
        for i in range(1, n):
            key = (f"{name}-carry", i)
            layer[key] = Task(key, _carry, Ref(carries[i - 1]) if carries[i - 1] else None,
                              Ref((f"{name}-local", i - 1)), self.alpha)
            carries[i] = key
        for i in range(n):
            layer[self._key(i)] = Task(self._key(i), _finish, Ref((f"{name}-local", i)),
                                       Ref(carries[i]) if carries[i] else None, self.alpha, self.min_periods,
                                       self.method)
        return layer

    def _explain_args(self):
        return {"alpha": self.alpha, "method": self.method}


def _alpha(com, span, halflife, alpha) -> float:
    given = [name for name, value in (("com", com), ("span", span), ("halflife", halflife), ("alpha", alpha))
             if value is not None]
    if len(given) != 1:
        raise ValueError(f"ewm: give exactly one of com, span, halflife or alpha (got {given or 'none'})")
    if com is not None:
        return 1.0 / (1.0 + com)
    if span is not None:
        return 2.0 / (span + 1.0)
    if halflife is not None:
        return 1.0 - math.exp(math.log(0.5) / halflife)
    return float(alpha)


def _center_of_mass(com, span, halflife, alpha) -> float:
    """The center of mass as pandas computes it from the parameter given (its unadjusted mean treats com == 1
    specially, so it must be the same number)."""
    if com is not None:
        return float(com)
    if span is not None:
        return (span - 1) / 2.0
    if halflife is not None:
        return 1 / (1 - math.exp(math.log(0.5) / halflife)) - 1
    return (1 - alpha) / alpha


class EWM:
    """``frame.ewm(...)``: ``mean()`` and ``sum()`` (``ignore_na=False``, pandas' default); with ``adjust=False``
    ``mean()`` only (``ewm_unadjusted.py``)."""

    def __init__(self, frame, com=None, span=None, halflife=None, alpha=None, min_periods=0, adjust=True,
                 ignore_na=False):
        if ignore_na:
            raise NotImplementedError("ewm: only ignore_na=False (pandas' default) is supported")
        self._frame, self._adjust = frame, bool(adjust)
        self._alpha = _alpha(com, span, halflife, alpha)
        self._com_is_one = _center_of_mass(com, span, halflife, alpha) == 1
        if not 0 < self._alpha <= 1:
            raise ValueError(f"ewm: alpha must be in (0, 1], got {self._alpha}")
        self._min_periods = int(min_periods or 0)

    def mean(self):
        return self._aggregate("mean")

    def sum(self):
        if not self._adjust:
            raise NotImplementedError("ewm(adjust=False): only mean() is supported")
        return self._aggregate("sum")

    def _aggregate(self, method):
        from .core import new_collection
        from .ewm_unadjusted import UnadjustedEWMMean
        from .meta import make_meta, meta_nonempty

        meta = make_meta(getattr(_numeric(meta_nonempty(self._frame._meta)).ewm(alpha=self._alpha), method)())
        if not self._adjust:
            return new_collection(UnadjustedEWMMean(self._frame._expr, self._alpha, self._com_is_one,
                                                    self._min_periods, meta))
        return new_collection(EWMMean(self._frame._expr, self._alpha, self._min_periods, meta, method))
