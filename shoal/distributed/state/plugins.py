"""The observer interface of the scheduler (the dashboard is one observer)."""

from __future__ import annotations

from typing import Any, Hashable

Key = Hashable


class SchedulerPlugin:
    """Base class for observers of the scheduler (the dashboard is one).

    Hooks are called after the change; their exceptions are logged as
    ``plugin-error`` events and never disturb the scheduler.
    """

    def transition(self, key: Key, start: str, finish: str, **info: Any) -> None:
        """A task moved from ``start`` to ``finish``; ``info`` may hold ``worker``."""

    def update_graph(self, client: str, keys: list, tasks: list, **info: Any) -> None:
        """``client`` submitted ``tasks`` (new keys) wanting ``keys``."""

    def add_worker(self, address: str, **info: Any) -> None:
        """A worker joined."""

    def remove_worker(self, address: str, **info: Any) -> None:
        """A worker left or died."""

    def add_client(self, client: str) -> None:
        """A client connected."""

    def remove_client(self, client: str) -> None:
        """A client disconnected."""
