"""Parts of a frame taken without reading all of it: some partitions, the first rows, a random sample.

- ``Sample``: a random fraction of every partition's rows (``sample``);
- ``_Collapse``: all partitions concatenated into one, cut to ``n`` rows (``head(npartitions=)``);
- ``_PartitionSelector``: ``df.partitions[i]`` / ``[i:j]`` / ``[[i, k]]``, a ``Partitions`` expression.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .blockwise import Partitions
from .expr import FrameExpr, SameSchemaBlockwise
from .parts import _concat, _head

if TYPE_CHECKING:
    from .core import _Frame


def _sample_partition(part, frac, replace, seed):
    return part.sample(frac=frac, replace=replace, random_state=seed)


class Sample(SameSchemaBlockwise):
    """A random fraction of every partition's rows; partition ``i`` draws with ``seeds[i]``."""

    _parameters = ["frame", "frac", "with_replacement", "seeds"]

    def _task(self, index):
        from ...taskgraph.core import Ref, Task

        return Task(self._key(index), _sample_partition, Ref(self.frame._key(index)), self.frac, self.with_replacement,
                    self.seeds[index])

    def _explain_args(self):
        return {"frac": self.frac}


class _Collapse(FrameExpr):
    """All partitions of ``frame`` concatenated into one, then cut to ``n`` rows (``head`` with npartitions=)."""

    _parameters = ["frame", "n", "how"]

    def _compute_meta(self):
        return self.frame._meta

    def _compute_divisions(self):
        return (None, None)

    def _task(self, index):
        from ...taskgraph.core import Ref, Task

        return Task(self._key(0), _collapse, [Ref(self.frame._key(i)) for i in range(self.frame.npartitions)], self.n)


def _collapse(parts, n):
    return _head(_concat(parts), n)


class _PartitionSelector:
    def __init__(self, frame: _Frame):
        self._frame = frame

    def __getitem__(self, key):
        from .core import new_collection  # core imports this module

        n = self._frame.npartitions
        if isinstance(key, (int, np.integer)):
            key = int(key)
            if not -n <= key < n:
                raise IndexError(f"partition {key} is out of range: this collection has {n} partitions")
            indices = [key % n]
        elif isinstance(key, slice):
            indices = list(range(n))[key]
        else:
            indices = [int(k) for k in np.arange(n)[key]]
        if not indices:
            raise IndexError(f"partitions[{key!r}] selects no partition (there are {n})")
        return new_collection(Partitions(self._frame._expr, tuple(indices)))
