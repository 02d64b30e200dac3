"""Normalizers for Python's builtin values: bytes, containers and small value types.

Containers other than tuples go through the cycle guard (see ``guards``), and
unordered ones are sorted by the text of their normalized items, so their token
never depends on hash order.
"""

from __future__ import annotations

import collections
import datetime
import decimal
import pathlib
import types
import uuid
from collections.abc import Callable
from typing import Any

from .dispatch import LONG_VALUE, normalize_token, register
from .guards import container_tag, guarded, type_name
from .hashing import content_digest, stable_repr

__all__ = ["normalize_bytes"]


@register(bytes)
def normalize_bytes(obj: bytes) -> Any:
    """Short bytes as they are, long ones by digest; subclasses keep their type's name."""
    if type(obj) is not bytes:
        return (type_name(type(obj)), normalize_bytes(bytes(obj)))
    if len(obj) < LONG_VALUE:
        return obj
    return ("long-bytes", content_digest(obj), len(obj))


@register((bytearray, memoryview))
def _normalize_buffer(obj) -> tuple:
    view = memoryview(obj)
    return (type(obj).__name__, view.format, view.shape, normalize_bytes(view.tobytes()))


@register((int, float, complex, str))
def _normalize_atom_subclass(obj) -> tuple:
    # Exact int/float/str never get here (see normalize_token); subclasses keep
    # their type name so that e.g. a str subclass differs from the str.
    for base in (int, float, complex, str):
        if isinstance(obj, base):
            return (type_name(type(obj)), normalize_token(base(obj)))
    raise AssertionError(type(obj))  # pragma: no cover


@register(tuple)
def _normalize_tuple(obj: tuple) -> tuple:
    # No cycle guard: a tuple can only reach itself through a list, dict or
    # object, and those are guarded.  Tuples are the hot path of tokenize.
    return (container_tag("tuple", obj), *map(normalize_token, obj))


register(list, guarded("list", lambda obj: map(normalize_token, obj)))


def _item_text(key, value) -> str:
    return stable_repr((normalize_token(key), normalize_token(value)))


def _dict_items(obj: dict) -> list:
    if isinstance(obj, collections.OrderedDict):  # its order is part of its value
        items = [_item_text(k, v) for k, v in obj.items()]
    else:
        # Sorting the texts of normalized items orders any mix of key types
        # deterministically without ever comparing the keys themselves.
        items = sorted(_item_text(k, v) for k, v in obj.items())
    factory = getattr(obj, "default_factory", None)
    return items if factory is None else [normalize_token(factory), *items]


def _sorted_elements(obj) -> list[str]:
    return sorted(stable_repr(normalize_token(x)) for x in obj)


register(dict, guarded("dict", _dict_items))
register(set, guarded("set", _sorted_elements))
register(frozenset, guarded("frozenset", _sorted_elements))


# Small value types whose value is a few attributes.
_SIMPLE_NORMALIZERS: dict[type, Callable[[Any], tuple]] = {
    type(Ellipsis): lambda obj: ("ellipsis",),
    type(NotImplemented): lambda obj: ("notimplemented",),
    slice: lambda obj: ("slice", *map(normalize_token, (obj.start, obj.stop, obj.step))),
    range: lambda obj: ("range", obj.start, obj.stop, obj.step),
    types.ModuleType: lambda obj: ("module", obj.__name__),
    pathlib.PurePath: lambda obj: ("path", type(obj).__name__, str(obj)),
    datetime.datetime: lambda obj: (
        "datetime", type_name(type(obj)), obj.isoformat(), obj.fold, normalize_token(obj.tzinfo)
    ),
    datetime.date: lambda obj: ("date", type_name(type(obj)), obj.isoformat()),
    datetime.time: lambda obj: ("time", obj.isoformat(), obj.fold, normalize_token(obj.tzinfo)),
    datetime.timedelta: lambda obj: (
        "timedelta", type_name(type(obj)), obj.days, obj.seconds, obj.microseconds
    ),
    datetime.timezone: lambda obj: ("timezone", normalize_token(obj.utcoffset(None)), obj.tzname(None)),
    decimal.Decimal: lambda obj: ("decimal", str(obj)),
    uuid.UUID: lambda obj: ("uuid", obj.hex),
}
for _typ, _normalize in _SIMPLE_NORMALIZERS.items():
    register(_typ, _normalize)
