"""``StoreLock``: the lock ``store`` holds around each write into its target (and ``LockedReads``, the
same lock around reads for ``from_array(..., lock=True)``).

Many targets are not safe to write from several threads at once: a zarr
array read-modify-writes a whole compressed chunk for a partial write, so two
blocks landing in one zarr chunk lose each other's values; h5py is not
thread-safe at all. ``store(..., lock=True)`` therefore serializes the writes
of one call. The lock travels inside tasks, so it pickles by name: every copy
in one process is the same ``threading.Lock`` (a copy sent to another process
becomes that process's lock, which is all a per-process lock can promise).

>>> import pickle
>>> lock = StoreLock()
>>> pickle.loads(pickle.dumps(lock)).lock is lock.lock
True
"""

from __future__ import annotations

import threading
import uuid
import weakref

__all__ = ["StoreLock", "LockedReads"]


class StoreLock:
    """A ``threading.Lock`` named by a token, shared by every unpickled copy in the same process."""

    _locks: "weakref.WeakValueDictionary[str, threading.Lock]" = weakref.WeakValueDictionary()
    _registry_lock = threading.Lock()

    def __init__(self, token: str | None = None):
        self.token = token or uuid.uuid4().hex
        with StoreLock._registry_lock:
            lock = StoreLock._locks.get(self.token)
            if lock is None:
                lock = StoreLock._locks[self.token] = threading.Lock()
        self.lock = lock

    def __enter__(self) -> "StoreLock":
        self.lock.acquire()
        return self

    def __exit__(self, *exc_info) -> None:
        self.lock.release()

    def __getstate__(self) -> str:
        return self.token

    def __setstate__(self, token: str) -> None:
        self.__init__(token)

    def __repr__(self) -> str:
        return f"StoreLock({self.token[:8]})"


class LockedReads:
    """An array-like whose every read (``data[index]``) holds ``lock``: sources that are not safe to read
    from several threads at once (``from_array(h5py_dataset, lock=True)``)."""

    def __init__(self, data, lock):
        self.data, self.lock = data, lock

    def __getitem__(self, index):
        with self.lock:
            return self.data[index]

    def __getattr__(self, name: str):
        if name in ("data", "lock"):  # not set yet (while unpickling)
            raise AttributeError(name)
        return getattr(self.data, name)  # shape, dtype, chunks, ... of the source

    def __reduce__(self):
        return (LockedReads, (self.data, self.lock))
