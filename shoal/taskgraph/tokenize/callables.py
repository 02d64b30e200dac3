"""Normalizers for functions, classes and other callables.

A callable importable by name is tokenized by that name: cheap, and stable
across processes. One that cannot be named (a lambda, a closure, anything in
``__main__``, which a script or notebook may redefine) is tokenized by value,
through its cloudpickle bytes, with a cache that notices when anything the
pickle would capture is rebound.
"""

from __future__ import annotations

import functools
import operator
import sys
import types
import weakref
from collections.abc import Callable
from typing import Any

import cloudpickle

from .dispatch import normalize_token, register
from .guards import random_token, type_name
from .hashing import content_digest

__all__ = ["importable_name"]


def importable_name(obj) -> tuple[str, str] | None:
    """``(module, qualname)`` if importing that name gives back ``obj`` itself.

    Names in ``__main__`` do not count: a script or notebook cell may redefine
    them with a different body, so those are tokenized by value.
    """
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        return None
    if module == "__main__" or "<" in qualname:
        return None
    target = sys.modules.get(module)
    for part in qualname.split("."):
        target = getattr(target, part, None)
    return (module, qualname) if target is obj else None


def _by_value(obj, tag: str) -> tuple:
    """Token of a callable or class that cannot be named: its cloudpickle bytes."""
    try:
        data = cloudpickle.dumps(obj, protocol=5)
    except Exception as error:
        return random_token(obj, error)
    return (tag, content_digest(data))


# Named functions are tokenized often (once per delayed call), so remember them.
# Only importable names are cached: their token cannot change, unlike a
# closure's, whose cells can be rebound.
_named_callables: dict[Any, tuple] = {}


# Functions of a notebook or script (``__main__``, lambdas, closures) are
# tokenized by value, which costs a cloudpickle each time. Remember the token
# with a fingerprint of everything that pickle would see change: the code
# object, defaults, closure cells and the globals the code names. Rebinding
# any of them makes a new token; mutating a global object in place does not.
_by_value_functions: dict[int, tuple] = {}
_code_names: dict[types.CodeType, tuple] = {}


def _global_names(code: types.CodeType) -> tuple:
    names = _code_names.get(code)
    if names is None:
        found = set(code.co_names)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                found.update(_global_names(const))
        names = _code_names[code] = tuple(sorted(found))
    return names


def _function_fingerprint(func: types.FunctionType) -> tuple | None:
    try:
        cells = tuple(id(cell.cell_contents) for cell in func.__closure__ or ())
    except ValueError:  # an empty cell: the closure is not finished yet
        return None
    namespace = func.__globals__
    globals_ = tuple(id(namespace.get(name, _by_value_functions)) for name in _global_names(func.__code__))
    return (id(func.__code__), id(func.__defaults__), id(func.__kwdefaults__), cells, globals_)


def _function_by_value(func: types.FunctionType, tag: str) -> tuple:
    fingerprint = _function_fingerprint(func)
    cached = _by_value_functions.get(id(func))
    if cached is not None and fingerprint is not None:
        ref, known_fingerprint, token = cached
        if ref() is func and known_fingerprint == fingerprint:
            return token
    token = _by_value(func, tag)
    if fingerprint is not None and token[0] == tag:  # never cache a random token
        if len(_by_value_functions) > 10_000:
            _by_value_functions.clear()
        _by_value_functions[id(func)] = (weakref.ref(func), fingerprint, token)
    return token


def _normalize_named_or_by_value(tag: str) -> Callable[[Any], tuple]:
    def normalize(obj) -> tuple:
        try:
            return _named_callables[obj]
        except (KeyError, TypeError):  # TypeError: an unhashable callable
            pass
        name = importable_name(obj)
        if name is None:
            if type(obj) is types.FunctionType:
                return _function_by_value(obj, tag + "-pickle")
            return _by_value(obj, tag + "-pickle")
        token = (tag, *name)
        if len(_named_callables) > 100_000:  # bound the cache; names are cheap to redo
            _named_callables.clear()
        _named_callables[obj] = token
        return token

    return normalize


register(types.FunctionType, _normalize_named_or_by_value("function"))
register(type, _normalize_named_or_by_value("type"))


@register(types.BuiltinFunctionType)
def _normalize_builtin(obj) -> tuple:
    owner = obj.__self__
    if owner is None or isinstance(owner, types.ModuleType):
        module = getattr(obj, "__module__", None) or getattr(owner, "__name__", "")
        return ("builtin", module, obj.__qualname__)
    # A bound builtin method such as ``[].append``: its owner is part of its value.
    return ("builtin-method", normalize_token(owner), obj.__name__)


@register(types.MethodType)
def _normalize_method(obj) -> tuple:
    return ("method", normalize_token(obj.__self__), normalize_token(obj.__func__))


@register(functools.partial)
def _normalize_partial(obj) -> tuple:
    return (
        type_name(type(obj)),
        normalize_token(obj.func),
        normalize_token(obj.args),
        normalize_token(obj.keywords or {}),
    )


@register((operator.methodcaller, operator.itemgetter, operator.attrgetter))
def _normalize_operator(obj) -> tuple:
    # Their __reduce__ is exactly their value: (constructor, arguments); for a
    # methodcaller with keywords the constructor is a partial holding them.
    return ("operator", normalize_token(obj.__reduce__()))
