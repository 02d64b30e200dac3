"""Delayed: lazy calls of ordinary Python functions.

``delayed(f)(x, y)`` records the call instead of making it; the result is a
``Delayed`` you can keep calling, indexing and combining with operators, and
finally ``compute()``. Each ``Delayed`` holds its own task and points at the
``Delayed`` objects it needs, so building a graph costs O(1) per call (even a
chain 100,000 calls long), and the flat graph is gathered once, iteratively,
when it is computed.
"""

from __future__ import annotations

import dataclasses
import operator
import uuid
from typing import Any, Callable, Hashable, Iterable, Mapping

from .. import config
from ..base import CollectionMethods
from ..taskgraph.core import DataNode, GraphNode, Ref, Task
from ..taskgraph.protocol import flatten_keys, is_collection
from ..taskgraph.tokenize import tokenize

__all__ = ["Delayed", "delayed"]


class Delayed(CollectionMethods):
    """A lazy value: the output ``key`` of a task graph.

    >>> from operator import add
    >>> total = delayed(add)(1, 2) * 10
    >>> total.compute(scheduler="sync")
    30
    """

    __slots__ = ("_key", "_node", "_deps", "_graph", "_length")
    __shoal_scheduler__ = "threads"
    # NumPy must defer to our reflected operators (``array + delayed``) instead
    # of broadcasting the Delayed into an object array of Delayed.
    __array_ufunc__ = None

    def __init__(
        self,
        key: Hashable,
        node: GraphNode | None,
        deps: tuple = (),
        graph: Mapping | None = None,
        length: int | None = None,
    ):
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_node", node)  # None when ``graph`` holds the key
        object.__setattr__(self, "_deps", deps)  # Delayed objects this one reads
        object.__setattr__(self, "_graph", graph)  # tasks of a wrapped collection
        object.__setattr__(self, "_length", length)  # nout, when known

    @property
    def key(self) -> Hashable:
        return self._key

    # --- the collection protocol -------------------------------------------
    def __shoal_graph__(self) -> dict:
        return merge_graphs([self])

    def __shoal_keys__(self) -> Hashable:
        return self._key

    def __shoal_postcompute__(self):
        return _identity, ()

    def __shoal_postpersist__(self):
        return _rebuild, (self._key, self._length)

    def __shoal_tokenize__(self):
        return ("Delayed", self._key)

    @classmethod
    def __shoal_merge_graphs__(cls, collections: Iterable["Delayed"]) -> dict:
        return merge_graphs(collections)

    # compute() and persist() come from CollectionMethods; only the file name differs here.
    def visualize(self, filename: str | None = "mydelayed.svg", **kwargs) -> str:
        """Draw the task graph behind this value (to ``mydelayed.svg`` by default); see ``shoal.visualize``."""
        return super().visualize(filename, **kwargs)

    # --- proxies -----------------------------------------------------------
    def __getattr__(self, attr: str) -> "Delayed":
        if attr.startswith("_"):
            raise AttributeError(f"'Delayed' object has no attribute {attr!r}")
        return DelayedAttr(self, attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        raise TypeError(f"Delayed objects are immutable: cannot set attribute {attr!r}; build a new value instead")

    def __setitem__(self, index: Any, value: Any) -> None:
        raise TypeError("Delayed objects are immutable: item assignment is not supported; build a new value instead")

    def __getitem__(self, index: Any) -> "Delayed":
        return call(operator.getitem, (self, index), {}, pure=True)

    def __call__(self, *args, pure: bool | None = None, shoal_key_name: Hashable | None = None, **kwargs) -> "Delayed":
        return call(_apply, (self, *args), kwargs, pure=pure, key=shoal_key_name)

    def __iter__(self):
        if self._length is None:
            raise TypeError(
                "Delayed objects of unknown length are not iterable; "
                "pass nout= to delayed() (e.g. delayed(f, nout=2)) to unpack results"
            )
        return (self[i] for i in range(self._length))

    def __len__(self) -> int:
        if self._length is None:
            raise TypeError("Delayed objects of unknown length have no len(); pass nout= to delayed()")
        return self._length

    def __bool__(self):
        raise TypeError(
            "The truth value of a Delayed object is not known until it is computed; "
            "call .compute() first, or move the condition into a delayed function"
        )

    def __hash__(self) -> int:
        return hash(self._key)

    def __repr__(self) -> str:
        return f"Delayed({self._key!r})"

    def __dir__(self):
        return sorted(set(dir(type(self))) | {"key", "compute", "persist", "visualize"})

    def __reduce__(self):
        # Flat, so pickling a long chain never recurses once per link.
        return (_from_graph, (self._key, merge_graphs([self]), self._length))


class DelayedAttr(Delayed):
    """``obj.attr``; calling it makes one task ``getattr(obj, attr)(*args)``."""

    __slots__ = ("_obj", "_attr")

    def __init__(self, obj: Delayed, attr: str):
        key = f"getattr-{tokenize(obj, attr)}"
        super().__init__(key, Task(key, getattr, Ref(obj._key), attr), (obj,))
        object.__setattr__(self, "_obj", obj)
        object.__setattr__(self, "_attr", attr)

    def __call__(self, *args, pure: bool | None = None, shoal_key_name: Hashable | None = None, **kwargs) -> Delayed:
        return call(_call_method, (self._obj, self._attr, *args), kwargs, pure=pure, key=shoal_key_name,
                    prefix=self._attr)


class DelayedFunction(Delayed):
    """``delayed(func)``: calling it records a call of ``func``."""

    __slots__ = ("_func", "_pure", "_nout", "_prefix")

    def __init__(self, func: Callable, name: str | None, pure: bool | None, nout: int | None):
        key = f"{name or funcname(func)}-{tokenize(func)}"
        super().__init__(key, DataNode(key, func))
        object.__setattr__(self, "_func", func)
        object.__setattr__(self, "_pure", pure)
        object.__setattr__(self, "_nout", nout)
        object.__setattr__(self, "_prefix", name)

    def __call__(self, *args, pure: bool | None = None, shoal_key_name: Hashable | None = None, **kwargs) -> Delayed:
        return call(
            self._func, args, kwargs,
            pure=self._pure if pure is None else pure,
            key=shoal_key_name, nout=self._nout, prefix=self._prefix,
        )

    def __reduce__(self):
        return (DelayedFunction, (self._func, self._prefix, self._pure, self._nout))


def delayed(obj: Any = None, *, name: str | None = None, pure: bool | None = None,
            nout: int | None = None, traverse: bool = True):
    """Wrap a function, a value or a collection so that using it builds a graph.

    - ``delayed(func)`` (or ``@delayed``): calls are recorded, not run.
      ``name`` is the prefix of their keys; ``pure=True`` names equal calls
      equally (so they are computed once), otherwise each call is new;
      ``nout=n`` makes the result unpackable into ``n`` values.
    - ``delayed(value)``: a lazy value; lists, tuples, sets and dicts holding
      Delayed objects or collections are traversed (unless ``traverse=False``).
      ``name`` is then the whole key.
    - ``delayed(collection)``: one lazy value for the computed collection.

    >>> @delayed(pure=True)
    ... def inc(x):
    ...     return x + 1
    >>> inc(1).key == inc(1).key
    True
    >>> delayed([inc(1), inc(2)]).compute(scheduler="sync")
    [2, 3]
    """
    if nout is not None and (type(nout) is not int or nout < 0):
        raise ValueError(f"delayed(nout={nout!r}): nout must be None or a non-negative int, the number of "
                         "values the call returns (e.g. nout=2 for a function returning a pair)")
    if obj is None:
        return lambda func: delayed(func, name=name, pure=pure, nout=nout, traverse=traverse)
    if isinstance(obj, Delayed):
        return obj
    if is_collection(obj):
        return _from_collection(obj, name)
    if callable(obj):
        return DelayedFunction(obj, name, pure, nout)
    if traverse and type(obj) in _CONTAINER_ITERATORS:
        obj = list(obj)  # read once, here: the key and the task must see the same items
    deps: list = []
    value = _unpack(obj, deps) if traverse else obj
    key = name or f"{type(obj).__name__}-{tokenize(obj)}"
    node = Task(key, _identity, value) if deps else DataNode(key, obj)
    return Delayed(key, node, tuple(deps), length=nout)


def call(func: Callable, args: tuple, kwargs: dict, *, pure: bool | None = None, key: Hashable | None = None,
         nout: int | None = None, prefix: str | None = None) -> Delayed:
    """The Delayed for ``func(*args, **kwargs)``, arguments unpacked.

    ``dask_key_name=`` is accepted as ``shoal_key_name=`` is, so code written
    for Dask keeps naming its keys (it would otherwise reach ``func``).
    """
    if "dask_key_name" in kwargs:
        kwargs = dict(kwargs)
        dask_key = kwargs.pop("dask_key_name")
        key = dask_key if key is None else key
    # Iterators are read once, here, so that a pure call's key reflects their items.
    args = tuple(list(a) if type(a) in _CONTAINER_ITERATORS else a for a in args)
    kwargs = {k: list(v) if type(v) in _CONTAINER_ITERATORS else v for k, v in kwargs.items()}
    deps: list = []
    task_args = [_unpack(a, deps) for a in args]
    task_kwargs = {k: _unpack(v, deps) for k, v in kwargs.items()}
    if key is None:
        if pure is None:
            pure = config.get("delayed.pure", False)
        token = tokenize(func, args, kwargs) if pure else uuid.uuid4().hex
        key = f"{prefix or funcname(func)}-{token}"
    return Delayed(key, Task(key, func, *task_args, **task_kwargs), tuple(deps), length=nout)


_CONTAINER_ITERATORS = (type(iter([])), type(iter(())), type(iter(set())))


def _unpack(value: Any, deps: list) -> Any:
    """``value`` for use as a task argument: Delayed -> Ref, containers searched."""
    if isinstance(value, Delayed):
        deps.append(value)
        return Ref(value._key)
    kind = type(value)
    if kind in (list, tuple, set, frozenset):
        items = [_unpack(v, deps) for v in value]
        if all(new is old for new, old in zip(items, value)):
            return value
        return kind(items)
    if kind is dict:
        items = {k: _unpack(v, deps) for k, v in value.items()}
        if all(items[k] is v for k, v in value.items()):
            return value
        return items
    if kind in _CONTAINER_ITERATORS:
        # iter(list_of_delayed): read it now, as Dask does; the task gets a list.
        return _unpack(list(value), deps)
    if is_collection(value):
        wrapped = _from_collection(value, None)
        deps.append(wrapped)
        return Ref(wrapped._key)
    rebuilt = _unpack_record(value, deps)
    return value if rebuilt is None else rebuilt


def _unpack_record(value: Any, deps: list) -> Task | None:
    """An inline task rebuilding a slice, namedtuple or dataclass instance
    that holds Delayed objects; None when ``value`` is none of these or holds
    none (then it is passed as it is).

    The graph model searches only plain containers, so without this a
    ``Point(delayed(x), 2)`` argument would reach the function still holding
    the Delayed object.
    """
    kind = type(value)
    if kind is slice:
        fields = (value.start, value.stop, value.step)
        parts = _unpack(fields, deps)
        return None if parts is fields else Task(None, slice, *parts)
    if isinstance(value, tuple) and hasattr(kind, "_fields"):  # a namedtuple
        parts = _unpack(tuple(value), deps)
        return None if all(new is old for new, old in zip(parts, value)) else Task(None, kind, *parts)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # Fields set in __init__ only: the class computes the others itself.
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.init}
        parts = _unpack(fields, deps)
        return None if parts is fields else Task(None, kind, **parts)
    return None


def _from_collection(coll: Any, name: str | None) -> Delayed:
    keys = coll.__shoal_keys__()
    finalize, extra = coll.__shoal_postcompute__()
    key = name or f"finalize-{tokenize(flatten_keys(keys), finalize, extra)}"
    node = Task(key, finalize, _refs(keys), *extra)
    return Delayed(key, node, (), graph=coll.__shoal_graph__())


def _refs(keys: Any) -> Any:
    if type(keys) is list:
        return [_refs(k) for k in keys]
    return Ref(keys)


def merge_graphs(roots: Iterable[Delayed]) -> dict:
    """The flat graph of every task the ``roots`` need, each visited once."""
    graph: dict = {}
    seen: set = set()
    stack = list(roots)
    while stack:
        d = stack.pop()
        if id(d) in seen:
            continue
        seen.add(id(d))
        if d._graph is not None:
            graph.update(d._graph)
        if d._node is not None:
            graph[d._key] = d._node
        stack.extend(d._deps)
    return graph


def funcname(func: Any) -> str:
    """A short name for keys: ``'add'``, ``'read_csv'``, ``'MyClass'``."""
    while hasattr(func, "func") and hasattr(func, "args"):  # functools.partial
        func = func.func
    name = getattr(func, "__name__", None) or type(func).__name__
    return "lambda" if name == "<lambda>" else name.lower() if name.isupper() else name


def _identity(value):
    return value


def _apply(func, /, *args, **kwargs):
    return func(*args, **kwargs)


def _call_method(obj, attr, /, *args, **kwargs):
    return getattr(obj, attr)(*args, **kwargs)


def _rebuild(results: Mapping, key: Hashable, length: int | None) -> Delayed:
    return Delayed(key, DataNode(key, results[key]), length=length)


def _from_graph(key: Hashable, graph: Mapping, length: int | None) -> Delayed:
    return Delayed(key, None, (), graph=graph, length=length)


def _make_operator(op: Callable, reverse: bool = False):
    if reverse:
        def method(self, other):
            return call(op, (other, self), {}, pure=True)
    else:
        def method(self, other):
            return call(op, (self, other), {}, pure=True)
    return method


def _make_unary(op: Callable):
    def method(self):
        return call(op, (self,), {}, pure=True)
    return method


_BINARY = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
    "floordiv": operator.floordiv, "mod": operator.mod, "pow": operator.pow, "matmul": operator.matmul,
    "and": operator.and_, "or": operator.or_, "xor": operator.xor,
    "lshift": operator.lshift, "rshift": operator.rshift, "divmod": divmod,
}
for _name, _op in _BINARY.items():
    setattr(Delayed, f"__{_name}__", _make_operator(_op))
    setattr(Delayed, f"__r{_name}__", _make_operator(_op, reverse=True))
for _name, _op in {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge,
                   "eq": operator.eq, "ne": operator.ne}.items():
    setattr(Delayed, f"__{_name}__", _make_operator(_op))
for _name, _op in {"neg": operator.neg, "pos": operator.pos, "abs": operator.abs,
                   "invert": operator.invert}.items():
    setattr(Delayed, f"__{_name}__", _make_unary(_op))
