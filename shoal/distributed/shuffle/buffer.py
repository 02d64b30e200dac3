"""``ShardBuffer``: the shards a worker received for one run of a p2p shuffle.

Shards are keyed by ``(output partition, input index)``. They stay in memory
while the bytes held there stay within ``budget``; past it, the partitions
holding the most bytes are appended to files (one per output partition, in a
directory of this buffer's own) until the memory held is back under the
budget. ``take(p)`` returns partition ``p``'s shards in input order, from
memory and disk, and frees them. A shard sent twice (a transfer run again in
the same run) replaces the first copy, so nothing is counted twice.

>>> import pandas as pd
>>> buf = ShardBuffer(budget=10**9)
>>> buf.add(1, [(0, pd.DataFrame({"x": [3]}))])  # input 1's shard for partition 0 comes first
True
>>> buf.add(0, [(0, pd.DataFrame({"x": [1, 2]}))])
True
>>> [part.x.tolist() for part in buf.take(0)]
[[1, 2], [3]]
>>> buf.close()
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
import threading
from typing import Any

__all__ = ["ShardBuffer", "frame_nbytes"]


def frame_nbytes(frame: Any) -> int:
    """Bytes held by a pandas object (its columns and index, shallowly), else ``sys.getsizeof``.

    >>> import pandas as pd
    >>> frame_nbytes(pd.DataFrame({"x": range(10)})) >= 80
    True
    """
    usage = getattr(frame, "memory_usage", None)
    if usage is not None:
        try:
            total = usage(index=True, deep=False)
            return int(total.sum()) if hasattr(total, "sum") else int(total)
        except Exception:
            pass
    import sys

    return sys.getsizeof(frame)


class ShardBuffer:
    """Shards of one shuffle run on one worker; thread-safe (the worker's loop adds
    shards from peers, task threads add local ones and take outputs)."""

    def __init__(self, budget: int, directory: str | None = None, name: str = "shuffle"):
        self.budget = int(budget)
        self._root = directory
        self._name = name
        self._lock = threading.Lock()
        self._memory: dict = {}  # partition -> {input index: (frame, nbytes)}
        self._partition_bytes: dict = {}  # partition -> bytes in memory
        self._on_disk: set = set()  # partitions with a file
        self._directory: str | None = None
        self.consumed: set = set()  # partitions taken
        self.memory_bytes = 0
        self.peak_memory_bytes = 0
        self.spilled_bytes = 0
        self.received_bytes = 0
        self.closed = False

    # ------------------------------------------------------------------ writing
    def add(self, index: int, shards: list) -> bool:
        """Store ``[(partition, frame), ...]`` sent by input ``index``; False if closed meanwhile."""
        with self._lock:
            if self.closed:
                return False
            for partition, frame in shards:
                nbytes = frame_nbytes(frame)
                held = self._memory.setdefault(partition, {})
                previous = held.pop(index, None)
                if previous is not None:
                    self._forget_bytes(partition, previous[1])
                held[index] = (frame, nbytes)
                self._partition_bytes[partition] = self._partition_bytes.get(partition, 0) + nbytes
                self.memory_bytes += nbytes
                self.received_bytes += nbytes
            self.peak_memory_bytes = max(self.peak_memory_bytes, self.memory_bytes)
            if self.memory_bytes > self.budget:
                self._spill_until_within_budget()
            return True

    def _forget_bytes(self, partition: int, nbytes: int) -> None:
        self._partition_bytes[partition] -= nbytes
        self.memory_bytes -= nbytes

    def _spill_until_within_budget(self) -> None:
        # biggest partitions first: fewest file appends for the bytes freed
        for partition in sorted(self._partition_bytes, key=self._partition_bytes.get, reverse=True):
            if self.memory_bytes <= self.budget:
                return
            held = self._memory.pop(partition, None)
            if not held:
                continue
            with open(self._path(partition), "ab") as file:
                for index, (frame, nbytes) in held.items():
                    pickle.dump((index, frame), file, protocol=pickle.HIGHEST_PROTOCOL)
                    self.spilled_bytes += nbytes
            self._on_disk.add(partition)
            self.memory_bytes -= self._partition_bytes.pop(partition)

    def _path(self, partition: int) -> str:
        if self._directory is None:
            root = self._root or tempfile.gettempdir()
            os.makedirs(root, exist_ok=True)
            self._directory = tempfile.mkdtemp(prefix=f"shoal-p2p-{self._name[-16:]}-", dir=root)
        return os.path.join(self._directory, f"{partition}.shards")

    # ------------------------------------------------------------------ reading
    def take(self, partition: int) -> list:
        """Partition ``partition``'s shards in input order (then freed); raises ``KeyError``
        if it was taken before in this run (its data is gone)."""
        with self._lock:
            if self.closed:
                raise KeyError(f"the shards of output partition {partition} were dropped (the run ended)")
            if partition in self.consumed:
                raise KeyError(f"output partition {partition} was already unpacked in this run")
            self.consumed.add(partition)
            found: dict = {}
            if partition in self._on_disk:
                path = self._path(partition)
                with open(path, "rb") as file:
                    while True:
                        try:
                            index, frame = pickle.load(file)
                        except EOFError:
                            break
                        found[index] = frame
                os.remove(path)
                self._on_disk.discard(partition)
            for index, (frame, nbytes) in self._memory.pop(partition, {}).items():
                found[index] = frame  # memory holds what came after the last spill
            self.memory_bytes -= self._partition_bytes.pop(partition, 0)
        return [found[i] for i in sorted(found)]

    def close(self) -> None:
        """Drop every shard and remove the files."""
        with self._lock:
            self.closed = True
            self._memory.clear()
            self._partition_bytes.clear()
            self.memory_bytes = 0
            if self._directory is not None:
                shutil.rmtree(self._directory, ignore_errors=True)
                self._directory = None
