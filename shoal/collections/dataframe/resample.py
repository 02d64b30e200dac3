"""``resample`` on a datetime index with known divisions.

The frame is first moved to divisions that fall on bin starts (each inner
division rounded down to the frequency; only neighbouring partitions are
read), so every bin lies in one partition. Each partition is then resampled
by pandas and given every bin of its range, including bins no row falls in
(pandas' full-frame result has them: 0 for ``sum``/``count``/``size``, null
otherwise), so the concatenation equals pandas' result.

>>> import pandas as pd, shoal.dataframe as dd
>>> pdf = pd.DataFrame({"x": range(6)}, index=pd.date_range("2024-01-01", periods=6, freq="25min"))
>>> dd.from_pandas(pdf, npartitions=3).resample("1h").sum().compute(scheduler="sync").x.tolist()
[3, 7, 5]
"""

from __future__ import annotations

import pandas as pd

from ...taskgraph.core import Ref, Task
from .expr import FrameExpr
from .repartition import RepartitionToDivisions

__all__ = ["Resampler"]

_ZERO_WHEN_EMPTY = {"sum", "count", "size", "nunique"}


def _floor(value, rule, origin):
    """The start of the bin ``value`` falls in, bins of ``rule`` counted from ``origin`` (pandas' 'start_day')."""
    step = pd.Timedelta(rule)
    value = pd.Timestamp(value)
    if value.tz is not None and isinstance(pd.tseries.frequencies.to_offset(rule), pd.offsets.Day):
        # calendar days: count on the wall clock, so a day across a DST change still starts at midnight
        wall, start = value.tz_localize(None), origin.tz_localize(None)
        floored = start + ((wall - start) // step) * step
        return floored.tz_localize(value.tz, ambiguous=True, nonexistent="shift_forward")
    return origin + ((value - origin) // step) * step


def _resample_partition(part, rule, method, args, kwargs, low, high, last, origin):
    calendar_days = origin.tz is not None and isinstance(pd.tseries.frequencies.to_offset(rule), pd.offsets.Day)
    # pandas bins tz-aware calendar days by local midnight and ignores origin= for them
    resampler = part.resample(rule) if calendar_days else part.resample(rule, origin=origin)
    result = getattr(resampler, method)(*args, **kwargs)
    end = high if last else high - pd.Timedelta(1, "ns")
    bins = pd.date_range(_floor(low, rule, origin), _floor(end, rule, origin), freq=rule, name=result.index.name)
    if len(part) == 0 and not last and pd.Timestamp(low) == pd.Timestamp(high):
        bins = bins[:0]
    filled = result.reindex(bins, fill_value=0 if method in _ZERO_WHEN_EMPTY else None)
    if method in _ZERO_WHEN_EMPTY and len(result) == 0 and len(filled):
        filled = filled.astype("int64") if method in ("count", "size", "nunique") else filled
    return filled


class Resampler:
    """``frame.resample(rule)``: aggregate with ``sum``, ``mean``, ``count``, ``min``, ``max``, ``first``, ``last``,
    ``size``, ``median``, ``std``, ``var``, ``nunique``, ``ohlc`` or ``agg``."""

    def __init__(self, frame, rule):
        if not frame.known_divisions:
            raise ValueError("resample needs known divisions; call set_index on the datetime column (or "
                             "set_index(..., sorted=True) when it is already sorted) first")
        if not pd.api.types.is_datetime64_any_dtype(frame._meta.index.dtype):
            raise TypeError(f"resample needs a datetime index, not {frame._meta.index.dtype}")
        try:
            offset = pd.tseries.frequencies.to_offset(rule)
            pd.Timedelta(offset)
        except (ValueError, TypeError):
            raise NotImplementedError(
                f"resample({rule!r}): only fixed-length frequencies (s, min, h, D, ...) are supported") from None
        # one spelling with a count ('D' -> '1D', Hour(3) -> '3h'): pd.Timedelta reads no bare unit such as 'D'
        rule = f"{offset.n}{offset.rule_code}"
        tz = getattr(frame._meta.index.dtype, "tz", None)
        if tz is not None and isinstance(offset, pd.offsets.Day) and offset.n != 1:
            raise NotImplementedError(f"resample({rule!r}) on a timezone-aware index: only '1D' calendar days are "
                                      "supported (or convert the index to UTC first)")
        self._frame, self._rule = frame, rule
        # pandas counts bins from midnight of the first day ('start_day'); so does every partition here
        self._origin = pd.Timestamp(frame.divisions[0]).normalize()

    def _aligned(self):
        divisions = self._frame.divisions
        inner = [_floor(d, self._rule, self._origin) for d in divisions[1:-1]]
        bounds = [_floor(divisions[0], self._rule, self._origin), *inner, pd.Timestamp(divisions[-1])]
        unique = [bounds[0]]
        for b in bounds[1:-1]:
            if b > unique[-1]:
                unique.append(b)
        unique.append(bounds[-1])
        if unique[-1] == unique[-2] and len(unique) > 2:
            unique.pop(-2)
        return tuple(unique)

    def _aggregate(self, method, *args, **kwargs):
        from .core import new_collection
        from .meta import make_meta, meta_nonempty

        divisions = self._aligned()
        expr = self._frame._expr
        if tuple(expr.divisions) != divisions:
            expr = RepartitionToDivisions(expr, divisions)
        meta = make_meta(getattr(meta_nonempty(self._frame._meta).resample(self._rule), method)(*args, **kwargs))
        return new_collection(Resampled(expr, self._rule, method, tuple(args), dict(kwargs), divisions, meta,
                                        self._origin))


class Resampled(FrameExpr):
    """Every partition (whose bounds are bin starts) resampled, with all the bins of its range."""

    _parameters = ["frame", "rule", "method", "args", "kwargs", "divisions_", "meta", "origin"]

    def _compute_meta(self):
        return self.meta

    def _compute_divisions(self):
        return self.divisions_

    def _task(self, index):
        divisions = self.divisions_
        last = index == len(divisions) - 2
        return Task(self._key(index), _resample_partition, Ref(self.frame._key(index)), self.rule, self.method,
                    self.args, self.kwargs, divisions[index], divisions[index + 1], last, self.origin)

    def _explain_args(self):
        return {"rule": self.rule, "method": self.method}


for _method in ("sum", "mean", "count", "min", "max", "first", "last", "size", "median", "std", "var", "nunique",
                "ohlc", "agg"):
    def _make(method):
        def aggregate(self, *args, **kwargs):
            return self._aggregate(method, *args, **kwargs)

        aggregate.__name__ = method
        return aggregate

    setattr(Resampler, _method, _make(_method))
