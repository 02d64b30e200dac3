"""The per-thread guards every normalizer relies on.

Two things must hold while an object is normalized, and both are per thread
because tokenize runs in many threads at once:

* strict mode (``tokenize(..., ensure_deterministic=True)``): an object that
  could only get a random token raises ``TokenizationError`` instead;
* the cycle guard: a container or object that refers back to one of its
  ancestors becomes ``("cycle", depth)`` rather than infinite recursion.

The error and ``type_name`` live here too, since both guards speak of types.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

__all__ = [
    "TokenizationError", "type_name", "is_strict", "enter_strict", "leave_strict",
    "random_token", "within_cycle_guard", "guarded", "container_tag",
]


class TokenizationError(TypeError):
    """An object cannot be given a deterministic token."""


def type_name(typ: type) -> str:
    """``module.QualName`` of a type: part of many tokens, so subclasses differ."""
    return f"{typ.__module__}.{typ.__qualname__}"


_local = threading.local()


# --------------------------------------------------------------------------------------
# Strict mode


def is_strict() -> bool:
    """Whether the tokenize call running in this thread demands determinism."""
    return getattr(_local, "strict", False)


def enter_strict(strict: bool) -> bool:
    """Turn strict mode on for this thread if ``strict``; return the previous flag.

    A nested call cannot relax an outer strict call: strictness only adds up.
    """
    outer = is_strict()
    _local.strict = strict or outer
    return outer


def leave_strict(outer: bool) -> None:
    """Restore the flag ``enter_strict`` returned."""
    _local.strict = outer


def random_token(obj, cause: BaseException | None) -> tuple:
    """A token no other object will share, or an error in strict mode."""
    if is_strict():
        reason = f": {cause}" if cause is not None else " (its pickle differs between two dumps)"
        raise TokenizationError(
            f"Cannot tokenize object of type {type_name(type(obj))} deterministically{reason}. "
            "Give the class a __shoal_tokenize__(self) method returning a tokenizable value, "
            "or register a normalizer with shoal.taskgraph.tokenize.normalize_token.register."
        ) from cause
    return ("random", uuid.uuid4().hex)


# --------------------------------------------------------------------------------------
# Cycle guard: containers and objects may refer to themselves.


def _ancestors() -> dict[int, int]:
    """``id`` -> depth of every object on the current normalization path."""
    try:
        return _local.ancestors
    except AttributeError:
        _local.ancestors = {}
        return _local.ancestors


def within_cycle_guard(obj, build: Callable[[Any], Any]) -> Any:
    """``build(obj)``, or ``("cycle", depth)`` if ``obj`` is its own ancestor.

    Only the current path is tracked, not everything seen: ``[x, x]`` and
    ``[x, copy(x)]`` are equal values and get equal tokens.
    """
    ancestors = _ancestors()
    key = id(obj)
    if key in ancestors:
        return ("cycle", ancestors[key])
    ancestors[key] = len(ancestors)
    try:
        return build(obj)
    finally:
        del ancestors[key]


def guarded(tag: str, normalize_children: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A container normalizer: ``(tag, *normalize_children(obj))`` under the cycle guard.

    Subclasses of builtin containers keep their type's name in the tag.
    """

    def build(obj):
        return (container_tag(tag, obj), *normalize_children(obj))

    def normalize(obj):
        return within_cycle_guard(obj, build)

    return normalize


_BUILTIN_CONTAINERS = frozenset({tuple, list, dict, set, frozenset})


def container_tag(tag: str, obj: Any) -> str:
    """``tag`` for a builtin container, ``tag:module.Type`` for a subclass or other type."""
    typ = type(obj)
    return tag if typ in _BUILTIN_CONTAINERS else f"{tag}:{type_name(typ)}"
