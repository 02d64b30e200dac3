"""Services that live in a layer above this one (the dashboard), found by name at run time.

Imports point down (ARCHITECTURE.md, "Layers"): ``shoal.dashboard`` builds on
``shoal.distributed``, so the scheduler must not import it, even lazily. The
dashboard instead declares what it offers as package entry points in the group
``shoal.distributed.services`` (see ``pyproject.toml``), and the scheduler or
client looks a service up by name when a user asks for it:

- ``dashboard``: ``start(scheduler, address) -> server or None``;
- ``performance-report``: ``report(client, filename, title)``, a context manager.

>>> callable(service("dashboard"))
True
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any, Callable

__all__ = ["GROUP", "service"]

GROUP = "shoal.distributed.services"
_loaded: dict = {}


def service(name: str) -> Callable[..., Any]:
    """The object the installed entry point ``name`` of ``GROUP`` names (loaded once)."""
    if name not in _loaded:
        found = [ep for ep in entry_points(group=GROUP) if ep.name == name]
        if not found:
            known = sorted(ep.name for ep in entry_points(group=GROUP))
            raise RuntimeError(
                f"No shoal service {name!r} is installed (entry points {GROUP!r} list {known}); "
                "install shoal as a package (pip install -e .) so its metadata is there."
            )
        _loaded[name] = found[0].load()
    return _loaded[name]
