"""The sync scheduler: every task in the calling thread, one at a time.

Use it to debug: a failing task raises in your thread with its traceback, so
``pdb.post_mortem()`` (or ``%debug``) lands in your function.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from .callbacks import Callback
from .engine import Executor, execute


class SyncExecutor(Executor):
    name = "sync"

    def __init__(self):
        self._done: list = []

    def submit(self, batch: list, results: Mapping) -> None:
        done = self._done
        for key, node in batch:
            try:
                done.append((key, True, node(results), 0, None))
            except Exception as exc:
                done.append((key, False, exc, 0, None))

    def collect(self) -> list:
        done, self._done = self._done, []
        return done


def get(graph: Mapping, keys: Any, callbacks: Iterable[Callback] | None = None, **kwargs) -> Any:
    """Compute ``keys`` of ``graph`` in this thread."""
    return execute(graph, keys, SyncExecutor(), callbacks=callbacks)
