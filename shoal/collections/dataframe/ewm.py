"""``ewm(...)`` with ``adjust=True``: ``mean``, ``sum``, ``var`` and ``std``, carried across partitions.

With decay ``b = 1 - alpha``, pandas weighs the non-null ``x_i`` seen by row
``t`` by ``w_i = b**s_i``, ``s_i`` the steps since ``x_i``: rows
(``ignore_na=False``: nulls still count) or non-null values
(``ignore_na=True``). Its adjusted sum is ``N_t = sum(w_i * x_i)``, its mean
``N_t / D_t`` with ``D_t = sum(w_i)``, its variance the weighted one,
``M2_t / D_t`` with ``M2_t = sum(w_i * (x_i - mean_t)**2)``, times
``D_t**2 / (D_t**2 - D2_t)`` (``D2_t = sum(w_i**2)``) unless ``bias=True``.
With ``adjust=False`` and ``ignore_na=True`` (``var``/``std``) the weights
are ``alpha * b**s_i`` except the column's very first value's, ``b**s_i``.

Each partition computes its own ``N``, ``D``, mean, biased variance and
``D2`` with pandas (``ewm().sum()`` of the values and of the non-null
indicator, ``ewm().mean()``, ``ewm().var(bias=True)``);
the totals of all earlier partitions reach row ``j`` of partition ``k``
decayed by ``b**steps`` (its rows, or its values, up to ``j``), carried
along a chain of one-row tasks (``carry_chain``). The variances of two sets
combine as in Chan et al.'s parallel variance, so no sum of squares cancels.

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

from .carry_chain import carried_layer
from .expr import SameRowsExpr

__all__ = ["EWM"]


def _numeric(part):
    return part.astype("float64")


def _as_table(part) -> pd.DataFrame:
    values = _numeric(part)
    return values.to_frame() if isinstance(values, pd.Series) else values


def _local(part, alpha, ignore_na, kept, adjust=True):
    """``((totals, rows), (index, labels, is_series))``: the partition's own totals per row and column (2-d
    arrays) and what its output is labelled with (the column labels, or a Series' name)."""
    frame = _as_table(part)
    labels = (part.index, part.name, True) if isinstance(part, pd.Series) else (part.index, part.columns, False)
    present = frame.notna()
    ones = present.astype("float64").where(present)  # null where the value is, so ignore_na applies alike
    options = {"alpha": alpha, "adjust": True, "ignore_na": ignore_na}
    n = len(frame)
    # pandas' ewm().sum() leaves NaN before the first value; those sums are 0
    totals = {"N": frame.ewm(**options).sum().fillna(0.0).to_numpy(),
              "D": ones.ewm(**options).sum().fillna(0.0).to_numpy(),
              "count": present.cumsum().to_numpy(dtype="float64")}
    totals["steps"] = totals["count"] if ignore_na else np.broadcast_to(
        np.arange(1, n + 1, dtype="float64")[:, None], totals["N"].shape)
    if kept in ("mean", "var"):
        # the mean (and biased variance) as pandas keeps them: unchanged on null rows even when every weight
        # has decayed to 0 (alpha=1), where N / D and M2 / D are not defined
        totals["mean"] = frame.ewm(**options).mean().to_numpy()
    if kept == "var":
        totals["var"] = frame.ewm(**options).var(bias=True).to_numpy()
        squared = {**options, "alpha": 1 - (1 - alpha) ** 2}  # the weights squared decay by b**2 per step
        totals["D2"] = ones.ewm(**squared).sum().fillna(0.0).to_numpy()
        if not adjust:
            totals.update(_unadjusted_weights(frame, present, ones, totals, alpha, ignore_na))
    return (totals, n), labels


def _unadjusted_weights(frame, present, ones, totals, alpha, ignore_na) -> dict:
    """The totals with ``adjust=False``'s weights: ``alpha * b**s`` for every value but the very first of the
    column, which keeps ``b**s``. Two views: for a partition after that first value (every weight scaled by
    alpha: the same mean and variance), and ``"first"``, for the partition that holds it."""
    options = {"alpha": alpha, "adjust": True, "ignore_na": ignore_na}
    squared = {**options, "alpha": 1 - (1 - alpha) ** 2}
    # 1 at the partition's first value of each column, 0 at its other values (null where the values are, so the
    # steps are counted as for the values themselves)
    first = (present & (present.cumsum() == 1)).astype("float64").where(present)
    own_first = first.ewm(**options).sum().fillna(0.0).to_numpy()  # b**s of that value
    own_first_2 = first.ewm(**squared).sum().fillna(0.0).to_numpy()
    first_value = np.nanmax(frame.where(first == 1).to_numpy(), axis=0, initial=-np.inf)
    weights = alpha * totals["D"] + (1 - alpha) * own_first
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (alpha * totals["N"] + (1 - alpha) * own_first * first_value) / weights
    kept_mean = frame.ewm(alpha=alpha, adjust=False, ignore_na=ignore_na).mean().to_numpy()
    return {
        "first": {"D": weights, "D2": alpha ** 2 * (totals["D2"] - own_first_2) + own_first_2,
                  "mean": np.where(weights > 0, mean, kept_mean),
                  "var": frame.ewm(alpha=alpha, adjust=False, ignore_na=ignore_na).var(bias=True).to_numpy()},
        "D": alpha * totals["D"], "D2": alpha ** 2 * totals["D2"],
    }


def _resolved(local: dict, previous: dict | None) -> dict:
    """``local``'s totals with ``adjust=False``'s view chosen per column: ``"first"`` where no earlier partition
    holds a value."""
    if "first" not in local:
        return local
    first = local["first"]
    starts = np.ones(first["D"].shape[-1], dtype=bool) if previous is None else previous["count"] == 0
    chosen = {key: value for key, value in local.items() if key != "first"}
    for key, value in first.items():
        chosen[key] = np.where(starts, value, local[key])
    return chosen


def _with_earlier(previous: dict | None, local: dict, alpha) -> dict:
    """``local``'s totals (rows of 2-d arrays) with those of every earlier partition, decayed to each row."""
    local = _resolved(local, previous)
    if previous is None:
        return local
    decay = (1 - alpha) ** local["steps"]
    earlier_weight = previous["D"] * decay
    out = {"D": earlier_weight + local["D"], "N": previous["N"] * decay + local["N"],
           "count": previous["count"] + local["count"]}
    if "mean" in local:
        own_weight, weight = local["D"], out["D"]
        own_only = (previous["count"] == 0) | ((weight == 0) & (local["count"] > 0))
        earlier_only = local["count"] == 0

        def chosen(key, both):
            return np.where(earlier_only, previous[key], np.where(own_only, local[key], both))

        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (earlier_weight * previous["mean"] + own_weight * local["mean"]) / weight
            if "var" in local:  # two weighted sets combined as in Chan et al.'s parallel variance (nothing cancels)
                var = (earlier_weight * previous["var"] + own_weight * local["var"]
                       + earlier_weight * own_weight / weight * (previous["mean"] - local["mean"]) ** 2) / weight
                out["var"] = chosen("var", var)
                out["D2"] = previous["D2"] * decay ** 2 + local["D2"]
        out["mean"] = chosen("mean", mean)
    return out


def _carry(previous, local, alpha):
    """The totals at the end of everything up to and including this partition (1-d arrays)."""
    (totals, n), _ = local
    if n == 0:
        return previous
    last = {key: value[-1] for key, value in _resolved(totals, previous).items()}
    return {key: value[0] for key, value in _with_earlier(previous, {k: v[None] for k, v in last.items()},
                                                          alpha).items()}


def _finish(local, previous, alpha, min_periods, method, bias):
    (totals, _), (index, labels, is_series) = local
    totals = _with_earlier(previous, totals, alpha)
    weights, count = totals["D"], totals["count"]
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "sum":
            values = totals["N"]
        elif method == "mean":
            values = totals["mean"]
        else:
            values = totals["var"]
            if not bias:
                spare = weights ** 2 - totals["D2"]
                values = np.where((spare > 0) & (count >= 2), values * weights ** 2 / spare, np.nan)
            if method == "std":
                values = np.sqrt(values)
    values = np.where(count >= max(min_periods, 1), values, np.nan)
    if is_series:
        return pd.Series(values[:, 0], index=index, name=labels)
    return pd.DataFrame(values, index=index, columns=labels)


class EWMMean(SameRowsExpr):
    """``mean``, ``sum``, ``var`` or ``std`` (``method``) of every row (see the module docstring)."""

    _parameters = ["frame", "alpha", "min_periods", "meta", "method", "ignore_na", "bias", "adjust"]
    _defaults = {"method": "mean", "ignore_na": False, "bias": False, "adjust": True}

    def _compute_meta(self):
        return self.meta

    def _layer(self):
        kept = {"sum": None, "mean": "mean"}.get(self.method, "var")  # what the partitions keep besides sums
        return carried_layer(self, _local, (self.alpha, self.ignore_na, kept, self.adjust), _carry, (self.alpha,),
                             _finish, (self.alpha, self.min_periods, self.method, self.bias))

    def _explain_args(self):
        return {"alpha": self.alpha, "method": self.method, "ignore_na": self.ignore_na, "adjust": self.adjust}


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
    """``frame.ewm(...)``: ``mean()``, ``sum()``, ``var()`` and ``std()``; with ``adjust=False`` ``mean()``
    (``ewm_unadjusted.py``) and, with ``ignore_na=True``, ``var()``/``std()``. ``ignore_na=True`` counts only
    non-null values as steps, as pandas."""

    def __init__(self, frame, com=None, span=None, halflife=None, alpha=None, min_periods=0, adjust=True,
                 ignore_na=False):
        self._frame, self._adjust, self._ignore_na = frame, bool(adjust), bool(ignore_na)
        self._alpha = _alpha(com, span, halflife, alpha)
        self._com_is_one = _center_of_mass(com, span, halflife, alpha) == 1
        if not 0 < self._alpha <= 1:
            raise ValueError(f"ewm: alpha must be in (0, 1], got {self._alpha}")
        self._min_periods = int(min_periods or 0)

    def mean(self):
        return self._aggregate("mean")

    def sum(self):
        return self._aggregate("sum")

    def var(self, bias: bool = False):
        """Exponentially weighted variance (unbiased unless ``bias=True``), as pandas."""
        return self._aggregate("var", bias)

    def std(self, bias: bool = False):
        """Square root of ``var(bias=...)``."""
        return self._aggregate("std", bias)

    def _aggregate(self, method, bias=False):
        from .core import new_collection
        from .ewm_unadjusted import UnadjustedEWMMean
        from .meta import make_meta, meta_nonempty

        if not self._adjust and method == "sum":
            raise NotImplementedError("ewm(adjust=False): mean(), var() and std() are supported, not sum(); use "
                                      "ewm(adjust=True).sum() (pandas' default)")
        if not self._adjust and method != "mean" and not self._ignore_na:
            # pandas renormalizes its weights after every null row then: no fixed weights to carry
            raise NotImplementedError(
                f"ewm(adjust=False).{method}() is supported with ignore_na=True only; on data without missing values "
                "pass ignore_na=True (the same result), else use adjust=True"
            )
        fake = _numeric(meta_nonempty(self._frame._meta)).ewm(alpha=self._alpha)
        meta = make_meta(getattr(fake, method)(bias=bias) if method in ("var", "std") else getattr(fake, method)())
        if not self._adjust and method == "mean":
            return new_collection(UnadjustedEWMMean(self._frame._expr, self._alpha, self._com_is_one,
                                                    self._min_periods, meta, self._ignore_na))
        return new_collection(EWMMean(self._frame._expr, self._alpha, self._min_periods, meta, method,
                                      self._ignore_na, bool(bias), self._adjust))
