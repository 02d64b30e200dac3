"""A compact wire form for task graphs: one record per layer, not one object per task.

A graph of a million tasks sent as ``{key: Task}`` costs a million pickles on
the client and a million unpickles on the scheduler. Most large graphs are
made of layers: many tasks calling **one function** with **one argument
structure** (``client.map(inc, range(n))``, a blockwise array operation).
``encode`` groups such tasks into a *template* record: the function is
pickled once, and keys and the arguments that vary are sent as columns (a
key name plus a NumPy index array for tuple keys, NumPy arrays for integer
arguments, one pickle for any other column). Anything that fits no template
(``DataNode``, ``Alias``, ``Fused``, tasks with references nested inside
containers) is pickled as it is, all of them in one pickle.

``decode`` rebuilds ``{key: node}`` on the scheduler without scanning any
argument: a template knows which columns are references, so each task's
dependencies come straight from those columns.

>>> from operator import add
>>> from shoal.taskgraph import Task, Ref, DataNode
>>> graph = {("x", i): Task(("x", i), add, i, 1) for i in range(4)}
>>> graph["total"] = Task("total", sum, [Ref(("x", i)) for i in range(4)])
>>> wire = encode(graph)
>>> len(wire["templates"]), wire["templates"][0]["n"]   # the four x tasks in one record
(1, 4)
>>> back = decode(wire)
>>> back[("x", 2)]({}), len(back["total"].dependencies)
(3, 4)
"""

from __future__ import annotations

import contextlib
import gc
import pickle
from typing import Any, Hashable, Mapping

import cloudpickle
import numpy as np

from shoal.taskgraph.core import Alias, DataNode, Fused, Ref, Task

from .comm.errors import SerializationError

__all__ = ["encode", "decode", "is_wire_graph", "paused_gc", "WIRE_VERSION", "MIN_TEMPLATE_ROWS"]

WIRE_VERSION = 1
#: A group smaller than this is sent as plain pickled nodes: a template's
#: fixed cost (one function pickle, a few columns) only pays off for many rows.
MIN_TEMPLATE_ROWS = 4

# Task._mode values (shoal.taskgraph.core): only tasks whose references are at
# the top level of their arguments fit a template.
_PLAIN, _SHALLOW = 0, 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def is_wire_graph(value: Any) -> bool:
    """Whether ``value`` is what ``encode`` returns (and not a plain ``{key: node}`` graph)."""
    return type(value) is dict and value.get("shoal-graph-wire") == WIRE_VERSION


# ---------------------------------------------------------------- encoding
def encode(graph: Mapping[Hashable, Any]) -> dict:
    """The wire form of ``graph`` (``{key: GraphNode}``): templates plus pickled leftovers.

    Raises ``SerializationError`` naming the first key whose function or
    arguments cannot be pickled.
    """
    groups: dict = {}
    shaped: dict = {}  # signature -> (nodes, their leaves, the first node's functions)
    leftovers: list = []
    for key, node in graph.items():
        signature = _signature(key, node)
        if signature is not None:
            group = groups.get(signature)
            if group is None:
                groups[signature] = [node]
            else:
                group.append(node)
            continue
        leaves: list = []
        funcs: list = []
        try:
            shape = _shape(node, leaves, funcs)
        except _NoShape:
            leftovers.append(node)
            continue
        signature = (shape, tuple(map(id, funcs)))
        group = shaped.get(signature)
        if group is None:
            shaped[signature] = ([node], [leaves], funcs)
        else:
            group[0].append(node)
            group[1].append(leaves)
    templates = []
    for nodes in groups.values():
        if len(nodes) < MIN_TEMPLATE_ROWS:
            leftovers.extend(nodes)
        else:
            templates.append(_template(nodes))
    for (shape, _), (nodes, rows, funcs) in shaped.items():
        if len(nodes) < MIN_TEMPLATE_ROWS:
            leftovers.extend(nodes)
        else:
            templates.append(_shaped_template(shape, nodes, rows, funcs))
    return {
        "shoal-graph-wire": WIRE_VERSION,
        "templates": templates,
        "nodes": _pickle_nodes(leftovers) if leftovers else None,
    }


def _signature(key: Any, node: Any) -> tuple | None:
    """What tasks must share to travel in one record; ``None`` if ``node`` fits no template."""
    if type(node) is not Task or node._mode > _SHALLOW:
        return None
    if type(key) is tuple:
        key_shape = (key[0], len(key))
    elif type(key) is str:
        key_shape = str
    else:
        return None
    # Which arguments are references is part of the structure; the function
    # is compared by identity (the same object for every task of a layer).
    arg_kinds = tuple(type(a) is Ref for a in node.args)
    kwarg_kinds = tuple((name, type(v) is Ref) for name, v in node.kwargs.items())
    return (id(node.func), key_shape, arg_kinds, kwarg_kinds)


def _template(nodes: list) -> dict:
    first = nodes[0]
    try:
        func = cloudpickle.dumps(first.func, protocol=5)
    except Exception as error:
        raise _unpicklable(first.key, "its function", first.func, error) from error
    args = []
    for i, value in enumerate(first.args):
        if type(value) is Ref:
            args.append(_ref_column([n.args[i].key for n in nodes]))
        else:
            args.append(_value_column([n.args[i] for n in nodes], nodes, f"argument {i}"))
    kwargs = {}
    for name, value in first.kwargs.items():
        if type(value) is Ref:
            kwargs[name] = _ref_column([n.kwargs[name].key for n in nodes])
        else:
            kwargs[name] = _value_column([n.kwargs[name] for n in nodes], nodes, f"keyword argument {name!r}")
    return {"n": len(nodes), "func": func, "keys": _key_column([n.key for n in nodes]), "args": args,
            "kwargs": kwargs}


class _NoShape(Exception):
    """A node holds something a shape cannot describe (a set of references, an odd dict key)."""


_SCALARS = (int, float, str, bool, type(None), bytes)


def _shape(node: Any, leaves: list, funcs: list) -> tuple:
    """The structure of ``node`` with its varying parts taken out.

    Keys (``"K"``), references (``"R"``) and literal values (``"V"``) are
    appended to ``leaves`` in walk order, functions to ``funcs``; the shape
    returned is hashable and equal for nodes that differ only in those.
    Nodes of one layer of a blockwise or reduction graph (``Fused`` chains,
    tasks with lists of references) share a shape.
    """
    kind = type(node)
    if kind is Task:
        leaves.append(node.key)
        funcs.append(node.func)
        args = tuple(_arg_shape(a, leaves, funcs) for a in node.args)
        kwargs = tuple((name, _arg_shape(v, leaves, funcs)) for name, v in node.kwargs.items())
        return ("T", args, kwargs)
    if kind is Fused:
        leaves.append(node.key)
        return ("F", tuple(_shape(n, leaves, funcs) for n in node.nodes))
    if kind is DataNode:
        leaves.append(node.key)
        return ("D", _arg_shape(node.value, leaves, funcs))
    if kind is Alias:
        leaves.append(node.key)
        leaves.append(node.target)
        return ("A",)
    raise _NoShape(kind)


def _arg_shape(value: Any, leaves: list, funcs: list) -> Any:
    kind = type(value)
    if kind is Ref:
        leaves.append(value.key)
        return "R"
    if kind in _SCALARS:
        leaves.append(value)
        return "V"
    if kind is list or kind is tuple:
        return ("L" if kind is list else "U", tuple(_arg_shape(v, leaves, funcs) for v in value))
    if kind is dict:
        if not all(type(k) in _SCALARS for k in value):
            raise _NoShape(kind)
        return ("M", tuple((k, _arg_shape(v, leaves, funcs)) for k, v in value.items()))
    if kind is Task or kind is Fused or kind is DataNode or kind is Alias:
        return ("N", _shape(value, leaves, funcs))
    if kind is set or kind is frozenset:
        raise _NoShape(kind)  # may hold references; rare enough to send as it is
    # Any other object (a NumPy array, a functools.partial): one value of an object column.
    leaves.append(value)
    return "V"


def _leaf_kinds(shape: Any, out: list) -> list:
    """``"K"``/``"R"``/``"V"`` for each leaf of ``shape``, in the order ``_shape`` appends them."""
    if shape == "R" or shape == "V":
        out.append(shape)
    elif shape[0] == "T":
        out.append("K")
        for arg in shape[1]:
            _leaf_kinds(arg, out)
        for _, arg in shape[2]:
            _leaf_kinds(arg, out)
    elif shape[0] == "F":
        out.append("K")
        for inner in shape[1]:
            _leaf_kinds(inner, out)
    elif shape[0] == "D":
        out.append("K")
        _leaf_kinds(shape[1], out)
    elif shape[0] == "A":
        out += ["K", "R"]
    elif shape[0] in ("L", "U"):
        for arg in shape[1]:
            _leaf_kinds(arg, out)
    elif shape[0] == "M":
        for _, arg in shape[1]:
            _leaf_kinds(arg, out)
    elif shape[0] == "N":
        _leaf_kinds(shape[1], out)
    return out


def _shaped_template(shape: tuple, nodes: list, rows: list, funcs: list) -> dict:
    try:
        head = cloudpickle.dumps((shape, funcs), protocol=5)
    except Exception as error:
        raise _unpicklable(nodes[0].key, "its function", funcs, error) from error
    columns = []
    for kind, values in zip(_leaf_kinds(shape, []), zip(*rows)):
        values = list(values)
        if kind == "V":
            columns.append(_value_column(values, nodes, "an argument"))
        else:
            columns.append(_key_column(values))
    return {"n": len(nodes), "shape": head, "columns": columns}


def _key_column(keys: list) -> list:
    """Keys as ``["str", [...]]``, ``["tuple", name, int64 array (n, width)]`` or ``["pickle", bytes]``."""
    first = keys[0]
    if type(first) is str and all(type(k) is str for k in keys):
        return ["str", keys]
    if type(first) is tuple and len(first) > 1:
        name, width = first[0], len(first)
        if all(type(k) is tuple and len(k) == width and k[0] == name for k in keys):
            rest = [k[1:] for k in keys]
            if all(type(i) is int for row in rest for i in row):
                try:
                    return ["tuple", name, np.array(rest, dtype=np.int64).reshape(len(keys), width - 1)]
                except OverflowError:
                    pass
    return ["pickle", pickle.dumps(keys, protocol=5)]


def _ref_column(keys: list) -> list:
    return ["ref", _key_column(keys)]


def _value_column(values: list, nodes: list, what: str) -> list:
    """Literal arguments: one constant, an int64 array, a plain list, or one pickle of them all."""
    first = values[0]
    kind = type(first)
    if kind in (int, float, str, bool, type(None)):
        if all(type(v) is kind and v == first for v in values):
            return ["const", first]
        if kind is int and all(type(v) is int for v in values):
            if _INT64_MIN <= min(values) and max(values) <= _INT64_MAX:
                return ["ints", np.array(values, dtype=np.int64)]
        if all(type(v) in (int, float, str, bool, type(None)) for v in values):
            return ["list", values]
    try:
        return ["pickle", cloudpickle.dumps(values, protocol=5)]
    except Exception as error:
        key, value = _first_unpicklable(nodes, values)
        raise _unpicklable(key, what, value, error) from error


def _pickle_nodes(nodes: list) -> bytes:
    try:
        return cloudpickle.dumps(nodes, protocol=5)
    except Exception as error:
        key, value = _first_unpicklable(nodes, nodes)
        raise _unpicklable(key, "its task", value, error) from error


def _first_unpicklable(nodes: list, values: list) -> tuple:
    for node, value in zip(nodes, values):
        try:
            cloudpickle.dumps(value, protocol=5)
        except Exception:
            return node.key, value
    return nodes[0].key, values[0]  # pragma: no cover - only the whole list failed


def _unpicklable(key: Any, what: str, value: Any, error: Exception) -> SerializationError:
    return SerializationError(
        f"Task {key!r} cannot be sent to the scheduler: {what} ({type(value).__name__}) cannot be "
        f"pickled: {type(error).__name__}: {error}. Create such objects inside the task instead "
        f"of passing them in, or make them picklable."
    )


# ---------------------------------------------------------------- decoding
def decode(wire: Mapping) -> dict:
    """``{key: node}`` from ``encode``'s output, tasks built without scanning their arguments."""
    if not is_wire_graph(wire):
        raise ValueError(f"Not a shoal graph in wire form (version {WIRE_VERSION}): {type(wire).__name__}")
    graph: dict = {}
    with paused_gc():
        for template in wire["templates"]:
            _decode_template(template, graph)
        if wire["nodes"] is not None:
            for node in pickle.loads(wire["nodes"]):
                graph[node.key] = node
    return graph


@contextlib.contextmanager
def paused_gc():
    """No cyclic garbage collection inside: for code that makes millions of objects at once.

    Making a graph's nodes (and the scheduler's records of them) creates few
    cycles, but each allocation threshold reached makes the collector walk the
    whole growing heap again: it doubled decode times. Collection resumes, as
    it was, on exit.

    >>> import gc
    >>> with paused_gc():
    ...     gc.isenabled()
    False
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _decode_shaped(template: Mapping, graph: dict) -> None:
    n = template["n"]
    shape, funcs = pickle.loads(template["shape"])
    columns = []
    for column in template["columns"]:
        if column[0] in ("str", "tuple"):  # a key column ("pickle" decodes the same either way)
            columns.append(_decode_keys(column, n))
        else:
            columns.append(_decode_column(column, n)[1])
    for row in zip(*columns):
        node = _build(shape, iter(row), iter(funcs))
        graph[node.key] = node


def _build(shape: tuple, leaves: Any, funcs: Any) -> Any:
    kind = shape[0]
    if kind == "T":
        key = next(leaves)
        func = next(funcs)
        args = [_build_arg(a, leaves, funcs) for a in shape[1]]
        kwargs = {name: _build_arg(a, leaves, funcs) for name, a in shape[2]}
        return Task(key, func, *args, **kwargs)
    if kind == "F":
        key = next(leaves)
        return Fused(key, [_build(inner, leaves, funcs) for inner in shape[1]])
    if kind == "D":
        key = next(leaves)
        return DataNode(key, _build_arg(shape[1], leaves, funcs))
    key = next(leaves)
    return Alias(key, next(leaves))


def _build_arg(shape: Any, leaves: Any, funcs: Any) -> Any:
    if shape == "V":
        return next(leaves)
    if shape == "R":
        return Ref(next(leaves))
    kind = shape[0]
    if kind == "L":
        return [_build_arg(a, leaves, funcs) for a in shape[1]]
    if kind == "U":
        return tuple(_build_arg(a, leaves, funcs) for a in shape[1])
    if kind == "M":
        return {k: _build_arg(a, leaves, funcs) for k, a in shape[1]}
    return _build(shape[1], leaves, funcs)


def _decode_template(template: Mapping, graph: dict) -> None:
    if "shape" in template:
        _decode_shaped(template, graph)
        return
    n = template["n"]
    func = pickle.loads(template["func"])
    keys = _decode_keys(template["keys"], n)
    arg_columns = [_decode_column(c, n) for c in template["args"]]
    kwarg_names = list(template["kwargs"])
    kwarg_columns = [_decode_column(template["kwargs"][name], n) for name in kwarg_names]
    ref_columns = [rows for is_ref, rows in (*arg_columns, *kwarg_columns) if is_ref]
    mode = _SHALLOW if ref_columns else _PLAIN
    no_deps = frozenset()
    no_kwargs: dict = {}  # shared by the tasks of this template: a Task never changes its kwargs
    arg_rows = zip(*[rows for _, rows in arg_columns]) if arg_columns else ((),) * n
    kwarg_rows = zip(*[rows for _, rows in kwarg_columns]) if kwarg_columns else None
    dep_rows = zip(*[[r.key for r in rows] for rows in ref_columns]) if ref_columns else None
    new = Task.__new__
    for key, args in zip(keys, arg_rows):
        task = new(Task)
        task.key, task.func, task.args = key, func, args
        task.kwargs = dict(zip(kwarg_names, next(kwarg_rows))) if kwarg_rows is not None else no_kwargs
        task.dependencies = frozenset(next(dep_rows)) if dep_rows is not None else no_deps
        task._mode = mode
        graph[key] = task


def _decode_keys(column: list, n: int) -> list:
    kind = column[0]
    if kind == "str":
        keys = column[1]
    elif kind == "tuple":
        name, indices = column[1], column[2]
        keys = [(name, *row) for row in indices.tolist()]
    elif kind == "pickle":
        keys = pickle.loads(column[1])
    else:
        raise ValueError(f"Unknown key column kind {kind!r} in a wire graph")
    if len(keys) != n:
        raise ValueError(f"A wire graph template of {n} tasks has {len(keys)} keys")
    return keys


def _decode_column(column: list, n: int) -> tuple:
    """``(is_reference, values)`` of one argument column."""
    kind = column[0]
    if kind == "ref":
        return True, [Ref(k) for k in _decode_keys(column[1], n)]
    if kind == "const":
        return False, [column[1]] * n
    if kind == "ints":
        values = column[1].tolist()
    elif kind == "list":
        values = column[1]
    elif kind == "pickle":
        values = pickle.loads(column[1])
    else:
        raise ValueError(f"Unknown argument column kind {kind!r} in a wire graph")
    if len(values) != n:
        raise ValueError(f"A wire graph template of {n} tasks has a column of {len(values)} values")
    return False, values
