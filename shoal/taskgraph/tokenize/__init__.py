"""Deterministic tokens: the same computation gets the same graph key.

``tokenize(*args, **kwargs)`` returns 32 hex characters that depend only on the
*values* of its arguments, never on ``id()``, ``hash()`` or PYTHONHASHSEED, so
two processes (or machines) that build the same graph agree on its keys.

Theory of operation:

1. ``normalize_token(obj)`` turns ``obj`` into a tree of primitives: ``None``,
   ``bool``, ``int``, ``float``, ``complex``, ``str``, ``bytes`` and tuples.
   Every tuple it builds starts with a tag string naming what it came from
   (``("list", 1, 2)``, ``("tuple", 1, 2)``), which keeps different kinds of
   object apart and makes the tree unambiguous.
2. ``tokenize`` hashes ``repr`` of that tree: ``repr`` of primitives is stable
   and fast (it is C code), and quotes strings so ``1`` and ``"1"`` differ.

Rules every normalizer keeps: return only primitives and tagged tuples; call
``normalize_token`` on the parts it contains; never let ``id()``, ``hash()`` or
set/dict iteration order leak into its result.

The package, one job per module:

- ``dispatch``: ``normalize_token`` and the registry that picks a normalizer
  by type (NumPy and pandas ones registered lazily, on first sight);
- ``guards``: strict mode, random tokens and the cycle guard (per thread);
- ``hashing``: the stable text of a tree and the digests;
- ``builtin_types``, ``callables``, ``objects``, ``numpy_types``,
  ``pandas_types``: the normalizers, each registering itself on import.

>>> tokenize(1, "a") == tokenize(1, "a")
True
>>> tokenize([1, 2]) == tokenize((1, 2))
False
>>> tokenize({"a": 1, "b": 2}) == tokenize({"b": 2, "a": 1})
True
"""

from __future__ import annotations

from typing import Any

from shoal import config as _config

from . import builtin_types, callables, numpy_types, objects, pandas_types
from .dispatch import normalize_token
from .guards import TokenizationError, enter_strict, leave_strict
from .hashing import tree_digest

# Importing these modules is what registers their normalizers with dispatch.
_NORMALIZER_MODULES = (builtin_types, callables, objects, numpy_types, pandas_types)

__all__ = ["tokenize", "normalize_token", "TokenizationError"]


def tokenize(*args: Any, ensure_deterministic: bool | None = None, **kwargs: Any) -> str:
    """A deterministic 32-hex-character token of the arguments.

    With ``ensure_deterministic=True`` (default: the config value
    ``tokenize.ensure-deterministic``) an object that can only get a random
    token raises ``TokenizationError`` instead.

    >>> tokenize(1, 2, x=3) == tokenize(1, 2, x=3)
    True
    >>> len(tokenize("a"))
    32
    """
    if ensure_deterministic is None:
        ensure_deterministic = _configured_strictness()
    outer = enter_strict(ensure_deterministic)
    try:
        tree = normalize_token(args)
        if kwargs:
            tree = (tree, normalize_token(kwargs))
    finally:
        leave_strict(outer)
    return tree_digest(tree)


def _configured_strictness() -> bool:
    try:
        return bool(_config.config["tokenize"]["ensure-deterministic"])
    except (KeyError, TypeError):
        return False
