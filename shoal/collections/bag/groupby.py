"""``Bag.groupby``: every element moved to the partition that owns its key.

Two shuffles, chosen with ``shuffle=`` (default: config ``bag.shuffle``,
``'disk'``, as in Dask):

- ``'tasks'``: each input partition is split into ``npartitions`` groups by
  the hash of the key (one task per input partition), and output partition
  ``j`` is one task reading group ``j`` of every split. Data moves through
  the scheduler, so it works on every scheduler (also a cluster).
- ``'disk'``: each split task writes its groups as pickle files into a
  temporary directory, ``<tmp>/shoal-shuffle-<id>/<j>/<i>.pkl`` (partd-like
  spill files), and returns only a count; output task ``j`` reads the files of
  group ``j`` after every split has finished (a barrier task) and deletes
  them; the last output task removes the directory. Only small values travel
  between processes, so it suits the processes scheduler (on 1M records in 8
  partitions it took 5.7 s there, where ``'tasks'`` took 30 s: every output
  task receives every split through a pipe). It needs all workers on one
  machine: each reader checks it found as many elements as were written for
  its group, so a cluster without a shared file system raises an error
  instead of losing data (use ``'tasks'`` there). A computation that reads only some output
  partitions (``take``) leaves files behind: they are removed when the
  process that built the graph exits.

The partition of a key is ``stable_hash(key) % npartitions``, which must be
the same in every worker process. Python's ``hash()`` of ``str``/``bytes`` is
salted per process (PYTHONHASHSEED), so strings and bytes are hashed with
``zlib.crc32`` of their UTF-8 bytes; numbers use ``hash()`` (numeric hashes are
not salted, and ``1 == 1.0 == True`` hash alike), tuples and frozensets
combine their elements' hashes, and anything else falls back to ``tokenize``
(deterministic, but slow: prefer str/number/tuple keys).

Within a group, values keep the order of the input (partition by partition).
"""

from __future__ import annotations

import atexit
import numbers
import operator
import os
import pickle
import shutil
import tempfile
import uuid
import zlib
from typing import Any, Callable

from ... import config
from ...taskgraph.core import Ref, Task
from ...taskgraph.expr import Expr
from ...taskgraph.tokenize import tokenize
from .partition import funcname

__all__ = ["groupby", "stable_hash", "HashSplit", "GroupCollect", "DiskSplit", "DiskCollect"]

_MASK = 0xFFFFFFFFFFFFFFFF


def stable_hash(key: Any) -> int:
    """A hash of ``key`` that is the same in every process (unlike ``hash('a')``).

    >>> stable_hash("apple") == stable_hash("apple"), stable_hash(1) == stable_hash(1.0)
    (True, True)
    """
    kind = type(key)
    if kind is str:
        return zlib.crc32(key.encode("utf-8", "surrogatepass"))
    if kind is int:
        return hash(key) & _MASK
    if kind is bytes:
        return zlib.crc32(key)
    if key is None:
        return 0  # hash(None) depends on None's address in Python < 3.12
    if kind is tuple:
        h = 0x345678
        for item in key:
            h = ((h * 1000003) ^ stable_hash(item)) & _MASK
        return h
    if kind is frozenset:
        h = 0
        for item in key:
            h ^= stable_hash(item)
        return h
    if isinstance(key, numbers.Number):
        return hash(key) & _MASK
    if isinstance(key, str):
        return stable_hash(str(key))
    return int(tokenize(key)[:16], 16)


def _split(partition: list, grouper: Callable, n: int, index: int = 0) -> list:
    groups: list = [[] for _ in range(n)]
    try:
        for x in partition:
            k = grouper(x)
            groups[stable_hash(k) % n].append((k, x))
    except Exception as exc:
        # say where, as element-wise operations do: a key function often
        # fails on one malformed record among many
        note = f"(in partition {index} of the bag, during groupby({funcname(grouper)}))"
        if note not in getattr(exc, "__notes__", ()):
            exc.add_note(note)
        raise
    return groups


def _group_pairs(pair_lists) -> list:
    grouped: dict = {}
    for pairs in pair_lists:
        for k, x in pairs:
            values = grouped.get(k)
            if values is None:
                grouped[k] = [x]
            else:
                values.append(x)
    return list(grouped.items())


# ------------------------------------------------------------------ tasks shuffle


class HashSplit(Expr):
    """Each partition of ``bag`` as ``npartitions`` lists of ``(key, element)``."""

    _parameters = ["bag", "grouper", "npartitions_out"]

    @property
    def npartitions(self) -> int:
        return self.bag.npartitions

    def _task(self, index: int):
        return Task(self._key(index), _split, Ref(self.bag._key(index)), self.grouper, self.npartitions_out, index)


def _collect(j: int, *splits: list) -> list:
    return _group_pairs(split[j] for split in splits)


class GroupCollect(Expr):
    """Output partition ``j``: group ``j`` of every split, grouped by key."""

    _parameters = ["splits", "npartitions"]
    _is_shuffle = True

    def _task(self, index: int):
        refs = [Ref(self.splits._key(i)) for i in range(self.splits.npartitions)]
        return Task(self._key(index), _collect, index, *refs)


# ------------------------------------------------------------------ disk shuffle

_directories: set = set()


@atexit.register
def _remove_leftover_directories() -> None:
    for directory in list(_directories):
        shutil.rmtree(directory, ignore_errors=True)


def _disk_split(partition: list, grouper: Callable, n: int, directory: str, index: int) -> list:
    """Write the groups of one partition; returns how many elements went to each group."""
    counts = [0] * n
    for j, pairs in enumerate(_split(partition, grouper, n, index)):
        if not pairs:
            continue
        folder = os.path.join(directory, str(j))
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"{index:08d}.pkl"), "wb") as f:
            pickle.dump(pairs, f, protocol=pickle.HIGHEST_PROTOCOL)
        counts[j] = len(pairs)
    return counts


class DiskSplit(Expr):
    """Each partition of ``bag`` written into group files under ``directory``; the value is a count."""

    _parameters = ["bag", "grouper", "npartitions_out", "directory"]

    @property
    def npartitions(self) -> int:
        return self.bag.npartitions

    def _task(self, index: int):
        return Task(self._key(index), _disk_split, Ref(self.bag._key(index)), self.grouper,
                    self.npartitions_out, self.directory, index)


def _barrier(*counts: list) -> list:
    """Elements written per group, over all splits: the readers check they find them all."""
    return [sum(column) for column in zip(*counts)]


def _read_group(directory: str, j: int, expected: int) -> list:
    folder = os.path.join(directory, str(j))
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        names = []

    def load():
        for name in names:
            with open(os.path.join(folder, name), "rb") as f:
                yield pickle.load(f)

    found = 0

    def counted():
        nonlocal found
        for pairs in load():
            found += len(pairs)
            yield pairs

    result = _group_pairs(counted())
    if found != expected:
        raise RuntimeError(
            f"groupby(shuffle='disk'): group {j} should hold {expected} elements but its spill files under "
            f"{folder!r} hold {found}. The files are written and read by the workers, so they must share "
            "one file system (a single machine); use shuffle='tasks' on a cluster."
        )
    shutil.rmtree(folder, ignore_errors=True)
    try:
        os.rmdir(directory)  # succeeds only for the last group to finish
    except OSError:
        pass
    return result


def _disk_collect(directory: str, j: int, counts: list) -> list:
    return _read_group(directory, j, counts[j])


class DiskCollect(Expr):
    """Output partition ``j``: the files of group ``j``, read after every split is written."""

    _parameters = ["splits", "npartitions", "directory"]
    _is_shuffle = True

    def _layer(self) -> dict:
        barrier = (f"{self._name}-barrier", 0)
        layer = {barrier: Task(barrier, _barrier, *[Ref(self.splits._key(i)) for i in range(self.splits.npartitions)])}
        for j in range(self.npartitions):
            key = self._key(j)
            layer[key] = Task(key, _disk_collect, self.directory, j, Ref(barrier))
        return layer

    def _explain_args(self) -> dict:
        return {"shuffle": "disk"}


# ------------------------------------------------------------------ the method


def groupby(bag, grouper: Any, npartitions: int | None = None, shuffle: str | None = None):
    from .core import Bag

    if not callable(grouper):
        grouper = operator.itemgetter(grouper)
    npartitions = npartitions or bag.npartitions
    if not isinstance(npartitions, int) or npartitions < 1:
        raise ValueError(f"groupby: npartitions must be a positive integer, got {npartitions!r}")
    shuffle = shuffle or config.get("bag.shuffle", None) or "disk"
    if shuffle == "tasks":
        return Bag(GroupCollect(HashSplit(bag.expr, grouper, npartitions), npartitions))
    if shuffle == "disk":
        directory = os.path.join(tempfile.gettempdir(), f"shoal-shuffle-{uuid.uuid4().hex}")
        _directories.add(directory)
        return Bag(DiskCollect(DiskSplit(bag.expr, grouper, npartitions, directory), npartitions, directory))
    raise ValueError(f"groupby: shuffle must be 'tasks' or 'disk', got {shuffle!r}")
