"""Normalizers chosen by a type's traits, and the last resort for any object.

Registered as rules (see ``dispatch.register_rule``), in this order:

1. before the registry: a ``__shoal_tokenize__`` method (the object says what
   its value is), then Enum members (which must not pass for the str or int
   they may subclass);
2. after it: dataclasses by their fields, then any other object by its pickle
   recipe (``__reduce_ex__``), by its pickle bytes when both of two dumps
   agree, and otherwise by a random token (an error in strict mode).
"""

from __future__ import annotations

import dataclasses
import enum
import pickle
from typing import Any

import cloudpickle

from .dispatch import normalize_token, register_rule
from .guards import TokenizationError, guarded, is_strict, random_token, type_name, within_cycle_guard
from .hashing import content_digest

__all__ = ["normalize_object"]


# The type's name is in the tag ``guarded`` adds, so two classes returning the
# same value still get different tokens.
_normalize_shoal_tokenize = guarded(
    "shoal-tokenize", lambda obj: (normalize_token(obj.__shoal_tokenize__()),)
)


def _normalize_enum(obj: enum.Enum) -> tuple:
    return ("enum", type_name(type(obj)), obj.name)


def _dataclass_fields(obj) -> tuple:
    return tuple((f.name, normalize_token(getattr(obj, f.name, None))) for f in dataclasses.fields(obj))


_normalize_dataclass = guarded("dataclass", _dataclass_fields)


def normalize_object(obj) -> Any:
    """Objects without a normalizer: their pickle recipe, or a random token.

    First try ``__reduce_ex__`` and normalize the parts (so dict/set state is
    ordered deterministically and arrays are hashed by content); if that fails,
    pickle the object twice and use the bytes when both dumps agree.
    """
    try:
        reduced = obj.__reduce_ex__(4)
    except Exception as error:
        return _by_pickle(obj, error)
    if isinstance(reduced, str):  # a singleton pickled by name
        return ("global", type_name(type(obj)), reduced)
    try:
        token = _normalize_reduced(obj, tuple(_materialize(reduced)))
        if is_strict():
            # Strict mode promises determinism, so check the recipe is stable.
            again = _normalize_reduced(obj, tuple(_materialize(obj.__reduce_ex__(4))))
            if again != token:
                return _by_pickle(obj, None)
        return token
    except (TokenizationError, RecursionError) as error:
        return _by_pickle(obj, error)


def _materialize(reduced: tuple):
    # Items 4 and 5 of a reduce tuple may be iterators; tokenize what they yield.
    for i, part in enumerate(reduced):
        if i == 3 and part is not None:
            yield ("listitems", *list(part))
        elif i == 4 and part is not None:
            yield dict(part)
        else:
            yield part


def _normalize_reduced(obj, parts: tuple) -> Any:
    return within_cycle_guard(
        obj, lambda obj: ("reduce", type_name(type(obj)), *map(normalize_token, parts))
    )


def _by_pickle(obj, cause: BaseException | None) -> Any:
    for dumps in (pickle.dumps, cloudpickle.dumps):
        try:
            first, second = dumps(obj, protocol=5), dumps(obj, protocol=5)
        except Exception as error:
            cause = error
            continue
        if first == second:
            return ("pickle", content_digest(first))
        cause = None
    return random_token(obj, cause)


register_rule(lambda typ: getattr(typ, "__shoal_tokenize__", None) is not None, _normalize_shoal_tokenize,
              before_registry=True)
register_rule(lambda typ: issubclass(typ, enum.Enum), _normalize_enum, before_registry=True)
register_rule(dataclasses.is_dataclass, _normalize_dataclass, before_registry=False)
register_rule(lambda typ: True, normalize_object, before_registry=False)
