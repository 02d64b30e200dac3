"""The graph model: keys, references and the nodes of a task graph.

Rules this file keeps:

- A graph is a ``Mapping[key, GraphNode]``. A key is a ``str`` or a tuple
  ``(name, i, j, ...)`` whose first element is a ``str``.
- Every node knows its ``dependencies`` (a frozenset of keys) from the moment
  it is built, so no scheduler ever scans arguments to discover them.
- A node is run by calling it with a mapping that holds the values of (at
  least) its dependencies: ``node(data)``. That is the only execution
  protocol; the engine, fusion and the distributed worker all use it.

Arguments of a ``Task`` are plain Python values in which ``Ref(key)`` marks
"the output of that task" and a nested ``Task`` marks "call this inline
first". Lists, tuples, dicts and sets are searched for both; every other
object is passed through untouched.
"""

from __future__ import annotations

from typing import Any, Callable, Hashable, Iterable, Mapping

Key = Hashable

_LITERAL_TYPES = frozenset(
    {int, float, str, bytes, bool, type(None), complex, slice, range, type(Ellipsis)}
)
_CONTAINER_TYPES = (list, tuple, dict, set, frozenset)

# How a Task substitutes its arguments, decided once at construction so that
# running the task does the least work that is correct.
_PLAIN = 0  # no Ref or Task anywhere in args/kwargs
_SHALLOW = 1  # Refs only at the top level of args/kwargs
_DEEP = 2  # Refs or inline Tasks nested inside containers


def is_valid_key(key: object) -> bool:
    """True for a ``str`` or a tuple whose first element is a ``str``.

    >>> is_valid_key("x"), is_valid_key(("x", 0, 1)), is_valid_key(3)
    (True, True, False)
    """
    if type(key) is str:
        return True
    return type(key) is tuple and len(key) > 0 and type(key[0]) is str


def key_name(key: Key) -> str:
    """The name part of a key: ``('sum-abc', 0)`` -> ``'sum-abc'``."""
    return key[0] if type(key) is tuple else str(key)


def key_prefix(key: Key) -> str:
    """The human part of a key's name, without its token.

    >>> key_prefix(("sum-3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d", 0))
    'sum'
    >>> key_prefix("load-file-3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d")
    'load-file'
    """
    name = key_name(key)
    head, sep, tail = name.rpartition("-")
    if sep and len(tail) >= 8 and not tail.strip("0123456789abcdef"):  # all hex digits, at C speed
        return head
    return name


class Ref:
    """A reference to the output of the task with ``key``."""

    __slots__ = ("key",)

    def __init__(self, key: Key):
        self.key = key

    def __repr__(self) -> str:
        return f"Ref({self.key!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is Ref and other.key == self.key

    def __hash__(self) -> int:
        return hash((Ref, self.key))

    def __reduce__(self):
        return (Ref, (self.key,))


class GraphNode:
    """Base of every node: a key, its dependencies, and ``__call__(data)``."""

    __slots__ = ("key", "dependencies")

    key: Key
    dependencies: frozenset

    def __call__(self, data: Mapping[Key, Any]) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def substitute(self, replacements: Mapping[Key, "GraphNode | Ref"], key: Key | None = None) -> "GraphNode":
        """A copy in which references to ``replacements`` keys are replaced.

        A replacement ``DataNode`` becomes its literal value, a ``Ref`` a
        reference to another key, and any other node an inline sub-task.
        """
        raise NotImplementedError

    def with_key(self, key: Key) -> "GraphNode":
        return self.substitute({}, key=key)


class DataNode(GraphNode):
    """A literal value stored in the graph."""

    __slots__ = ("value",)

    def __init__(self, key: Key, value: Any):
        self.key = key
        self.value = value
        self.dependencies = frozenset()

    def __call__(self, data: Mapping[Key, Any] = None) -> Any:
        return self.value

    def substitute(self, replacements, key=None):
        return self if key is None else DataNode(key, self.value)

    def __repr__(self) -> str:
        text = repr(self.value)
        if len(text) > 60:
            text = text[:57] + "..."
        return f"DataNode({self.key!r}, {text})"

    def __reduce__(self):
        return (DataNode, (self.key, self.value))


class Alias(GraphNode):
    """Another name for the output of ``target``."""

    __slots__ = ("target",)

    def __init__(self, key: Key, target: Key):
        self.key = key
        self.target = target
        self.dependencies = frozenset((target,))

    def __call__(self, data: Mapping[Key, Any]) -> Any:
        return data[self.target]

    def substitute(self, replacements, key=None):
        new_key = self.key if key is None else key
        replacement = replacements.get(self.target)
        if replacement is None:
            return self if key is None else Alias(new_key, self.target)
        if type(replacement) is Ref:
            return Alias(new_key, replacement.key)
        return replacement.with_key(new_key)

    def __repr__(self) -> str:
        return f"Alias({self.key!r} -> {self.target!r})"

    def __reduce__(self):
        return (Alias, (self.key, self.target))


class Task(GraphNode):
    """``func(*args, **kwargs)`` where arguments may hold ``Ref`` and inline ``Task``.

    >>> from operator import add
    >>> t = Task("z", add, Ref("x"), 10)
    >>> sorted(t.dependencies)
    ['x']
    >>> t({"x": 1})
    11
    """

    __slots__ = ("func", "args", "kwargs", "_mode")

    def __init__(self, key: Key, func: Callable, /, *args: Any, **kwargs: Any):
        if not callable(func):
            raise TypeError(
                f"Task {key!r}: the function must be callable, got "
                f"{type(func).__name__} {func!r:.80}"
            )
        self.key = key
        self.func = func
        self.args = args
        self.kwargs = kwargs
        deps: set = set()
        mode = _PLAIN
        for value in (*args, *kwargs.values()):
            kind = type(value)
            if kind is Ref:
                deps.add(value.key)
                mode = max(mode, _SHALLOW)
            elif kind in _LITERAL_TYPES:
                continue
            elif _collect_dependencies(value, deps):
                mode = _DEEP
        self.dependencies = frozenset(deps)
        self._mode = mode

    def __call__(self, data: Mapping[Key, Any]) -> Any:
        mode = self._mode
        if mode == _PLAIN:
            return self.func(*self.args, **self.kwargs)
        if mode == _SHALLOW:
            args = [data[a.key] if type(a) is Ref else a for a in self.args]
            if self.kwargs:
                kwargs = {k: data[v.key] if type(v) is Ref else v for k, v in self.kwargs.items()}
                return self.func(*args, **kwargs)
            return self.func(*args)
        args = [_fill(a, data) for a in self.args]
        kwargs = {k: _fill(v, data) for k, v in self.kwargs.items()}
        return self.func(*args, **kwargs)

    def substitute(self, replacements, key=None):
        new_key = self.key if key is None else key
        if not (self.dependencies & replacements.keys()):
            if key is None:
                return self
            return Task(new_key, self.func, *self.args, **self.kwargs)
        args = [_replace(a, replacements) for a in self.args]
        kwargs = {k: _replace(v, replacements) for k, v in self.kwargs.items()}
        return Task(new_key, self.func, *args, **kwargs)

    def __repr__(self) -> str:
        name = getattr(self.func, "__name__", type(self.func).__name__)
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        text = ", ".join(parts)
        if len(text) > 80:
            text = text[:77] + "..."
        return f"Task({self.key!r}, {name}({text}))"

    def __reduce__(self):
        return (_rebuild_task, (self.key, self.func, self.args, self.kwargs, self.dependencies, self._mode))


def _rebuild_task(key, func, args, kwargs, dependencies, mode):
    # Unpickling skips the argument scan: the dependencies travel with the task.
    task = Task.__new__(Task)
    task.key, task.func, task.args, task.kwargs = key, func, args, kwargs
    task.dependencies, task._mode = dependencies, mode
    return task


class Fused(GraphNode):
    """Several nodes run one after another in one call, as the node ``key``.

    ``nodes`` are in topological order and the last one's output is the
    result. Intermediate values are dropped as soon as the last node that
    reads them has run, so fusing a long chain costs no extra memory. Running
    is a loop, never recursion, so chains of any length are safe.
    """

    __slots__ = ("nodes", "_drop_after")

    def __init__(self, key: Key, nodes: Iterable[GraphNode]):
        nodes = tuple(nodes)
        if not nodes:
            raise ValueError(f"Fused {key!r}: needs at least one node")
        inner = {n.key for n in nodes}
        deps: set = set()
        last_use: dict = {}
        for i, node in enumerate(nodes):
            for dep in node.dependencies:
                if dep in inner:
                    last_use[dep] = i
                else:
                    deps.add(dep)
        drop_after: list = [[] for _ in nodes]
        for dep, i in last_use.items():
            if dep != nodes[-1].key:
                drop_after[i].append(dep)
        self.key = key
        self.nodes = nodes
        self.dependencies = frozenset(deps)
        self._drop_after = tuple(tuple(d) for d in drop_after)

    def __call__(self, data: Mapping[Key, Any]) -> Any:
        scope = {k: data[k] for k in self.dependencies}
        value = None
        for node, drop in zip(self.nodes, self._drop_after):
            value = node(scope)
            scope[node.key] = value
            for k in drop:
                del scope[k]
        return value

    def substitute(self, replacements, key=None):
        inner = {n.key for n in self.nodes}
        outer = {k: v for k, v in replacements.items() if k not in inner}
        nodes = [n.substitute(outer) for n in self.nodes]
        return Fused(self.key if key is None else key, nodes)

    def __repr__(self) -> str:
        return f"Fused({self.key!r}, {len(self.nodes)} nodes)"

    def __reduce__(self):
        return (Fused, (self.key, self.nodes))


def _collect_dependencies(value: Any, deps: set) -> bool:
    """Add keys referenced inside ``value`` to ``deps``; True if any Ref/Task found.

    Iterative, so deeply nested literal data cannot hit the recursion limit.
    """
    found = False
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is Ref:
            deps.add(item.key)
            found = True
        elif isinstance(item, GraphNode):
            deps.update(item.dependencies)
            found = True
        elif kind is dict:
            stack.extend(item.values())
        elif kind in (list, tuple, set, frozenset):
            stack.extend(item)
    return found


def _fill(value: Any, data: Mapping[Key, Any]) -> Any:
    """``value`` with every Ref replaced by its data and every inline Task run."""
    kind = type(value)
    if kind is Ref:
        return data[value.key]
    if kind in _LITERAL_TYPES:
        return value
    if isinstance(value, GraphNode):
        return value(data)
    if kind is list:
        return [_fill(v, data) for v in value]
    if kind is tuple:
        return tuple(_fill(v, data) for v in value)
    if kind is dict:
        return {k: _fill(v, data) for k, v in value.items()}
    if kind is set or kind is frozenset:
        return kind(_fill(v, data) for v in value)
    return value


def _replace(value: Any, replacements: Mapping[Key, Any]) -> Any:
    kind = type(value)
    if kind is Ref:
        new = replacements.get(value.key)
        if new is None:
            return value
        if type(new) is Ref:
            return new
        if type(new) is DataNode:
            return new.value
        return new
    if isinstance(value, GraphNode):
        return value.substitute(replacements)
    if kind is list:
        return [_replace(v, replacements) for v in value]
    if kind is tuple:
        return tuple(_replace(v, replacements) for v in value)
    if kind is dict:
        return {k: _replace(v, replacements) for k, v in value.items()}
    if kind is set or kind is frozenset:
        return kind(_replace(v, replacements) for v in value)
    return value


def dependencies_of(graph: Mapping[Key, GraphNode]) -> dict:
    """``{key: node.dependencies}`` for every node of ``graph``."""
    return {k: node.dependencies for k, node in graph.items()}


def dependents_of(graph: Mapping[Key, GraphNode]) -> dict:
    """``{key: set of keys that depend on it}``, over keys present in ``graph``."""
    dependents: dict = {k: set() for k in graph}
    for k, node in graph.items():
        for dep in node.dependencies:
            if dep in dependents:
                dependents[dep].add(k)
    return dependents
