"""Errors about the shape of a graph, worded for the person who built it."""

from __future__ import annotations

import difflib
from typing import Hashable, Iterable, Mapping


class GraphError(ValueError):
    """Base of the errors raised because a graph cannot be run as given."""


class CycleError(GraphError):
    """The graph has a cycle; ``cycle`` lists its keys in order."""

    def __init__(self, cycle: list):
        self.cycle = list(cycle)
        path = " -> ".join(repr(k) for k in [*self.cycle, self.cycle[0]])
        super().__init__(
            f"The task graph has a cycle: {path}. A task cannot depend on its own "
            "output, directly or through other tasks; check how these keys were built."
        )


class MissingDependencyError(GraphError, KeyError):
    """A task refers to a key that no task in the graph produces."""

    def __init__(self, missing: Hashable, needed_by: Hashable, known: Iterable = ()):
        self.missing = missing
        self.needed_by = needed_by
        # The task itself is never the key it meant: that would be a cycle.
        hint = _close_matches(missing, known, exclude=needed_by)
        super().__init__(
            f"Task {needed_by!r} depends on {missing!r}, which is not in the graph. "
            f"Add a task that produces {missing!r} or remove the reference.{hint}"
        )

    __str__ = ValueError.__str__


class MissingKeyError(GraphError, KeyError):
    """Keys were requested that the graph does not hold."""

    def __init__(self, missing: list, known: Iterable = ()):
        self.missing = list(missing)
        shown = ", ".join(repr(k) for k in self.missing[:5])
        more = f" and {len(self.missing) - 5} more" if len(self.missing) > 5 else ""
        hint = _tuple_of_keys_hint(self.missing[0], known) or _close_matches(self.missing[0], known)
        super().__init__(
            f"Requested key(s) {shown}{more} are not in the graph, which has "
            f"{_count(known)} keys.{hint}"
        )

    __str__ = ValueError.__str__


def check_requested_keys(keys: Iterable, graph: Mapping) -> list:
    """``keys`` as a list, once every one of them is known to be a key of ``graph``.

    Raises ``MissingKeyError`` naming the keys the graph lacks, or a
    ``TypeError`` naming a requested value that cannot be a key at all.

    >>> check_requested_keys(("a",), {"a": 1})
    ['a']
    """
    keys = list(keys)
    try:
        missing = [k for k in keys if k not in graph]
    except TypeError:  # a dict or set given as a key
        raise unhashable_key_error(keys) from None
    if missing:
        raise MissingKeyError(missing, graph)
    return keys


def unhashable_key_error(keys: list) -> TypeError:
    """The error for requested keys of which one cannot be a key (a dict, a set, ...)."""
    key = next(k for k in keys if not _hashable(k))
    return TypeError(
        f"Requested key {key!r:.80} ({type(key).__name__}) cannot be a key of a graph: keys are strings "
        "or tuples like ('name', 0). Pass one key or a (nested) list of keys."
    )


def _hashable(value) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _tuple_of_keys_hint(key: Hashable, known) -> str:
    """A tuple is one key; a tuple made of keys was probably meant as several."""
    try:
        several = type(key) is tuple and len(key) > 1 and all(k in known for k in key)
    except TypeError:
        several = False
    return f" To request several keys, pass a list: {list(key)!r:.200}." if several else ""


def _count(known) -> str:
    try:
        return str(len(known))
    except TypeError:
        return "several"


def _close_matches(key: Hashable, known: Iterable, exclude: Hashable = None) -> str:
    """A "Did you mean ...?" hint; skipped for huge graphs, where it would be slow."""
    try:
        candidates = list(known) if len(known) <= 10_000 else []
    except TypeError:
        candidates = []
    matches = difflib.get_close_matches(repr(key), [repr(k) for k in candidates if k != exclude], n=3)
    return f" Did you mean {' or '.join(matches)}?" if matches else ""
