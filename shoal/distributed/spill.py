"""``SpillStore``: a worker's results, in memory until there are too many, then on disk.

A ``MutableMapping`` the worker hands to ``WorkerState`` as its ``data``.
Values stay in memory while the bytes held there (the *managed* memory,
measured with ``sizeof``) stay at or below ``target`` bytes. Past it the
least recently used values are written to disk, one file per key, as
pickle protocol 5 frames: the pickle stream first, then every out-of-band
buffer (a NumPy array's or a pandas column's memory) as a frame of its own,
so large buffers are written without being copied into the pickle stream.
Reading a spilled key loads it back (and counts it); it stays in memory if it
fits. A value bigger than ``target`` on its own never fits: it goes straight
to disk.

Values that cannot be pickled stay in memory (spilling them is impossible,
and failing the task for that would be worse).

The files live in a temporary directory of this store alone, created on the
first spill and removed by ``close()`` (or when the store is garbage
collected or the process exits).

>>> import numpy as np
>>> store = SpillStore(target=1000)
>>> store["a"] = np.arange(100)  # 800 bytes: fits
>>> store["b"] = np.arange(100)  # 1600 bytes in all: "a", least recently used, goes to disk
>>> sorted(store.fast), sorted(store.slow)
(['b'], ['a'])
>>> store.memory, store.spilled
(800, 800)
>>> int(store["a"].sum()), store.counts["unspilled"]  # read back on demand
(4950, 1)
>>> store.close()
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import struct
import tempfile
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, Hashable

import cloudpickle

from .state.worker_state import sizeof as default_sizeof

logger = logging.getLogger("shoal.distributed.spill")

__all__ = ["SpillStore", "dump_frames", "load_frames", "write_frames", "read_frames"]

# A spill file: number of frames, then each frame's length, then the frames.
_COUNT = struct.Struct("<I")
_LENGTH = struct.Struct("<Q")


def dump_frames(value: Any) -> list:
    """``value`` as pickle protocol 5 frames: ``[stream, buffer, buffer, ...]``.

    Out-of-band buffers are views of the value's own memory (no copy).
    Plain ``pickle`` first; ``cloudpickle`` for what it cannot handle
    (lambdas, classes defined in ``__main__``).

    >>> import numpy as np
    >>> frames = dump_frames(np.arange(4))
    >>> len(frames), frames[1].nbytes
    (2, 32)
    """
    buffers: list = []

    def out_of_band(buffer: pickle.PickleBuffer) -> bool:
        try:
            buffers.append(buffer.raw())
        except BufferError:  # not contiguous: let pickle copy it into the stream
            return True
        return False  # false: keep it out of band

    try:
        stream = pickle.dumps(value, protocol=5, buffer_callback=out_of_band)
    except Exception:
        buffers.clear()
        stream = cloudpickle.dumps(value, protocol=5, buffer_callback=out_of_band)
    return [memoryview(stream), *buffers]


def load_frames(frames: list) -> Any:
    """The value ``dump_frames`` wrote.

    >>> load_frames(dump_frames({"x": [1, 2]}))
    {'x': [1, 2]}
    """
    return pickle.loads(frames[0], buffers=frames[1:])


def write_frames(path: str, frames: list) -> int:
    """Write ``frames`` to a new file at ``path``; the number of bytes written."""
    header = _COUNT.pack(len(frames)) + b"".join(_LENGTH.pack(memoryview(f).nbytes) for f in frames)
    with open(path, "wb") as file:
        file.write(header)
        for frame in frames:
            file.write(frame)
    return len(header) + sum(memoryview(f).nbytes for f in frames)


def read_frames(path: str) -> list:
    """The frames of a file ``write_frames`` wrote, each in its own writable ``bytearray``
    (so NumPy arrays loaded from them are writable, as the originals were)."""
    with open(path, "rb") as file:
        (count,) = _COUNT.unpack(file.read(_COUNT.size))
        lengths = [_LENGTH.unpack(file.read(_LENGTH.size))[0] for _ in range(count)]
        frames = []
        for length in lengths:
            frame = bytearray(length)
            if file.readinto(frame) != length:
                raise OSError(f"Spill file {path} is truncated; was the worker's local directory modified?")
            frames.append(frame)
    return frames


class SpillStore(MutableMapping):
    """``{key: value}`` kept in memory up to ``target`` bytes, the rest spilled to disk.

    ``target``: bytes of managed memory to stay under (``None``: never spill
    on its own; ``evict()`` still works). ``directory``: where to create this
    store's temporary directory (default: the system's temp dir).
    ``sizeof``: the size estimate of a value.

    Attributes: ``memory`` and ``spilled`` (bytes, by ``sizeof``, in memory
    and on disk), ``fast`` and ``slow`` (the keys in each, ``fast`` in
    least-recently-used-first order), ``counts`` (``spilled``, ``unspilled``:
    how many times values went to disk and came back; ``spilled_bytes``,
    ``unspilled_bytes``, ``disk_bytes`` written; ``spill_seconds``,
    ``unspill_seconds``), ``events`` (the latest spills and reads, as dicts
    ``kind="spill", start, stop, nbytes, key`` with wall-clock times, for the
    dashboard's task stream; ``drain_events()`` takes them).
    """

    def __init__(self, target: float | None = None, *, directory: str | None = None,
                 sizeof: Callable[[Any], int] = default_sizeof, max_events: int = 1000):
        self.target = None if target is None else int(target)
        self.parent_directory = directory
        self.sizeof = sizeof
        self.fast: OrderedDict = OrderedDict()  # key -> value, least recently used first
        self.slow: dict = {}  # key -> (path, nbytes)
        self.sizes: dict = {}  # key -> nbytes, for every key
        self.memory = 0
        self.spilled = 0
        self.unspillable: set = set()  # keys whose values failed to pickle
        self.counts = {"spilled": 0, "unspilled": 0, "spilled_bytes": 0, "unspilled_bytes": 0,
                       "disk_bytes": 0, "spill_seconds": 0.0, "unspill_seconds": 0.0}
        self._directory: str | None = None
        self._finalizer = None
        self._file_numbers = 0
        # Reads from the event loop and from task threads may interleave.
        self._lock = threading.RLock()
        self.closed = False
        self.events: deque = deque(maxlen=max_events)

    # ------------------------------------------------------------------ the directory
    @property
    def directory(self) -> str:
        """This store's own spill directory (created on first use)."""
        if self._directory is None:
            if self.closed:
                raise RuntimeError("This SpillStore is closed; it cannot spill any more.")
            if self.parent_directory is not None:
                os.makedirs(self.parent_directory, exist_ok=True)
            self._directory = tempfile.mkdtemp(prefix="shoal-spill-", dir=self.parent_directory)
            self._finalizer = weakref.finalize(self, shutil.rmtree, self._directory, ignore_errors=True)
        return self._directory

    def close(self) -> None:
        """Drop every value and remove the spill directory."""
        with self._lock:
            self.closed = True
            self.fast.clear()
            self.slow.clear()
            self.sizes.clear()
            self.memory = self.spilled = 0
            if self._finalizer is not None:
                self._finalizer()  # removes the directory, once

    # ------------------------------------------------------------------ MutableMapping
    def __setitem__(self, key: Hashable, value: Any) -> None:
        with self._lock:
            if key in self.sizes:
                self._discard(key)
            nbytes = self.sizeof(value)
            self.sizes[key] = nbytes
            if self.target is not None and nbytes > self.target and self._spill_value(key, value, nbytes):
                return  # too big to ever fit: straight to disk
            self.fast[key] = value
            self.memory += nbytes
            self._evict_to_target()

    def __getitem__(self, key: Hashable) -> Any:
        with self._lock:
            if key in self.fast:
                self.fast.move_to_end(key)
                return self.fast[key]
            if key not in self.slow:
                raise KeyError(key)
            path, nbytes = self.slow[key]
            start, wall = time.perf_counter(), time.time()
            value = load_frames(read_frames(path))
            counts = self.counts
            counts["unspilled"] += 1
            counts["unspilled_bytes"] += nbytes
            counts["unspill_seconds"] += time.perf_counter() - start
            self._event(key, "from disk", wall, nbytes)
            if self.target is None or nbytes <= self.target:
                # Back in memory as the most recently used; others may make room.
                del self.slow[key]
                self.spilled -= nbytes
                _remove(path)
                self.fast[key] = value
                self.memory += nbytes
                self._evict_to_target()
            return value

    def __delitem__(self, key: Hashable) -> None:
        with self._lock:
            if key not in self.sizes:
                raise KeyError(key)
            self._discard(key)

    def __contains__(self, key: object) -> bool:
        return key in self.sizes

    def __iter__(self) -> Iterator:
        return iter(list(self.sizes))

    def __len__(self) -> int:
        return len(self.sizes)

    def __repr__(self) -> str:
        return (f"<SpillStore {len(self.fast)} in memory ({self.memory} bytes), "
                f"{len(self.slow)} on disk ({self.spilled} bytes), target={self.target}>")

    # ------------------------------------------------------------------ spilling
    def evict(self) -> int:
        """Spill the least recently used value held in memory; the bytes freed (0 if none could go)."""
        with self._lock:
            for key in self.fast:
                if key in self.unspillable:
                    continue
                value = self.fast.pop(key)
                nbytes = self.sizes[key]
                self.memory -= nbytes
                if self._spill_value(key, value, nbytes):
                    return nbytes
                self.fast[key] = value  # could not pickle: keep it (now most recently used)
                self.memory += nbytes
                return 0
            return 0

    def _evict_to_target(self) -> None:
        if self.target is None:
            return
        while self.memory > self.target and self.evict():
            pass

    def _spill_value(self, key: Hashable, value: Any, nbytes: int) -> bool:
        """Write ``value`` to disk as ``key``'s file; False if it cannot be pickled (or the store is closed)."""
        if self.closed:  # its directory is gone; whatever still arrives stays in memory until dropped
            return False
        start, wall = time.perf_counter(), time.time()
        try:
            frames = dump_frames(value)
        except Exception as error:
            self.unspillable.add(key)
            logger.warning("Cannot spill %r to disk (%s: %s); keeping it in memory", key, type(error).__name__, error)
            return False
        self._file_numbers += 1
        path = os.path.join(self.directory, f"{self._file_numbers}.spill")
        try:
            written = write_frames(path, frames)
        except OSError as error:
            _remove(path)
            self.unspillable.add(key)
            logger.error("Cannot spill %r to %s (%s); keeping it in memory. Free disk space or set the "
                         "worker's local directory elsewhere.", key, path, error)
            return False
        self.slow[key] = (path, nbytes)
        self.spilled += nbytes
        counts = self.counts
        counts["spilled"] += 1
        counts["spilled_bytes"] += nbytes
        counts["disk_bytes"] += written
        counts["spill_seconds"] += time.perf_counter() - start
        self._event(key, "to disk", wall, nbytes)
        return True

    def _event(self, key: Hashable, direction: str, start: float, nbytes: int) -> None:
        self.events.append({"kind": "spill", "start": start, "stop": time.time(), "nbytes": nbytes,
                            "key": f"{key} {direction}"})

    def drain_events(self) -> list:
        """The spill events recorded since the last call (at most ``max_events``: the latest)."""
        with self._lock:
            events = list(self.events)
            self.events.clear()
        return events

    def _discard(self, key: Hashable) -> None:
        nbytes = self.sizes.pop(key)
        self.unspillable.discard(key)
        if key in self.fast:
            del self.fast[key]
            self.memory -= nbytes
        else:
            path, _ = self.slow.pop(key)
            self.spilled -= nbytes
            _remove(path)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
