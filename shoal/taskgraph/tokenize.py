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

Normalizers are found by type along the MRO, like ``functools.singledispatch``.
NumPy and pandas normalizers are registered lazily, the first time an object of
a type from those packages is seen, so importing this module stays cheap.

Rules every normalizer keeps: return only primitives and tagged tuples; call
``normalize_token`` on the parts it contains; never let ``id()``, ``hash()`` or
set/dict iteration order leak into its result.

>>> tokenize(1, "a") == tokenize(1, "a")
True
>>> tokenize([1, 2]) == tokenize((1, 2))
False
>>> tokenize({"a": 1, "b": 2}) == tokenize({"b": 2, "a": 1})
True
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import decimal
import enum
import functools
import hashlib
import operator
import pathlib
import pickle
import sys
import threading
import types
import uuid
import weakref
from collections.abc import Callable
from typing import Any

import cloudpickle

from shoal import config as _config

__all__ = ["tokenize", "normalize_token", "TokenizationError"]


class TokenizationError(TypeError):
    """An object cannot be given a deterministic token."""


# Objects returned as they are: repr() of these is deterministic.
_ATOMS = frozenset({int, float, bool, type(None), complex})
# Longer strings and bytes are hashed so the final repr stays small.
_LONG = 4096

_local = threading.local()


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
    outer = getattr(_local, "strict", False)
    _local.strict = ensure_deterministic or outer  # a nested strict call stays strict
    try:
        tree = normalize_token(args)
        if kwargs:
            tree = (tree, normalize_token(kwargs))
    finally:
        _local.strict = outer
    text = _repr(tree)
    return hashlib.md5(text.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()


def _configured_strictness() -> bool:
    try:
        return bool(_config.config["tokenize"]["ensure-deterministic"])
    except (KeyError, TypeError):
        return False


def _repr(tree: Any) -> str:
    """The stable text of a normalized tree."""
    try:
        return repr(tree)
    except ValueError:  # an int too long for repr (sys.get_int_max_str_digits)
        return repr(_hex_big_ints(tree))


def _hex_big_ints(tree: Any) -> Any:
    if type(tree) is tuple:
        return tuple(map(_hex_big_ints, tree))
    if type(tree) is int:
        return ("int", hex(tree))
    return tree


# --------------------------------------------------------------------------------------
# Dispatch


def normalize_token(obj: Any) -> Any:
    """``obj`` as a tree of primitives and tagged tuples (see the module docstring).

    >>> normalize_token((1, "a", [2.5]))
    ('tuple', 1, 'a', ('list', 2.5))
    """
    typ = type(obj)
    if typ in _ATOMS:
        return obj
    if typ is str:
        return obj if len(obj) < _LONG else _long_str(obj)
    try:
        handler = _cache[typ]
    except KeyError:
        handler = _dispatch(typ)
    return handler(obj)


_registry: dict[type, Callable[[Any], Any]] = {}
_cache: dict[type, Callable[[Any], Any]] = {}
# Top-level module name -> functions that register normalizers for its types.
_lazy: dict[str, list[Callable[[], None]]] = {}
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
    # Order matters: an object's own protocol beats anything inherited, and Enum
    # members must not be mistaken for the str/int they may subclass.
    if getattr(typ, "__shoal_tokenize__", None) is not None:
        return _normalize_shoal_tokenize
    if issubclass(typ, enum.Enum):
        return _normalize_enum
    for base in typ.__mro__[:-1]:  # object's normalizer is the last resort below
        if base in _registry:
            return _registry[base]
    if dataclasses.is_dataclass(typ):
        return _normalize_dataclass
    return _normalize_object


# --------------------------------------------------------------------------------------
# Cycle guard: containers and objects may refer to themselves.


def _ancestors() -> dict[int, int]:
    try:
        return _local.ancestors
    except AttributeError:
        _local.ancestors = {}
        return _local.ancestors


def _guarded(tag: str, normalize_children: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Wrap a container normalizer so that a reference back to an ancestor
    becomes ``("cycle", depth)`` instead of infinite recursion.

    Only the current path is tracked, not everything seen: ``[x, x]`` and
    ``[x, copy(x)]`` are equal values and get equal tokens.  Subclasses of
    builtin containers keep their type's name in the tag.
    """

    def normalize(obj):
        ancestors = _ancestors()
        key = id(obj)
        if key in ancestors:
            return ("cycle", ancestors[key])
        ancestors[key] = len(ancestors)
        try:
            return (_tag(tag, obj), *normalize_children(obj))
        finally:
            del ancestors[key]

    return normalize


_BUILTIN_CONTAINERS = frozenset({tuple, list, dict, set, frozenset})


def _tag(tag: str, obj: Any) -> str:
    typ = type(obj)
    return tag if typ in _BUILTIN_CONTAINERS else f"{tag}:{_type_name(typ)}"


# --------------------------------------------------------------------------------------
# Builtin types


def _long_str(obj: str) -> tuple:
    data = obj.encode("utf-8", "surrogatepass")
    return ("long-str", hashlib.sha1(data, usedforsecurity=False).hexdigest(), len(obj))


def _type_name(typ: type) -> str:
    return f"{typ.__module__}.{typ.__qualname__}"


@register(bytes)
def _normalize_bytes(obj: bytes) -> Any:
    if type(obj) is not bytes:
        return (_type_name(type(obj)), _normalize_bytes(bytes(obj)))
    if len(obj) < _LONG:
        return obj
    return ("long-bytes", hashlib.sha1(obj, usedforsecurity=False).hexdigest(), len(obj))


@register((bytearray, memoryview))
def _normalize_buffer(obj) -> tuple:
    view = memoryview(obj)
    return (type(obj).__name__, view.format, view.shape, _normalize_bytes(view.tobytes()))


@register((int, float, complex, str))
def _normalize_atom_subclass(obj) -> tuple:
    # Exact int/float/str never get here (see normalize_token); subclasses keep
    # their type name so that e.g. a str subclass differs from the str.
    for base in (int, float, complex, str):
        if isinstance(obj, base):
            return (_type_name(type(obj)), normalize_token(base(obj)))
    raise AssertionError(type(obj))  # pragma: no cover


@register(tuple)
def _normalize_tuple(obj: tuple) -> tuple:
    # No cycle guard: a tuple can only reach itself through a list, dict or
    # object, and those are guarded.  Tuples are the hot path of tokenize.
    return (_tag("tuple", obj), *map(normalize_token, obj))


register(list, _guarded("list", lambda obj: map(normalize_token, obj)))


def _sorted_items(obj: dict) -> list[str]:
    # Sorting the reprs of normalized items orders any mix of key types
    # deterministically without ever comparing the keys themselves.
    return sorted(_repr((normalize_token(k), normalize_token(v))) for k, v in obj.items())


def _dict_items(obj: dict) -> list:
    if isinstance(obj, collections.OrderedDict):  # its order is part of its value
        items = [_repr((normalize_token(k), normalize_token(v))) for k, v in obj.items()]
    else:
        items = _sorted_items(obj)
    factory = getattr(obj, "default_factory", None)
    return items if factory is None else [normalize_token(factory), *items]


def _sorted_elements(obj) -> list[str]:
    return sorted(_repr(normalize_token(x)) for x in obj)


register(dict, _guarded("dict", _dict_items))
register(set, _guarded("set", _sorted_elements))
register(frozenset, _guarded("frozenset", _sorted_elements))


# Small value types whose value is a few attributes.
_SIMPLE_NORMALIZERS: dict[type, Callable[[Any], tuple]] = {
    type(Ellipsis): lambda obj: ("ellipsis",),
    type(NotImplemented): lambda obj: ("notimplemented",),
    slice: lambda obj: ("slice", *map(normalize_token, (obj.start, obj.stop, obj.step))),
    range: lambda obj: ("range", obj.start, obj.stop, obj.step),
    types.ModuleType: lambda obj: ("module", obj.__name__),
    pathlib.PurePath: lambda obj: ("path", type(obj).__name__, str(obj)),
    datetime.datetime: lambda obj: (
        "datetime", _type_name(type(obj)), obj.isoformat(), obj.fold, normalize_token(obj.tzinfo)
    ),
    datetime.date: lambda obj: ("date", _type_name(type(obj)), obj.isoformat()),
    datetime.time: lambda obj: ("time", obj.isoformat(), obj.fold, normalize_token(obj.tzinfo)),
    datetime.timedelta: lambda obj: (
        "timedelta", _type_name(type(obj)), obj.days, obj.seconds, obj.microseconds
    ),
    datetime.timezone: lambda obj: ("timezone", normalize_token(obj.utcoffset(None)), obj.tzname(None)),
    decimal.Decimal: lambda obj: ("decimal", str(obj)),
    uuid.UUID: lambda obj: ("uuid", obj.hex),
}
for _typ, _normalize in _SIMPLE_NORMALIZERS.items():
    register(_typ, _normalize)


def _normalize_enum(obj: enum.Enum) -> tuple:
    return ("enum", _type_name(type(obj)), obj.name)


# The type's name is in the tag _guarded adds, so two classes returning the
# same value still get different tokens.
_normalize_shoal_tokenize = _guarded(
    "shoal-tokenize", lambda obj: (normalize_token(obj.__shoal_tokenize__()),)
)


def _dataclass_fields(obj) -> tuple:
    return tuple((f.name, normalize_token(getattr(obj, f.name, None))) for f in dataclasses.fields(obj))


_normalize_dataclass = _guarded("dataclass", _dataclass_fields)


# --------------------------------------------------------------------------------------
# Functions, types and other callables


def _importable_name(obj) -> tuple[str, str] | None:
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
        return _random_token(obj, error)
    return (tag, hashlib.sha1(data, usedforsecurity=False).hexdigest())


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
        name = _importable_name(obj)
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
        _type_name(type(obj)),
        normalize_token(obj.func),
        normalize_token(obj.args),
        normalize_token(obj.keywords or {}),
    )


@register((operator.methodcaller, operator.itemgetter, operator.attrgetter))
def _normalize_operator(obj) -> tuple:
    # Their __reduce__ is exactly their value: (constructor, arguments); for a
    # methodcaller with keywords the constructor is a partial holding them.
    return ("operator", normalize_token(obj.__reduce__()))


# --------------------------------------------------------------------------------------
# Anything else


def _normalize_object(obj) -> Any:
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
        return ("global", _type_name(type(obj)), reduced)
    try:
        token = _normalize_reduced(obj, tuple(_materialize(reduced)))
        if getattr(_local, "strict", False):
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
    ancestors = _ancestors()
    key = id(obj)
    if key in ancestors:
        return ("cycle", ancestors[key])
    ancestors[key] = len(ancestors)
    try:
        return ("reduce", _type_name(type(obj)), *map(normalize_token, parts))
    finally:
        del ancestors[key]


def _by_pickle(obj, cause: BaseException | None) -> Any:
    for dumps in (pickle.dumps, cloudpickle.dumps):
        try:
            first, second = dumps(obj, protocol=5), dumps(obj, protocol=5)
        except Exception as error:
            cause = error
            continue
        if first == second:
            return ("pickle", hashlib.sha1(first, usedforsecurity=False).hexdigest())
        cause = None
    return _random_token(obj, cause)


def _random_token(obj, cause: BaseException | None) -> tuple:
    """A token no other object will share, or an error in strict mode."""
    if getattr(_local, "strict", False):
        reason = f": {cause}" if cause is not None else " (its pickle differs between two dumps)"
        raise TokenizationError(
            f"Cannot tokenize object of type {_type_name(type(obj))} deterministically{reason}. "
            "Give the class a __shoal_tokenize__(self) method returning a tokenizable value, "
            "or register a normalizer with shoal.taskgraph.tokenize.normalize_token.register."
        ) from cause
    return ("random", uuid.uuid4().hex)


# --------------------------------------------------------------------------------------
# NumPy and pandas, registered when their first object is seen


def _hash_buffer(buffer) -> str:
    return hashlib.sha1(buffer, usedforsecurity=False).hexdigest()


@register_lazy("numpy")
def _register_numpy() -> None:
    import numpy as np

    def normalize_dtype(dtype) -> tuple:
        # str(dtype) names structured fields; dtype.str carries byte order.
        return ("np.dtype", dtype.str, str(dtype))

    def array_content(arr) -> tuple:
        if arr.dtype.hasobject:
            # Element by element: each is an arbitrary Python object.
            return ("objects", *map(normalize_token, arr.ravel(order="C").tolist()))
        if arr.flags.c_contiguous and arr.dtype.itemsize > 0:
            data = arr.reshape(-1).view(np.uint8)
        else:  # views, Fortran order: hash the logical (C-order) content
            data = arr.tobytes(order="C")
        return ("bytes", _hash_buffer(data))

    @register(np.ndarray)
    def normalize_array(arr) -> tuple:
        dtype = normalize_dtype(arr.dtype)
        return ("np.ndarray", _type_name(type(arr)), arr.shape, dtype, array_content(arr))

    @register(np.ma.MaskedArray)
    def normalize_masked(arr) -> tuple:
        return (
            "np.ma",
            normalize_array(arr.data),
            normalize_array(np.ma.getmaskarray(arr)),
            normalize_token(arr.fill_value),
        )

    @register(np.generic)
    def normalize_scalar(obj) -> tuple:
        if obj.dtype.hasobject:  # pragma: no cover - numpy never makes object scalars
            return ("np.scalar", normalize_token(obj.item()))
        return ("np.scalar", normalize_dtype(obj.dtype), _normalize_bytes(obj.tobytes()))

    register(np.dtype, normalize_dtype)

    @register(np.ufunc)
    def normalize_ufunc(obj) -> tuple:
        name = _importable_name(obj)
        return ("np.ufunc", *name) if name else ("np.ufunc", obj.__name__)


@register_lazy("pandas")
def _register_pandas() -> None:
    import numpy as np
    import pandas as pd
    from pandas.api.extensions import ExtensionArray, ExtensionDtype

    from pandas.api.types import infer_dtype
    from pandas.arrays import NumpyExtensionArray

    hash_array = pd.util.hash_array

    def hashed(values) -> str:
        return _hash_buffer(np.ascontiguousarray(values, dtype=np.uint64))

    @register(pd.Index)
    def normalize_index(idx) -> tuple:
        if isinstance(idx, pd.RangeIndex):  # cheap: never materialize the values
            content = (("range", idx.start, idx.stop, idx.step),)
        elif isinstance(idx, pd.MultiIndex):
            content = tuple(normalize_token(idx.get_level_values(i).array) for i in range(idx.nlevels))
        else:
            content = (normalize_token(idx.array),)
        return ("pd.Index", type(idx).__name__, normalize_token(list(idx.names)), *content)

    @register(pd.Series)
    def normalize_series(s) -> tuple:
        return ("pd.Series", normalize_token(s.name), normalize_token(s.index), normalize_token(s.array))

    @register(pd.DataFrame)
    def normalize_frame(df) -> tuple:
        columns = tuple(normalize_token(df.iloc[:, i].array) for i in range(df.shape[1]))
        return ("pd.DataFrame", normalize_token(df.columns), normalize_token(df.index), *columns)

    @register(ExtensionArray)
    def normalize_extension_array(arr) -> tuple:
        if isinstance(arr, NumpyExtensionArray):
            values = arr.to_numpy()
            if values.dtype.hasobject and infer_dtype(values, skipna=False) == "string":
                # Fast path for the common object column of str; hash_array would
                # conflate 1 and "1" in mixed columns, so those go element-wise.
                return ("pd.strings", len(values), hashed(hash_array(values)))
            return ("pd.numpy", normalize_token(values))
        if isinstance(arr, pd.Categorical):
            content = normalize_token(arr.codes)
        else:
            # The NA mask is hashed too, because hash_array's hash for NA could
            # coincide with a real value's.
            content = (hashed(hash_array(arr)), normalize_token(np.asarray(arr.isna())))
        return ("pd.array", type(arr).__name__, normalize_token(arr.dtype), len(arr), content)

    @register(pd.api.types.CategoricalDtype)
    def normalize_categorical_dtype(dtype) -> tuple:
        categories = None if dtype.categories is None else normalize_token(dtype.categories)
        return ("pd.CategoricalDtype", categories, dtype.ordered)

    @register(ExtensionDtype)
    def normalize_extension_dtype(dtype) -> tuple:
        return ("pd.dtype", _type_name(type(dtype)), str(dtype), repr(dtype))

    @register(pd.Timestamp)
    def normalize_timestamp(ts) -> tuple:
        return ("pd.Timestamp", ts.isoformat(), ts.unit, str(ts.tz))

    @register(pd.Timedelta)
    def normalize_pd_timedelta(td) -> tuple:
        return ("pd.Timedelta", td.isoformat(), td.unit)

    @register(type(pd.NaT))
    def normalize_nat(obj) -> tuple:
        return ("pd.NaT",)

    @register(type(pd.NA))
    def normalize_na(obj) -> tuple:
        return ("pd.NA",)

    @register(pd.Period)
    def normalize_period(p) -> tuple:
        return ("pd.Period", str(p), p.freqstr)

    @register(pd.Interval)
    def normalize_interval(iv) -> tuple:
        return ("pd.Interval", normalize_token(iv.left), normalize_token(iv.right), iv.closed)

    @register(pd.tseries.offsets.BaseOffset)
    def normalize_offset(offset) -> tuple:
        return ("pd.offset", type(offset).__name__, offset.freqstr, offset.n)
