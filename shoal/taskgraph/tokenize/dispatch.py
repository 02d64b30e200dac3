"""``normalize_token`` and the registry that finds a normalizer for each type.

Normalizers are found by type along the MRO, like ``functools.singledispatch``,
and the choice is cached per type. Three ways to add one:

* ``register(types, func)``: for ``types`` and their subclasses;
* ``register_lazy("numpy")``: a function that calls ``register`` for a
  package's types, run the first time an object of a type from that package is
  seen, so importing shoal never imports the package itself;
* ``register_rule(applies_to, func, before_registry=...)``: for types picked by
  a trait rather than a base class (a ``__shoal_tokenize__`` method, being an
  Enum or a dataclass, or, last of all, anything).

This module knows no normalizer: the modules beside it register theirs here,
so the registry is the one place a type's normalizer is decided.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .guards import TokenizationError, type_name
from .hashing import content_digest

__all__ = ["normalize_token", "register", "register_lazy", "register_rule", "LONG_VALUE"]

# Objects returned as they are: repr() of these is deterministic.
_ATOMS = frozenset({int, float, bool, type(None), complex})
# Strings and bytes this long or longer are hashed so the final repr stays small.
LONG_VALUE = 4096


def normalize_token(obj: Any) -> Any:
    """``obj`` as a tree of primitives and tagged tuples (see the package docstring).

    >>> normalize_token((1, "a", [2.5]))
    ('tuple', 1, 'a', ('list', 2.5))
    """
    typ = type(obj)
    if typ in _ATOMS:
        return obj
    if typ is str:
        return obj if len(obj) < LONG_VALUE else _long_str(obj)
    try:
        handler = _cache[typ]
    except KeyError:
        handler = _dispatch(typ)
    return handler(obj)


def _long_str(obj: str) -> tuple:
    return ("long-str", content_digest(obj.encode("utf-8", "surrogatepass")), len(obj))


_registry: dict[type, Callable[[Any], Any]] = {}
_cache: dict[type, Callable[[Any], Any]] = {}
# Top-level module name -> functions that register normalizers for its types.
_lazy: dict[str, list[Callable[[], None]]] = {}
# (applies_to(type) -> bool, normalizer), tried in registration order.
_rules_before_registry: list[tuple[Callable[[type], bool], Callable[[Any], Any]]] = []
_rules_after_registry: list[tuple[Callable[[type], bool], Callable[[Any], Any]]] = []
_registry_lock = threading.RLock()


def register(types_: type | tuple[type, ...], func: Callable | None = None):
    """Register ``func(obj)`` as the normalizer for ``types_`` (and subclasses).

    Usable as ``@normalize_token.register(MyType)`` or
    ``normalize_token.register(MyType, func)``.
    """

    def decorator(func: Callable) -> Callable:
        with _registry_lock:
            for typ in types_ if isinstance(types_, tuple) else (types_,):
                _registry[typ] = func
            _cache.clear()
        return func

    return decorator(func) if func is not None else decorator


def register_lazy(toplevel: str):
    """Defer a registration until a type from module ``toplevel`` is first seen.

    The decorated function takes no arguments and calls ``register``; it may
    import ``toplevel`` because by then the user already has.
    """

    def decorator(func: Callable[[], None]) -> Callable[[], None]:
        with _registry_lock:
            _lazy.setdefault(toplevel, []).append(func)
            _cache.clear()
        return func

    return decorator


def register_rule(applies_to: Callable[[type], bool], func: Callable[[Any], Any], *, before_registry: bool) -> None:
    """Normalize with ``func`` every type for which ``applies_to(type)`` is true.

    Rules ``before_registry`` beat any registered base class (an object's own
    protocol beats anything inherited); the others apply only to types no
    registered class covers. Within each group the first rule registered wins.
    """
    with _registry_lock:
        (_rules_before_registry if before_registry else _rules_after_registry).append((applies_to, func))
        _cache.clear()


normalize_token.register = register  # type: ignore[attr-defined]
normalize_token.register_lazy = register_lazy  # type: ignore[attr-defined]


def _dispatch(typ: type) -> Callable[[Any], Any]:
    """Find (and cache) the normalizer for ``typ``."""
    with _registry_lock:
        for base in typ.__mro__:
            module = getattr(base, "__module__", None)
            toplevel = module.partition(".")[0] if isinstance(module, str) else ""
            for func in _lazy.pop(toplevel, ()):
                func()
        handler = _find_handler(typ)
        _cache[typ] = handler
        return handler


def _find_handler(typ: type) -> Callable[[Any], Any]:
    for applies_to, func in _rules_before_registry:
        if applies_to(typ):
            return func
    for base in typ.__mro__[:-1]:  # object is left to the rules after the registry
        if base in _registry:
            return _registry[base]
    for applies_to, func in _rules_after_registry:
        if applies_to(typ):
            return func
    raise TokenizationError(  # only if no catch-all rule is registered: a bug in shoal
        f"No normalizer for type {type_name(typ)}: register one with normalize_token.register."
    )
