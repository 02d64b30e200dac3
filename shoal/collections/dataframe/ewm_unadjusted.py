"""``ewm(..., adjust=False).mean()`` carried across partitions.

pandas' unadjusted mean is a recurrence: with decay ``b = 1 - alpha``, the
first non-null value starts it (``w = x``); a later non-null ``x`` that
comes ``d`` rows after the previous one gives ``w = (C * w + a * x) / (C +
a)`` with ``C = b**d`` and ``a = alpha`` (``a = 1 - C`` when the center of
mass is exactly 1, pandas' irregular-interval update); a null row leaves
``w`` as it is (``ignore_na=False``: it still counts as a step in ``d``;
``ignore_na=True``: it does not, ``d`` is always 1).

After a partition's first non-null value every step is affine in ``w`` with
coefficients that depend on the partition alone, so the partition is
computed on its own by pandas (``standalone``, which starts from its first
value ``x_f``) together with its *sensitivity* ``P`` (pandas' recurrence run
on 1 at that first value and 0 at the others: how much of the starting
value survives at each row). A value ``w_in`` carried in from earlier
partitions makes the first value's result ``w_f = (C * w_in + a * x_f) /
(C + a)`` instead of ``x_f``, and every later row
``standalone + P * (w_f - x_f)``; rows before it show ``w_in``. A chain of
small tasks (``carry_chain``) carries ``(w, rows since the last value,
values seen)`` per column from partition to partition.

>>> import pandas as pd, shoal.dataframe as dd
>>> s = pd.Series([1.0, None, 2.0, 4.0, None, None, 6.0])
>>> got = dd.from_pandas(s, npartitions=3).ewm(alpha=0.4, adjust=False).mean().compute(scheduler="sync")
>>> bool((got - s.ewm(alpha=0.4, adjust=False).mean()).abs().max() < 1e-12)
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .carry_chain import carried_layer
from .expr import SameRowsExpr

__all__ = ["UnadjustedEWMMean"]


def _local(part, alpha, ignore_na=False):
    """The partition on its own: pandas' result, the sensitivity to a carried value, and per column where its
    first and last values are."""
    values = part.astype("float64")
    frame = values.to_frame() if isinstance(values, pd.Series) else values
    present = frame.notna()
    seen = present.cumsum()
    first = present & (seen == 1)
    n, columns = len(frame), frame.shape[1]
    standalone = frame.ewm(alpha=alpha, adjust=False, ignore_na=ignore_na).mean()
    sensitivity = first.astype("float64").where(present).ewm(alpha=alpha, adjust=False, ignore_na=ignore_na).mean()
    has = present.any().to_numpy() if n else np.zeros(columns, dtype=bool)
    positions = np.arange(n)[:, None]
    first_at = np.where(first.to_numpy(), positions, n).min(axis=0) if n else np.zeros(columns, dtype=int)
    last_at = np.where(present.to_numpy(), positions, -1).max(axis=0) if n else np.full(columns, -1)
    first_value = frame.to_numpy()[np.minimum(first_at, max(n - 1, 0)), np.arange(columns)] if n else \
        np.full(columns, np.nan)
    # the steps from the last value carried in to this first one, past those carried rows: null rows count unless
    # ignore_na, when the first value is always one step on
    steps_in = np.ones(columns) if ignore_na else first_at + 1.0
    return {"standalone": standalone, "sensitivity": sensitivity, "seen": seen, "n": n, "has": has,
            "first_at": first_at, "trailing": n - 1 - last_at, "first_value": first_value, "steps_in": steps_in,
            "ignore_na": ignore_na}


def _start(previous, local, alpha, com_is_one):
    """The carried ``(w, rows since the last value, values seen)``, and the first value's result with it."""
    columns = len(local["has"])
    w_in, gap, count = previous if previous is not None else (np.full(columns, np.nan), np.zeros(columns),
                                                              np.zeros(columns))
    decay = (1 - alpha) ** (local["steps_in"] + (0 if local["ignore_na"] else gap))
    # pandas weighs the new value 1 - decay instead of alpha when com == 1 (its irregular-interval update)
    new = (1 - decay) if com_is_one else alpha
    with np.errstate(invalid="ignore"):
        w_first = (decay * w_in + new * local["first_value"]) / (decay + new)
    # nothing carried (no value yet): the partition's own first value starts the recurrence
    shift = np.where(np.isnan(w_in) | ~local["has"], 0.0, w_first - local["first_value"])
    return w_in, gap, count, shift


def _carry(previous, local, alpha, com_is_one):
    """``(w, rows since the last value, values seen)`` after this partition."""
    w_in, gap, count, shift = _start(previous, local, alpha, com_is_one)
    n = local["n"]
    if n == 0:
        return w_in, gap, count
    w_last = local["standalone"].iloc[-1].to_numpy() + np.nan_to_num(local["sensitivity"].iloc[-1].to_numpy()) * shift
    w_end = np.where(local["has"], w_last, w_in)
    gap_end = np.where(local["has"], local["trailing"], gap + n)
    return w_end, gap_end, count + local["seen"].iloc[-1].to_numpy()


def _finish(local, previous, alpha, com_is_one, min_periods, series):
    w_in, _, count, shift = _start(previous, local, alpha, com_is_one)
    standalone = local["standalone"]
    adjusted = standalone + local["sensitivity"] * shift
    before_first = np.arange(local["n"])[:, None] < local["first_at"]
    result = adjusted.mask(before_first, pd.DataFrame(np.broadcast_to(w_in, standalone.shape),
                                                      index=standalone.index, columns=standalone.columns))
    result = result.where(local["seen"] + count >= max(min_periods, 1))
    if series is not None:  # (name,) of a Series, which was computed as a one-column frame
        return result.iloc[:, 0].rename(series[0])
    return result


class UnadjustedEWMMean(SameRowsExpr):
    """``ewm(alpha, adjust=False).mean()`` of every row (see the module docstring)."""

    _parameters = ["frame", "alpha", "com_is_one", "min_periods", "meta", "ignore_na"]
    _defaults = {"ignore_na": False}

    def _compute_meta(self):
        return self.meta

    def _layer(self):
        series = (self.meta.name,) if isinstance(self.meta, pd.Series) else None
        return carried_layer(self, _local, (self.alpha, self.ignore_na), _carry, (self.alpha, self.com_is_one),
                             _finish, (self.alpha, self.com_is_one, self.min_periods, series))

    def _explain_args(self):
        return {"alpha": self.alpha, "adjust": False, "ignore_na": self.ignore_na}
