"""``repartition``: change the number of partitions, or move rows to new divisions.

- ``npartitions=`` fewer: runs of neighbouring partitions are concatenated
  (known divisions stay known); more: every partition is cut by row position
  into nearly equal pieces (the divisions become unknown, as the cut labels
  are not known before computing).
- ``divisions=``: needs known divisions; output partition ``j`` holds the
  rows with ``divisions[j] <= index < divisions[j + 1]`` (the last one also
  ``== divisions[-1]``), gathered from the input partitions whose ranges
  overlap it. No shuffle: each output reads a few neighbouring inputs.
- ``partition_size=``: sizes such as ``'100MB'`` are read by ``_parse_bytes``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...taskgraph.core import Ref, Task
from .expr import FrameExpr

__all__ = ["RepartitionToCount", "RepartitionToDivisions", "check_divisions", "aligned_on_divisions", "aligned_exprs",
           "short_divisions"]


def _concat_parts(parts: list):
    nonempty = [p for p in parts if len(p)]
    return pd.concat(nonempty) if len(nonempty) > 1 else (nonempty or parts)[0]


def _piece(part, index: int, count: int):
    n = len(part)
    return part.iloc[index * n // count: (index + 1) * n // count]


def _rows_between(parts: list, low, high, include_high: bool):
    pieces = []
    for part in parts:
        idx = part.index
        mask = (idx >= low) & ((idx <= high) if include_high else (idx < high))
        pieces.append(part[mask])
    return _concat_parts(pieces)


def _no_rows(meta):
    return meta.iloc[:0].copy()


class RepartitionToCount(FrameExpr):
    """``frame`` in ``count`` partitions (see the module docstring)."""

    _parameters = ["frame", "count"]

    def _compute_meta(self):
        return self.frame._meta

    def _plan_inputs(self) -> list:
        """For each output partition: ``[(input, piece, pieces), ...]`` (pieces 1 means the whole input)."""
        n_in, n_out = self.frame.npartitions, self.count
        if n_out <= n_in:
            bounds = [i * n_in // n_out for i in range(n_out)] + [n_in]
            return [[(i, 0, 1) for i in range(bounds[j], bounds[j + 1])] for j in range(n_out)]
        plan = []
        for i in range(n_in):
            pieces = (i + 1) * n_out // n_in - i * n_out // n_in
            plan.extend([[(i, p, pieces)] for p in range(pieces)])
        return plan

    def _compute_divisions(self):
        old = self.frame.divisions
        if self.count <= self.frame.npartitions and old[0] is not None:
            starts = [inputs[0][0] for inputs in self._plan_inputs()]
            return tuple(old[s] for s in starts) + (old[-1],)
        return (None,) * (self.count + 1)

    def _task(self, index):
        inputs = self._plan_inputs()[index]
        if len(inputs) == 1 and inputs[0][2] > 1:
            i, piece, pieces = inputs[0]
            return Task(self._key(index), _piece, Ref(self.frame._key(i)), piece, pieces)
        return Task(self._key(index), _concat_parts, [Ref(self.frame._key(i)) for i, _, _ in inputs])


def aligned_on_divisions(frames: list) -> list | None:
    """``frames`` moved to the union of their divisions, so partition ``i`` of each holds the same index
    range (as Dask aligns before element-wise operations); None when some divisions are unknown or the
    labels cannot be ordered together."""
    if not all(len(f.divisions) > 1 and f.divisions[0] is not None for f in frames):
        return None
    try:
        union = tuple(sorted(set().union(*[set(f.divisions) for f in frames])))
    except TypeError:  # labels of types that do not compare (numbers and strings)
        return None
    return [f if tuple(f.divisions) == union else RepartitionToDivisions(f, union) for f in frames]


def aligned_exprs(exprs: list, frames: list, what: str) -> list:
    """``exprs`` with their frames on one partitioning: as they are, or moved to the union of their known
    divisions; a clear error when divisions are unknown."""
    first = frames[0].partitioning
    unaligned = [f for f in frames[1:] if not first.aligns_with(f.partitioning)]
    if not unaligned:
        return exprs
    moved = aligned_on_divisions(frames)
    if moved is None:
        other = unaligned[0]
        raise ValueError(
            f"{what}: they are partitioned differently ({frames[0].npartitions} partitions with divisions "
            f"{short_divisions(first.divisions)} vs {other.npartitions} with "
            f"{short_divisions(other.partitioning.divisions)}) and the divisions of at least one are unknown, so their rows cannot be matched by index. Give both known "
            "divisions first (set_index, or from_pandas(..., sort=True)), or b = b.repartition(divisions="
            "a.divisions), or compute one side."
        )
    replaced = {id(f): m for f, m in zip(frames, moved)}
    return [replaced.get(id(e), e) for e in exprs]


def short_divisions(divisions) -> str:
    """Divisions as text for an error message, cut short when long."""
    text = repr(tuple(divisions))
    return text if len(text) < 80 else text[:76] + "...)"


def check_divisions(divisions) -> tuple:
    """``divisions`` as a tuple, after checking they are sorted (raising with the offending pair)."""
    divisions = tuple(divisions)
    if len(divisions) < 2:
        raise ValueError(f"divisions need at least two values (one partition), got {divisions!r}")
    for a, b in zip(divisions[:-1], divisions[1:]):
        if not a <= b:
            raise ValueError(f"divisions must be sorted, but {a!r} comes before {b!r} in {divisions!r}")
    return divisions


class RepartitionToDivisions(FrameExpr):
    """``frame`` (with known divisions) moved to the partition bounds ``new_divisions``."""

    _parameters = ["frame", "new_divisions"]

    def _compute_meta(self):
        return self.frame._meta

    def _compute_divisions(self):
        return self.new_divisions

    def _task(self, index):
        old, new = self.frame.divisions, self.new_divisions
        low, high = new[index], new[index + 1]
        last = index == len(new) - 2
        # input i holds labels in [old[i], old[i+1]] (the right bound is exclusive except for the last)
        inputs = [i for i in range(len(old) - 1) if old[i] <= high and old[i + 1] >= low]
        if not inputs:  # a range outside the data's (a union of divisions reaching past this frame's): no rows
            return Task(self._key(index), _no_rows, self.frame._meta)
        return Task(self._key(index), _rows_between, [Ref(self.frame._key(i)) for i in inputs], low, high, last)


_BYTE_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def _parse_bytes(value) -> int:
    """``'100MB'`` -> 100000000; integers pass through.

    >>> _parse_bytes("64MiB"), _parse_bytes(10)
    (67108864, 10)
    """
    if isinstance(value, (int, np.integer)):
        return int(value)
    text = str(value).strip().lower().replace(" ", "")
    number = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text[len(number):] or "b"
    if unit not in _BYTE_UNITS or not number:
        raise ValueError(f"cannot read {value!r} as a size in bytes; write e.g. 100MB, 64MiB or an integer")
    return int(float(number) * _BYTE_UNITS[unit])
