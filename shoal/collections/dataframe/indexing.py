"""``loc`` (division-aware label selection) and ``iloc[:, columns]``.

With known divisions, ``loc`` reads only the partitions whose index range
can hold the requested labels (``partitions[...]`` of those), then selects
within them; with unknown divisions every partition is searched. Rows come
back in partition order, one partition per selected input, as in Dask; a
single label gives a frame of the rows with that label (not a row Series).
On a datetime index a string names a period, as in pandas ('2024-03' is all
of March), and only the partitions that period can touch are read.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

__all__ = ["LocIndexer", "ILocIndexer"]


def _loc_slice(part, start, stop):
    return part.loc[start:stop]


def _loc_labels(part, labels):
    return part[part.index.isin(labels)]


def _label_span(index_dtype, label):
    """The first and last index values ``label`` may stand for. On a datetime index a string names a period
    (pandas' partial-string indexing): '2024-03' is all of March, '2024-03-05' a whole day."""
    if not (isinstance(label, str) and pd.api.types.is_datetime64_any_dtype(index_dtype)):
        return label, label
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a period drops a UTC offset in the string (then: the exact instant)
            period = pd.Period(label)
        start, end = period.start_time, period.end_time
        if "+" in label[10:] or label.endswith("Z"):
            start = end = pd.Timestamp(label)
    except (ValueError, TypeError):
        raise KeyError(f"loc: {label!r} is not a date or time pandas reads, and the index holds datetimes") from None
    tz = getattr(index_dtype, "tz", None)
    if tz is not None and start.tz is None:  # the wall-clock period, widened across a DST change
        start = start.tz_localize(tz, ambiguous=True, nonexistent="shift_backward")
        end = end.tz_localize(tz, ambiguous=False, nonexistent="shift_forward")
    elif tz is None and start.tz is not None:
        raise KeyError(f"loc: {label!r} has a timezone and the index has none")
    return start, end


def _as_instant(index_dtype, label):
    """A label of a list on a datetime index: a string read as the instant it names (on the index's wall clock),
    as pandas' ``loc[[...]]`` does; other labels as they are."""
    if not isinstance(label, str):
        return label
    try:
        instant = pd.Timestamp(label)
    except ValueError:
        raise KeyError(f"loc: {label!r} is not a date or time pandas reads, and the index holds datetimes") from None
    tz = getattr(index_dtype, "tz", None)
    return instant.tz_localize(tz) if tz is not None and instant.tz is None else instant


class LocIndexer:
    def __init__(self, frame):
        self._frame = frame

    def __getitem__(self, key):
        rows, columns = key if isinstance(key, tuple) else (key, None)
        result = self._rows(rows)
        if columns is None or (isinstance(columns, slice) and columns == slice(None)):
            return result
        if isinstance(columns, slice):
            names = list(self._frame._meta.loc[:, columns].columns)
            return result[names]
        return result[columns]

    def _candidates(self, low, high) -> list[int]:
        """Partitions whose index range may hold labels in ``[low, high]`` (None: unbounded)."""
        frame = self._frame
        n = frame.npartitions
        if not frame.known_divisions:
            return list(range(n))
        divisions = frame.divisions
        keep = []
        for i in range(n):
            first, last = divisions[i], divisions[i + 1]
            # partitions are left-closed: all but the last hold labels strictly below their right bound
            above_low = low is None or (last >= low if i == n - 1 else last > low)
            if (high is None or first <= high) and above_low:
                keep.append(i)
        return keep

    def _select(self, indices, func, *args):
        frame = self._frame
        if not indices:
            return frame.partitions[[0]].map_partitions(_loc_labels, [], meta=frame._meta)
        return frame.partitions[indices].map_partitions(func, *args, meta=frame._meta)

    def _rows(self, rows):
        from .core import Index, Series

        frame = self._frame
        if isinstance(rows, slice):
            if rows.step is not None:
                raise NotImplementedError("loc with a slice step is not supported")
            if rows.start is None and rows.stop is None:
                return frame
            if frame.known_divisions:
                dtype = frame._meta.index.dtype
                low, high = _label_span(dtype, rows.start)[0], _label_span(dtype, rows.stop)[1]
                return self._select(self._candidates(low, high), _loc_slice, rows.start, rows.stop)
            return frame.map_partitions(_loc_slice, rows.start, rows.stop, meta=frame._meta)
        if isinstance(rows, (Series, Index)):  # a boolean mask (an Index one, e.g. df.index > x, by position)
            return frame[rows]
        if isinstance(rows, str) and pd.api.types.is_datetime64_any_dtype(frame._meta.index.dtype):
            return self._rows(slice(rows, rows))  # the rows of the period the string names
        labels = list(rows) if isinstance(rows, (list, tuple, np.ndarray, pd.Index)) else [rows]
        if pd.api.types.is_datetime64_any_dtype(frame._meta.index.dtype):
            labels = [_as_instant(frame._meta.index.dtype, label) for label in labels]
        if frame.known_divisions:
            dtype = frame._meta.index.dtype
            spans = [_label_span(dtype, label) for label in labels]
            indices = sorted({i for low, high in spans for i in self._candidates(low, high)})
            return self._select(indices, _loc_labels, labels)
        return frame.map_partitions(_loc_labels, labels, meta=frame._meta)


class ILocIndexer:
    def __init__(self, frame):
        self._frame = frame

    def __getitem__(self, key):
        if not (isinstance(key, tuple) and len(key) == 2 and key[0] == slice(None)):
            raise NotImplementedError(
                "iloc supports column selection only (df.iloc[:, columns]): row positions are not known "
                "without computing the partition lengths"
            )
        names = self._frame._meta.iloc[:, key[1]]
        if isinstance(names, pd.Series):
            return self._frame[names.name]
        return self._frame[list(names.columns)]
