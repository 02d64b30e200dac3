"""``resample`` on a datetime index with known divisions.

The frame is first moved to divisions that fall on bin starts (each inner
division rounded down to the frequency; only neighbouring partitions are
read), so every bin lies in one partition. Each partition is then resampled
by pandas and given every bin of its range, including bins no row falls in
(pandas' full-frame result has them: 0 for ``sum``/``count``/``size``, null
otherwise), so the concatenation equals pandas' result. ``closed="right"``
bins ``(start, end]`` put the partition bounds one tick past a bin edge
instead (a row on an edge belongs to the bin before it); ``label="right"``
names every bin by its end. Calendar rules ('W', 'ME', 'QS', ...) are laid
out by ``resample_calendar.py``; both trim their result to the bins of the
rows the frame really has (``resample_trim.py``).

Bins are counted from midnight of the first division's day, as pandas counts
them from its first row's (``origin="start_day"``): the two differ only for a
rule that does not divide a day (such as '7min') on a frame whose first rows
were filtered away; ``origin="epoch"`` or a timestamp, and ``offset=``, give
pandas' bins whatever the divisions.

>>> import pandas as pd, shoal.dataframe as dd
>>> pdf = pd.DataFrame({"x": range(6)}, index=pd.date_range("2024-01-01", periods=6, freq="25min"))
>>> dd.from_pandas(pdf, npartitions=3).resample("1h").sum().compute(scheduler="sync").x.tolist()
[3, 7, 5]
"""

from __future__ import annotations

import warnings

import pandas as pd

from ...taskgraph.core import Ref, Task
from .expr import FrameExpr
from .repartition import RepartitionToDivisions
from .resample_trim import distinct_bounds, trimmed_layer, with_every_bin
from .resample_calendar import CalendarBins, CalendarResampled, is_calendar_rule

__all__ = ["Resampler"]


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


_TICK = pd.Timedelta(1, "ns")


def _bin_start(value, rule, origin, closed="left"):
    """The start of the bin ``value`` falls in: ``[start, start + step)``, or ``(start, start + step]`` when
    ``closed="right"`` (a value on a bin edge then belongs to the bin before it)."""
    if closed == "right":
        return _floor(pd.Timestamp(value) - _TICK, rule, origin)
    return _floor(value, rule, origin)


def _bin_label(value, rule, origin, closed, label):
    """The label of the bin ``value`` falls in."""
    start = _bin_start(value, rule, origin, closed)
    return pd.DatetimeIndex([start]).shift(1, freq=rule)[0] if label == "right" else start  # as the bins are named


def _resample_partition(part, rule, method, args, kwargs, low, high, last, origin, closed="left", label="left"):
    calendar_days = origin.tz is not None and isinstance(pd.tseries.frequencies.to_offset(rule), pd.offsets.Day)
    # pandas bins tz-aware calendar days by local midnight and ignores origin= for them
    resampler = part.resample(rule, closed=closed) if calendar_days else part.resample(rule, origin=origin,
                                                                                      closed=closed)
    result = getattr(resampler, method)(*args, **kwargs)
    end = high if last else high - _TICK
    bins = pd.date_range(_bin_start(low, rule, origin, closed), _bin_start(end, rule, origin, closed), freq=rule,
                         name=result.index.name, unit=part.index.unit)  # pandas keeps the index's unit
    if len(part) == 0 and not last and pd.Timestamp(low) == pd.Timestamp(high):
        bins = bins[:0]
    filled = with_every_bin(result, bins, method, args)
    if label == "right":  # every bin named by its end rather than its start
        filled.index = filled.index.shift(1, freq=rule)
    return filled


class Resampler:
    """``frame.resample(rule)``: aggregate with ``sum``, ``mean``, ``count``, ``min``, ``max``, ``first``, ``last``,
    ``size``, ``median``, ``std``, ``var``, ``nunique``, ``ohlc`` or ``agg``."""

    def __init__(self, frame, rule, closed=None, label=None, origin="start_day", offset=None):
        for name, value in (("closed", closed), ("label", label)):
            if value not in (None, "left", "right"):
                raise ValueError(f"resample: {name} must be 'left' or 'right', got {value!r}")
        if not frame.known_divisions:
            raise ValueError("resample needs known divisions; call set_index on the datetime column (or "
                             "set_index(..., sorted=True) when it is already sorted) first")
        if not pd.api.types.is_datetime64_any_dtype(frame._meta.index.dtype):
            raise TypeError(f"resample needs a datetime index, not {frame._meta.index.dtype}")
        try:
            freq = pd.tseries.frequencies.to_offset(rule)
        except ValueError:
            raise ValueError(f"resample: {rule!r} is not a frequency pandas reads; use e.g. '30min', '1h', 'D', "
                             "'W', 'ME' or 'QS'") from None
        self._frame, self._calendar = frame, None
        bins_moved = not (isinstance(origin, str) and origin == "start_day") or offset is not None
        if is_calendar_rule(freq):  # weeks, months, quarters, years, business days: see resample_calendar.py
            if bins_moved:
                raise NotImplementedError(f"resample({rule!r}): origin= and offset= apply to fixed-length rules "
                                          "(s, min, h, D); calendar bins start where the calendar says")
            self._calendar = CalendarBins(freq, closed, label, frame.divisions[0], frame.divisions[-1],
                                          frame._meta.index.dtype)
            return
        # one spelling with a count ('D' -> '1D', Hour(3) -> '3h'): pd.Timedelta reads no bare unit such as 'D'
        rule = f"{freq.n}{freq.rule_code}"
        tz = getattr(frame._meta.index.dtype, "tz", None)
        if tz is not None and isinstance(freq, pd.offsets.Day) and freq.n != 1:
            raise NotImplementedError(f"resample({rule!r}) on a timezone-aware index: only '1D' calendar days are "
                                      "supported (or convert the index to UTC first)")
        if closed == "right" and tz is not None and isinstance(freq, pd.offsets.Day):
            raise NotImplementedError(f"resample({rule!r}, closed='right') on a timezone-aware index is not "
                                      "supported; convert the index to UTC first")
        if bins_moved and tz is not None and isinstance(freq, pd.offsets.Day):
            # as pandas: calendar days of a timezone-aware index start at local midnight, whatever origin says
            warnings.warn(f"resample({rule!r}): origin= and offset= do not take effect for days on a "
                          "timezone-aware index (bins start at local midnight, as in pandas)", RuntimeWarning,
                          stacklevel=3)
            origin, offset = "start_day", None
        self._rule = rule
        # pandas' defaults for fixed-length rules: bins closed on the left, named by their start
        self._closed, self._label = closed or "left", label or "left"
        self._origin = self._first_bin_origin(origin, offset, tz)

    def _first_bin_origin(self, origin, offset, tz):
        """The instant bins are counted from, as pandas' ``origin=`` and ``offset=`` say. pandas' default,
        'start_day', is midnight of the first row's day; the first division stands in for the first row (the
        same unless the first rows were filtered away: then ``origin="epoch"`` gives pandas' bins exactly)."""
        if isinstance(origin, str) and origin in ("start", "end", "end_day"):
            raise NotImplementedError(f"resample(origin={origin!r}) counts bins from the data's first or last row, "
                                      "which a lazy frame does not know; use origin='epoch', 'start_day' or a "
                                      "timestamp")
        if isinstance(origin, str) and origin == "start_day":
            first = pd.Timestamp(self._frame.divisions[0]).normalize()
        elif isinstance(origin, str) and origin == "epoch":
            first = pd.Timestamp("1970-01-01", tz=tz)
        else:
            try:
                first = pd.Timestamp(origin)
            except (TypeError, ValueError):
                raise ValueError(f"resample: origin must be 'epoch', 'start_day' or a timestamp, got {origin!r}") \
                    from None
            if (first.tz is None) != (tz is None):
                raise ValueError(f"resample: origin {origin!r} and the index must both have a timezone or both have "
                                 f"none (the index's is {tz})")
        if offset is not None:
            try:
                first += pd.Timedelta(offset)
            except (TypeError, ValueError):
                raise ValueError(f"resample: offset must be a timedelta such as '15min', got {offset!r}") from None
        return first

    def _aligned(self):
        """Divisions on bin edges (only neighbouring rows move), so every bin lies in one partition; with
        ``closed="right"`` one tick past the edge, as a row on the edge belongs to the bin before it."""
        divisions = self._frame.divisions
        past = _TICK if self._closed == "right" else pd.Timedelta(0)
        edge = lambda d: _bin_start(d, self._rule, self._origin, self._closed) + past
        return distinct_bounds([*[edge(d) for d in divisions[:-1]], pd.Timestamp(divisions[-1])])

    def _aggregate(self, method, *args, **kwargs):
        from .core import new_collection
        from .meta import make_meta, meta_nonempty

        if method == "agg" and len(args) == 1 and not kwargs and isinstance(args[0], str) and args[0] in _AGGREGATIONS:
            # agg('sum') is sum(): empty bins then get sum's 0 rather than the null agg's reindex fills in
            method, args = args[0], ()
        if self._calendar is not None:
            return new_collection(self._calendar_aggregate(method, args, kwargs))
        divisions = self._aligned()
        expr = self._frame._expr
        if tuple(expr.divisions) != divisions:
            expr = RepartitionToDivisions(expr, divisions)
        meta = make_meta(getattr(meta_nonempty(self._frame._meta).resample(self._rule), method)(*args, **kwargs))
        # the output's divisions: the first bin of every partition (the last bound stays past the last bin)
        labels = [_bin_start(d, self._rule, self._origin, self._closed) for d in divisions[:-1]]
        labels = pd.DatetimeIndex(labels + [pd.Timestamp(divisions[-1])])
        if self._label == "right":
            labels = labels.shift(1, freq=self._rule)
        return new_collection(Resampled(expr, self._rule, method, tuple(args), dict(kwargs), divisions, meta,
                                        self._origin, self._closed, self._label, tuple(labels)))

    def _calendar_aggregate(self, method, args, kwargs):
        from .meta import make_meta, meta_nonempty

        bins = self._calendar
        divisions = bins.aligned(self._frame.divisions)
        expr = self._frame._expr
        if tuple(expr.divisions) != divisions:
            expr = RepartitionToDivisions(expr, divisions)
        sample = meta_nonempty(self._frame._meta).resample(bins.offset, closed=bins.closed, label=bins.label)
        meta = make_meta(getattr(sample, method)(*args, **kwargs))
        labels = bins.labels_per_partition(divisions)
        # the output's divisions: the first label of every partition, then the frame's last label
        out_divisions = tuple(part[0] for part in labels) + (bins.labels[-1],)
        return CalendarResampled(expr, bins.offset, bins.closed, bins.label, method, tuple(args), dict(kwargs),
                                 meta, tuple(labels), out_divisions)


class Resampled(FrameExpr):
    """Every partition (whose bounds are bin starts) resampled, with all the bins of its range."""

    _parameters = ["frame", "rule", "method", "args", "kwargs", "divisions_", "meta", "origin", "closed", "label",
                   "labels"]

    def _compute_meta(self):
        return self.meta

    def _compute_divisions(self):
        return self.labels

    def _layer(self):
        return trimmed_layer(self, self._resample_task, _bin_label, self.rule, self.origin, self.closed, self.label)

    def _resample_task(self, key, index):
        divisions = self.divisions_
        last = index == len(divisions) - 2
        return Task(key, _resample_partition, Ref(self.frame._key(index)), self.rule, self.method, self.args,
                    self.kwargs, divisions[index], divisions[index + 1], last, self.origin, self.closed, self.label)

    def _explain_args(self):
        return {"rule": self.rule, "method": self.method}


#: the aggregations a Resampler has a method for (agg('sum') goes to sum())
_AGGREGATIONS = ("sum", "mean", "count", "min", "max", "first", "last", "size", "median", "std", "var", "nunique",
                 "ohlc")

for _method in _AGGREGATIONS + ("agg",):
    def _make(method):
        def aggregate(self, *args, **kwargs):
            return self._aggregate(method, *args, **kwargs)

        aggregate.__name__ = method
        return aggregate

    setattr(Resampler, _method, _make(_method))
