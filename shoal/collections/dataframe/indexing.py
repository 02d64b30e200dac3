"""``loc`` (division-aware label selection) and ``iloc[:, columns]``.

With known divisions, ``loc`` reads only the partitions whose index range
can hold the requested labels (``partitions[...]`` of those), then selects
within them; with unknown divisions every partition is searched. Rows come
back in partition order, one partition per selected input, as in Dask; a
single label gives a frame of the rows with that label (not a row Series).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["LocIndexer", "ILocIndexer"]


def _loc_slice(part, start, stop):
    return part.loc[start:stop]


def _loc_labels(part, labels):
    return part[part.index.isin(labels)]


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
                indices = self._candidates(rows.start, rows.stop)
                return self._select(indices, _loc_slice, rows.start, rows.stop)
            return frame.map_partitions(_loc_slice, rows.start, rows.stop, meta=frame._meta)
        if isinstance(rows, (Series, Index)):  # a boolean mask (an Index one, e.g. df.index > x, by position)
            return frame[rows]
        labels = list(rows) if isinstance(rows, (list, tuple, np.ndarray, pd.Index)) else [rows]
        if frame.known_divisions:
            indices = sorted({i for label in labels for i in self._candidates(label, label)})
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
