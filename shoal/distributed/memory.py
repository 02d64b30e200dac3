"""A worker's memory limit and the thresholds that act on it.

Config (``distributed.worker.memory``), as fractions of the memory limit:

- ``target`` (0.6): managed bytes (results, by ``sizeof``) the ``SpillStore``
  keeps in memory; past it the least recently used go to disk;
- ``spill`` (0.7): process RSS past which the worker spills more, until its
  RSS is back under ``target``;
- ``pause`` (0.8): process RSS past which the worker starts no new tasks
  (and tells the scheduler so), resuming once back below it;
- ``terminate`` (0.95): RSS past which the nanny kills the worker.

``None`` or ``False`` turns a threshold off.

``MemoryPolicy.decide`` is the rule, without I/O: RSS in, actions out.

>>> policy = MemoryPolicy(1000, target=0.6, spill=0.7, pause=0.8)
>>> policy.decide(rss=500, paused=False)
MemoryActions(spill_bytes=0, status=None)
>>> policy.decide(rss=750, paused=False)  # past spill: free 150 bytes, down to target
MemoryActions(spill_bytes=150, status=None)
>>> policy.decide(rss=850, paused=False)
MemoryActions(spill_bytes=250, status='paused')
>>> policy.decide(rss=500, paused=True)
MemoryActions(spill_bytes=0, status='running')
"""

from __future__ import annotations

import ctypes
import math
from typing import Any, Callable, NamedTuple

import psutil

from shoal import config

from .comm.sizes import parse_bytes

__all__ = ["DEFAULTS", "parse_memory_limit", "memory_fraction", "MemoryPolicy", "MemoryActions", "process_rss",
           "trim_memory"]

DEFAULTS = {
    "distributed": {
        "worker": {
            "memory": {
                "target": 0.6,
                "spill": 0.7,
                "pause": 0.8,
                "terminate": 0.95,
                # how often the worker reads its RSS, in seconds
                "monitor-interval": 0.1,
            }
        }
    }
}

config.update_defaults(DEFAULTS)


def parse_memory_limit(limit: Any, n_workers: int = 1, *, total: int | None = None) -> int | None:
    """A worker's memory limit in bytes, or ``None`` for no limit.

    ``limit``: bytes, a string such as ``"2GB"`` or ``"512 MiB"``, a fraction
    of the machine's memory (a float in (0, 1]), ``"auto"`` (the machine's
    memory shared among ``n_workers``), or ``None``/``0`` (no limit). Never
    more than the machine has (``total``, default: psutil's total memory).

    >>> parse_memory_limit("2GB", total=8 * 10**9)
    2000000000
    >>> parse_memory_limit("auto", 4, total=8 * 10**9)
    2000000000
    >>> parse_memory_limit(0.5, total=8 * 10**9), parse_memory_limit("0.5", total=8 * 10**9)
    (4000000000, 4000000000)
    >>> parse_memory_limit(None) is None and parse_memory_limit(0) is None
    True
    >>> parse_memory_limit("lots")
    Traceback (most recent call last):
    ...
    ValueError: memory_limit='lots' is not understood; give bytes (2000000000), a size ('2GB'), a fraction of the machine's memory (0.5), 'auto' or None.
    """
    if limit is None or limit is False or limit == 0 or limit == "0":
        return None
    total = psutil.virtual_memory().total if total is None else total
    if isinstance(limit, str) and limit.strip().lower() == "auto":
        return max(1, total // max(1, n_workers))
    if isinstance(limit, str) and limit.strip().lower() in ("none", "null"):
        return None
    if isinstance(limit, str):
        # "0.5" from a command line or an environment variable is a fraction, as 0.5 is
        # (parse_bytes read it as 0 bytes: no limit at all).
        try:
            number = float(limit)
        except ValueError:
            pass
        else:
            if 0 < number <= 1 and not limit.strip().isdigit():
                limit = number
    try:
        if isinstance(limit, float) and 0 < limit <= 1:
            nbytes = int(limit * total)
        else:
            nbytes = parse_bytes(limit)
    except ValueError:
        raise ValueError(
            f"memory_limit={limit!r} is not understood; give bytes (2000000000), a size ('2GB'), "
            "a fraction of the machine's memory (0.5), 'auto' or None."
        ) from None
    return min(nbytes, total) if nbytes else None


def memory_fraction(name: str) -> float | None:
    """``distributed.worker.memory.<name>`` as a fraction, or ``None`` when turned off.

    >>> memory_fraction("pause")
    0.8
    """
    value = config.get(f"distributed.worker.memory.{name}")
    if value is None or value is False:
        return None
    try:
        fraction = float(value)
    except (TypeError, ValueError):
        fraction = math.nan  # refused below, naming the setting (float() named only the value)
    if not 0 < fraction <= 1:
        raise ValueError(f"distributed.worker.memory.{name} must be a fraction in (0, 1] or None, got {value!r}.")
    return fraction


def process_rss() -> Callable[[], int]:
    """A reader of this process's resident set size in bytes (psutil)."""
    process = psutil.Process()
    return lambda: process.memory_info().rss


def trim_memory() -> bool:
    """Ask glibc to give freed heap memory back to the system (``malloc_trim``); False where
    there is no glibc. Without it, results just spilled can keep the RSS high (freed blocks
    stay in the heap), and the worker would stay paused for memory it no longer uses.

    >>> isinstance(trim_memory(), bool)
    True
    """
    global _malloc_trim
    if _malloc_trim is None:
        try:
            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if not _malloc_trim:
        return False
    _malloc_trim(0)
    return True


_malloc_trim = None  # looked up on first use


class MemoryActions(NamedTuple):
    spill_bytes: int  # bytes of results to move to disk now
    status: str | None  # "paused" / "running" when the worker must switch, else None


class MemoryPolicy:
    """What a worker with ``memory_limit`` bytes does at a given RSS (fractions as in the config)."""

    def __init__(self, memory_limit: int, *, target: float | None = None, spill: float | None = None,
                 pause: float | None = None):
        self.memory_limit = memory_limit
        self.target = target
        self.spill = spill
        self.pause = pause

    @classmethod
    def from_config(cls, memory_limit: int) -> "MemoryPolicy":
        return cls(memory_limit, target=memory_fraction("target"), spill=memory_fraction("spill"),
                   pause=memory_fraction("pause"))

    def decide(self, rss: int, paused: bool) -> MemoryActions:
        limit = self.memory_limit
        spill_bytes = 0
        if self.spill is not None and rss > self.spill * limit:
            # Back down to the target (or the spill line, with no target): a
            # margin, so one more result does not put us over again at once.
            goal = (self.target if self.target is not None else self.spill) * limit
            spill_bytes = int(rss - goal)
        status = None
        if self.pause is not None:
            over = rss > self.pause * limit
            if over and not paused:
                status = "paused"
            elif not over and paused:
                status = "running"
        elif paused:
            status = "running"
        return MemoryActions(spill_bytes, status)

