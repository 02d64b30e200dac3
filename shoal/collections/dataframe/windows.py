"""Window operations that borrow rows from neighbouring partitions: ``shift``, ``diff``, ``rolling``.

Partition ``i`` is computed on itself plus the last ``before`` rows that
precede it and the first ``after`` rows that follow it, then cut back to its
own rows. The borrowed rows are carried along a chain of small tasks
(``carry[i] = tail(carry[i - 1] + partition[i - 1])``), so a window longer
than a partition (or empty partitions) still sees every row it needs.
Time-based windows (``rolling("2h")``) carry the rows whose label is within
the window of the last carried label; they need a sorted (known-divisions)
datetime index, or with ``on="column"`` a datetime column sorted across the
partitions (which pandas checks on every partition with the rows it borrows).

Rows never move, so the result is partitioned like its input (and can be
combined with it, e.g. ``df.x - df.x.shift()``). ``shift(freq=...)`` borrows
nothing: it moves every label (and the divisions) by ``periods * freq``.

>>> import pandas as pd, shoal.dataframe as dd
>>> s = dd.from_pandas(pd.Series(range(6), dtype="float64"), npartitions=3)
>>> s.rolling(3).sum().compute(scheduler="sync").tolist()
[nan, nan, 3.0, 6.0, 9.0, 12.0]
"""

from __future__ import annotations

import pandas as pd

from ...taskgraph.core import Ref, Task
from .expr import FrameExpr, SameRowsExpr

__all__ = ["MapOverlap", "Rolling", "ShiftIndex", "shift", "diff"]


def _both(carry, part):
    if carry is None or len(carry) == 0:
        return part
    if len(part) == 0:
        return carry
    return pd.concat([carry, part])


def _tail_carry(carry, part, before, on=None):
    rows = _both(carry, part)
    if isinstance(before, pd.Timedelta):
        if len(rows) == 0:
            return rows
        labels = _increasing_labels(rows, on, before)
        # >=: a row exactly one window before the last label is in the window of a next row with that same label
        # when the window is closed on the left (closed='both'/'left'); otherwise pandas leaves it out itself
        return rows[labels >= labels[-1] - before]
    return rows.iloc[max(len(rows) - before, 0):] if before else rows.iloc[:0]


def _increasing_labels(rows, on, window) -> pd.Index:
    """The labels a time-based window is measured on (the index, or the column ``on``), checked increasing:
    pandas also accepts decreasing ones, which the rows carried between partitions cannot follow."""
    labels = rows.index if on is None else pd.Index(rows[on])
    if not labels.is_monotonic_increasing:
        where = "the index" if on is None else f"the column {on!r}"
        raise ValueError(f"rolling({window!r}): {where} must be sorted increasing across the partitions for a "
                         "time-based window; sort_values (or set_index) on it first")
    return labels


def _head_carry(part, carry, after):
    rows = _both(part, carry) if carry is not None else part
    return rows.iloc[:after]


def _apply_overlap(previous, part, following, func, args, kwargs):
    before = 0 if previous is None else len(previous)
    pieces = [p for p in (previous, part, following) if p is not None and len(p)]
    combined = pd.concat(pieces) if len(pieces) > 1 else (pieces[0] if pieces else part)
    result = func(combined, *args, **kwargs)
    return result.iloc[before: before + len(part)]


class MapOverlap(SameRowsExpr):
    """``func(previous rows + partition + following rows)`` cut back to the partition's rows; a time span
    ``before`` is measured on the index, or on the column ``on``."""

    _parameters = ["frame", "func", "before", "after", "args", "kwargs", "meta", "on"]
    _defaults = {"on": None}

    def _compute_meta(self):
        return self.meta

    def _layer(self):
        name, n = self._name, self.frame.npartitions
        layer = {}
        previous = [None] * n
        following = [None] * n
        if self.before:
            for i in range(1, n):
                key = (f"{name}-before", i)
                earlier = Ref(previous[i - 1]) if previous[i - 1] is not None else None
                layer[key] = Task(key, _tail_carry, earlier, Ref(self.frame._key(i - 1)), self.before, self.on)
                previous[i] = key
        if self.after:
            for i in range(n - 2, -1, -1):
                key = (f"{name}-after", i)
                later = Ref(following[i + 1]) if following[i + 1] is not None else None
                layer[key] = Task(key, _head_carry, Ref(self.frame._key(i + 1)), later, self.after)
                following[i] = key
        for i in range(n):
            layer[self._key(i)] = Task(
                self._key(i), _apply_overlap, Ref(previous[i]) if previous[i] is not None else None,
                Ref(self.frame._key(i)), Ref(following[i]) if following[i] is not None else None,
                self.func, tuple(self.args), dict(self.kwargs or {}))
        return layer

    def _explain_args(self):
        return {"func": getattr(self.func, "__name__", "func"), "before": self.before, "after": self.after}


def _call(part, method, args, kwargs):
    return getattr(part, method)(*args, **kwargs)


def _overlap(frame, method, args, kwargs, before, after):
    from .core import new_collection
    from .meta import make_meta, meta_nonempty

    meta = make_meta(_call(meta_nonempty(frame._meta), method, args, kwargs))
    return new_collection(MapOverlap(frame._expr, _call, before, after, (method, tuple(args), dict(kwargs)), None,
                                     meta))


def _periods(periods) -> tuple[int, int]:
    if not isinstance(periods, int):
        raise TypeError(f"periods must be an integer, got {periods!r}")
    return (periods, 0) if periods >= 0 else (0, -periods)


def shift(frame, periods: int = 1, freq=None, fill_value=None):
    """pandas' ``shift``: values moved by ``periods`` rows (``fill_value`` where none arrives), or with ``freq`` the
    index moved by ``periods * freq`` (no rows move between partitions; known divisions move alike)."""
    from .core import new_collection

    if freq is not None:
        if fill_value is not None:
            raise ValueError("shift: fill_value= means nothing with freq= (no values move, the index does)")
        if not isinstance(periods, int):
            raise TypeError(f"periods must be an integer, got {periods!r}")
        if not pd.api.types.is_datetime64_any_dtype(frame._meta.index.dtype):
            raise TypeError(f"shift(freq={freq!r}) needs a datetime index, not {frame._meta.index.dtype}")
        return new_collection(ShiftIndex(frame._expr, periods, freq))
    kwargs = {} if fill_value is None else {"fill_value": fill_value}
    before, after = _periods(periods)
    return _overlap(frame, "shift", (periods,), kwargs, before, after)


def _shift_index(part, periods, freq):
    return part.shift(periods, freq=freq)


class ShiftIndex(FrameExpr):
    """Every partition's index moved by ``periods * freq``; the divisions move with it."""

    _parameters = ["frame", "periods", "freq"]
    _is_blockwise = True

    def _compute_meta(self):
        return self.frame._meta

    def _compute_divisions(self):
        divisions = self.frame.divisions
        if divisions[0] is None:
            return divisions
        return tuple(pd.DatetimeIndex(list(divisions)).shift(self.periods, freq=self.freq))

    @property
    def _origin(self):
        return self._name  # the index changed: not aligned with the input any more

    def _task(self, index):
        return Task(self._key(index), _shift_index, Ref(self.frame._key(index)), self.periods, self.freq)


def diff(frame, periods: int = 1):
    before, after = _periods(periods)
    return _overlap(frame, "diff", (periods,), {}, before, after)


def _rolling_call(part, window_kwargs, method, args, kwargs):
    window = window_kwargs["window"]
    if not isinstance(window, int):
        _increasing_labels(part, window_kwargs.get("on"), window)
    return getattr(part.rolling(**window_kwargs), method)(*args, **kwargs)


class Rolling:
    """``frame.rolling(window, ...)``: a fixed number of rows, or a time span over a sorted datetime index (or
    the sorted datetime column ``on``)."""

    def __init__(self, frame, window, min_periods=None, center=False, win_type=None, closed=None, on=None):
        self._frame, self._on = frame, on
        if on is not None:
            if not isinstance(frame._meta, pd.DataFrame):
                raise ValueError(f"rolling(on={on!r}): on= names a column, and a Series has none; use the index")
            if on not in frame._meta.columns:
                raise KeyError(f"rolling(on={on!r}): no such column; the columns are {list(frame._meta.columns)}")
        self._kwargs = {"window": window, "min_periods": min_periods, "center": center, "win_type": win_type,
                        "closed": closed, "on": on}
        self._kwargs = {k: v for k, v in self._kwargs.items() if v is not None and (k != "center" or v)}
        if isinstance(window, int):
            if window < 0:
                raise ValueError(f"rolling: window must be non-negative, got {window}")
            self._before, self._after = window, (window if center else 0)
        else:
            span = pd.Timedelta(pd.tseries.frequencies.to_offset(window))
            if center:
                raise NotImplementedError("rolling: center=True with a time-based window is not supported")
            if on is not None:
                dtype = frame._meta[on].dtype
                if not pd.api.types.is_datetime64_any_dtype(dtype):
                    raise TypeError(f"rolling({window!r}, on={on!r}): the column must hold datetimes, not {dtype}")
                self._before, self._after = span, 0
                return
            if not frame.known_divisions:
                raise ValueError(
                    f"rolling({window!r}): a time-based window needs a sorted datetime index with known divisions; "
                    "call set_index on the datetime column first"
                )
            if not pd.api.types.is_datetime64_any_dtype(frame._meta.index.dtype):
                raise TypeError(f"rolling({window!r}): the index must be datetimes, not {frame._meta.index.dtype}")
            self._before, self._after = span, 0

    def _aggregate(self, method, *args, **kwargs):
        from .core import new_collection
        from .meta import make_meta, meta_nonempty

        fake = meta_nonempty(self._frame._meta)
        meta = make_meta(_rolling_call(fake, self._kwargs, method, args, kwargs))
        return new_collection(MapOverlap(self._frame._expr, _rolling_call, self._before, self._after,
                                         (self._kwargs, method, tuple(args), dict(kwargs)), None, meta, self._on))


for _method in ("sum", "mean", "min", "max", "std", "var", "sem", "skew", "kurt", "count", "median", "apply",
                "quantile", "agg"):
    def _make(method):
        def aggregate(self, *args, **kwargs):
            return self._aggregate(method, *args, **kwargs)

        aggregate.__name__ = method
        aggregate.__doc__ = f"pandas' ``rolling(...).{method}`` over each partition and the rows it borrows."
        return aggregate

    setattr(Rolling, _method, _make(_method))
