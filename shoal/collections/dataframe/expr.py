"""The expression nodes of shoal.dataframe: logical plans over pandas partitions.

Rules this file keeps:

- Every node is a ``FrameExpr``: besides its operands it knows its ``_meta``
  (the empty pandas object its partitions look like, or a scalar for a
  reduction to one value) and its ``divisions`` (``npartitions + 1`` index
  bounds, all ``None`` when unknown). Both are derived from the operands and
  cached on the node.
- A *blockwise* node computes output partition ``i`` from partition ``i`` of
  each of its frame inputs only (``_is_blockwise``). Its ``operation`` is a
  plain function (never a bound method, so tasks pickle without dragging the
  plan along) applied to ``_blockwise_args()``; its meta is the same function
  run on the inputs' ``meta_nonempty``.
- ``_origin`` names the node that decided how rows are split into partitions.
  Blockwise nodes keep their input's origin; two frames with the same origin
  (or equal known divisions) can be combined partition by partition. Part 2
  (shuffles, joins) extends ``partitioning`` with hash-partitioned layouts.
- Pushdown of column projections is written as ``_simplify_up`` hooks:
  a ``Projection`` moves below column-wise nodes, and readers narrow the
  columns they read to the union their parents need.
"""

from __future__ import annotations

from typing import Any, Callable

import pandas as pd

from ...taskgraph.core import Alias, DataNode, Fused, Ref, Task
from ...taskgraph.expr import Expr
from .meta import check_meta, is_frame_like, make_meta, meta_nonempty

__all__ = [
    "FrameExpr", "FromPandas", "FromValues", "FromDelayed", "FromMap", "Blockwise", "MapPartitions",
    "Method", "Elemwise", "Projection", "Filter", "Assign", "IndexOf", "Partitions", "blockwise_groups",
    "Partitioning", "HashLayout", "fused_graph", "is_scalar_expr",
]


class HashLayout:
    """Rows placed by ``hash(keys as dtypes) % npartitions``: what a shuffle leaves behind.

    Two frames with equal layouts (same key names, dtypes and partition
    count) hold every key in the same partition number.
    """

    __slots__ = ("on", "dtypes", "npartitions")

    def __init__(self, on: tuple, dtypes: tuple, npartitions: int):
        self.on, self.dtypes, self.npartitions = tuple(on), tuple(dtypes), npartitions

    def __eq__(self, other):
        return isinstance(other, HashLayout) and (self.on, self.dtypes, self.npartitions) == (
            other.on, other.dtypes, other.npartitions)

    def __hash__(self):
        return hash((self.on, self.dtypes, self.npartitions))

    def same_placement(self, other: "HashLayout") -> bool:
        """True when a key goes to the same partition number in both, whatever the columns are called."""
        return self.dtypes == other.dtypes and self.npartitions == other.npartitions

    def __repr__(self) -> str:
        return f"HashLayout(on={self.on!r}, dtypes={self.dtypes!r}, npartitions={self.npartitions})"


class Partitioning:
    """How a frame's rows are split into partitions, as far as the plan knows.

    ``divisions``: index bounds (all ``None`` when unknown); ``origin``: the
    name of the node that decided the split (frames with the same origin have
    their rows in matching partitions); ``hashed_on``: columns the rows were
    hash-partitioned on (set by part 2's shuffles; ``None`` here).
    """

    __slots__ = ("divisions", "origin", "hashed_on", "hash_layout")

    def __init__(self, divisions: tuple, origin: str, hashed_on: tuple | None = None,
                 hash_layout: "HashLayout | None" = None):
        self.divisions = divisions
        self.origin = origin
        self.hashed_on = hashed_on
        self.hash_layout = hash_layout

    @property
    def known_divisions(self) -> bool:
        return len(self.divisions) > 0 and self.divisions[0] is not None

    def aligns_with(self, other: "Partitioning") -> bool:
        """True when partition ``i`` of both holds the same rows' index range."""
        if len(self.divisions) != len(other.divisions):
            return False
        if self.origin == other.origin:
            return True
        return self.known_divisions and other.known_divisions and tuple(self.divisions) == tuple(other.divisions)

    def __repr__(self) -> str:
        return f"Partitioning(divisions={self.divisions!r}, origin={self.origin!r}, hashed_on={self.hashed_on!r})"


class FrameExpr(Expr):
    """Base of every dataframe expression; see the module docstring."""

    _is_blockwise = False

    # ------------------------------------------------------------- metadata
    @property
    def _meta(self) -> Any:
        cached = self.__dict__.get("_cached_meta", _MISSING)
        if cached is _MISSING:
            cached = self._compute_meta()
            self.__dict__["_cached_meta"] = cached
        return cached

    def _compute_meta(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define _compute_meta")

    @property
    def divisions(self) -> tuple:
        cached = self.__dict__.get("_cached_divisions")
        if cached is None:
            cached = tuple(self._compute_divisions())
            self.__dict__["_cached_divisions"] = cached
        return cached

    def _compute_divisions(self) -> tuple:
        frames = self._frame_inputs()
        if not frames:
            if any(is_scalar_expr(d) for d in self.dependencies()):
                return (None, None)  # arithmetic on one-value results is itself one value
            raise NotImplementedError(f"{type(self).__name__} must define _compute_divisions")
        return frames[0].divisions

    @property
    def npartitions(self) -> int:
        return len(self.divisions) - 1

    @property
    def _origin(self) -> str:
        frames = self._frame_inputs()
        if self._is_blockwise and frames:
            return frames[0]._origin
        return self._name

    #: a blockwise node that keeps every row where it is (and the key columns as they are) keeps its input's hash layout
    _keeps_rows = False

    @property
    def _hashed_on(self) -> "HashLayout | None":
        """How a shuffle placed these rows (see ``HashLayout``), when they still are where it put them."""
        frames = self._frame_inputs()
        if not (self._is_blockwise and self._keeps_rows and frames):
            return None
        layout = frames[0]._hashed_on
        if layout is None:
            return None
        if layout.on != ("__index__",) and not set(layout.on) <= set(self.columns):
            return None
        return layout

    @property
    def partitioning(self) -> Partitioning:
        layout = self._hashed_on
        return Partitioning(self.divisions, self._origin, layout.on if layout is not None else None, layout)

    @property
    def columns(self) -> list:
        meta = self._meta
        if isinstance(meta, pd.DataFrame):
            return list(meta.columns)
        if isinstance(meta, pd.Series):
            return [meta.name]
        return []

    def _frame_inputs(self) -> list["FrameExpr"]:
        """Dependencies that are partitioned frames (not one-value reductions)."""
        return [d for d in self.dependencies() if isinstance(d, FrameExpr) and not is_scalar_expr(d)]

    def _explain_args(self) -> dict:
        shown = super()._explain_args()
        for name in ("meta", "_meta_override"):
            shown.pop(name, None)
        return shown


_MISSING = object()


def label_with_reason(node: Expr, partitions: bool = True) -> str:
    """``node``'s one-line label with its ``why`` operand written out in full (``explain`` shortens operands)."""
    from ...taskgraph.expr.display import node_label

    text = node_label(node, partitions)
    reason = node._explain_reason()
    return f"{text}  [{reason}]" if reason else text


def is_scalar_expr(expr: Any) -> bool:
    """True for an expression whose result is one value (one partition, not a pandas object)."""
    return isinstance(expr, FrameExpr) and getattr(expr, "_is_scalar", False)


def _arg_for_partition(arg: Any, index: int) -> Any:
    if isinstance(arg, FrameExpr):
        return Ref(arg._key(0) if is_scalar_expr(arg) else arg._key(index))
    return arg


def _meta_arg(arg: Any) -> Any:
    if isinstance(arg, FrameExpr):
        return meta_nonempty(arg._meta)
    return arg


# ----------------------------------------------------------------- leaves


class FromPandas(FrameExpr):
    """A pandas object cut into partitions at ``bounds`` (row positions)."""

    _parameters = ["frame", "bounds", "divisions_", "columns_"]
    _defaults = {"columns_": None}
    _is_blockwise = True

    def _compute_meta(self):
        meta = make_meta(self.frame)
        if self.columns_ is not None:
            meta = meta[list(self.columns_)]
        return meta

    def _compute_divisions(self):
        return self.divisions_

    def _task(self, index):
        start, stop = self.bounds[index], self.bounds[index + 1]
        part = self.frame.iloc[start:stop]
        if self.columns_ is not None:
            part = part[list(self.columns_)]
        return DataNode(self._key(index), part)

    def _explain_args(self):
        return {"columns": self.columns_} if self.columns_ is not None else {}

    def _simplify_up(self, parent, dependents):
        return _narrow_reader_columns(self, parent, dependents, "columns_")


class FromValues(FrameExpr):
    """Partitions already computed (what ``persist`` returns): one DataNode each."""

    _parameters = ["values", "divisions_", "meta"]

    def _compute_meta(self):
        return self.meta

    def _compute_divisions(self):
        return self.divisions_

    def _task(self, index):
        return DataNode(self._key(index), self.values[index])

    def _explain_args(self):
        return {}


class FromDelayed(FrameExpr):
    """Partitions computed by ``Delayed`` objects; each is checked against the meta."""

    _parameters = ["delayeds", "meta", "divisions_", "verify_meta"]
    _defaults = {"verify_meta": True}

    def _compute_meta(self):
        return self.meta

    def _compute_divisions(self):
        return self.divisions_

    def _layer(self):
        layer = {}
        for i, d in enumerate(self.delayeds):
            layer.update(d.__shoal_graph__())
            if self.verify_meta:
                layer[self._key(i)] = Task(self._key(i), check_meta, Ref(d.key), self.meta, "from_delayed", f"partition {i}")
            else:
                layer[self._key(i)] = Alias(self._key(i), d.key)
        return layer

    def _explain_args(self):
        return {"n": len(self.delayeds)}


def _call_checked(func, meta, funcname, where, *args, **kwargs):
    return check_meta(func(*args, **kwargs), meta, funcname, where)


class FromMap(FrameExpr):
    """Partition ``i`` is ``func(*(it[i] for it in iterables), **kwargs)``."""

    _parameters = ["func", "iterables", "kwargs", "meta", "divisions_"]
    _is_blockwise = True

    def _compute_meta(self):
        return self.meta

    def _compute_divisions(self):
        return self.divisions_

    def _task(self, index):
        args = [it[index] for it in self.iterables]
        return Task(self._key(index), _call_checked, self.func, self.meta, _funcname(self.func),
                    f"partition {index}", *args, **self.kwargs)

    def _explain_args(self):
        return {"func": _funcname(self.func)}


def _funcname(func) -> str:
    return getattr(func, "__name__", type(func).__name__)


# ----------------------------------------------------------------- blockwise


class Blockwise(FrameExpr):
    """Output partition ``i`` = ``operation(*args)`` with frames replaced by their partition ``i``."""

    _is_blockwise = True
    operation: Callable = None  # set by subclasses (as a staticmethod)

    def _blockwise_args(self) -> list:
        raise NotImplementedError

    def _blockwise_kwargs(self) -> dict:
        return {}

    def _compute_meta(self):
        args = [_meta_arg(a) for a in self._blockwise_args()]
        return make_meta(type(self).operation(*args, **self._blockwise_kwargs()))

    def _task(self, index):
        args = [_arg_for_partition(a, index) for a in self._blockwise_args()]
        return Task(self._key(index), type(self).operation, *args, **self._blockwise_kwargs())


def _apply_user_function(func, args, kwargs, meta, check):
    result = func(*args, **kwargs)
    if check:
        try:
            check_meta(result, meta, f"map_partitions({_funcname(func)})")
        except ValueError:
            if is_frame_like(result) and len(result) == 0:
                return meta  # pandas types empty results loosely (e.g. apply on no rows gives float)
            raise
    return result


class MapPartitions(Blockwise):
    """``func(partition, *args, **kwargs)`` on every partition; frames in ``args`` are aligned."""

    _parameters = ["frame", "func", "args", "kwargs", "meta", "enforce_metadata", "clear_divisions"]
    _defaults = {"args": (), "kwargs": None, "meta": None, "enforce_metadata": True, "clear_divisions": False}

    def _blockwise_args(self):
        return [self.frame, *self.args]

    def _compute_meta(self):
        if self.meta is not None:
            return self.meta
        args = [_meta_arg(a) for a in self._blockwise_args()]
        return make_meta(self.func(*args, **(self.kwargs or {})))

    def _compute_divisions(self):
        divisions = self.frame.divisions
        if self.clear_divisions:
            return (None,) * len(divisions)
        return divisions

    def _task(self, index):
        args = [_arg_for_partition(a, index) for a in self._blockwise_args()]
        check = self.enforce_metadata and is_frame_like(self._meta)
        return Task(self._key(index), _apply_user_function, self.func, args, self.kwargs or {}, self._meta, check)

    def _explain_args(self):
        return {"func": _funcname(self.func)}

    @property
    def _funcname(self):
        return _funcname(self.func).lower().replace("_", "-").strip("-<>") or "map-partitions"


def _call_method(obj, method, *args, **kwargs):
    return getattr(obj, method)(*args, **kwargs)


#: methods that act on each column separately, so a projection can move below them
COLUMNWISE_METHODS = frozenset({"fillna", "isna", "notna", "isnull", "notnull", "abs", "astype", "round"})


class Method(Blockwise):
    """``partition.<method>(*args, **kwargs)``; ``args`` may hold other frames."""

    _parameters = ["frame", "method", "args", "kwargs", "accessor"]
    _defaults = {"args": (), "kwargs": None, "accessor": None}

    @staticmethod
    def operation(obj, method, accessor, *args, **kwargs):
        if accessor is not None:
            obj = getattr(obj, accessor)
        return getattr(obj, method)(*args, **kwargs)

    def _blockwise_args(self):
        return [self.frame, self.method, self.accessor, *self.args]

    def _blockwise_kwargs(self):
        return self.kwargs or {}

    @property
    def _funcname(self):
        prefix = f"{self.accessor}-" if self.accessor else ""
        return prefix + self.method.replace("_", "-")

    def _explain_args(self):
        shown = {"method": (f"{self.accessor}." if self.accessor else "") + self.method}
        if self.args:
            shown["args"] = self.args
        if self.kwargs:
            shown.update(self.kwargs)
        return shown

    def _projected(self, columns: list) -> "Method | None":
        """This method applied to only ``columns`` of its input, or None if that changes its meaning."""
        if self.method not in COLUMNWISE_METHODS or self.accessor or any(isinstance(a, Expr) for a in self.args):
            return None
        if not isinstance(self.frame._meta, pd.DataFrame):
            return None
        args, kwargs = list(self.args), dict(self.kwargs or {})
        if self.method == "astype":
            dtype = args[0] if args else kwargs.get("dtype")
            if isinstance(dtype, dict):
                dtype = {k: v for k, v in dtype.items() if k in columns}
                if args:
                    args[0] = dtype
                else:
                    kwargs["dtype"] = dtype
        return Method(Projection(self.frame, columns), self.method, tuple(args), kwargs or None, None)


class Elemwise(Blockwise):
    """``op(*args)`` partition by partition (arithmetic, comparisons, logic)."""

    _parameters = ["op", "args"]

    @property
    def _is_scalar(self) -> bool:
        return not self._frame_inputs() and not is_frame_like(self._meta)

    @staticmethod
    def operation(op, *args):
        return op(*args)

    def _blockwise_args(self):
        return [self.op, *self.args]

    @property
    def _funcname(self):
        return _funcname(self.op).strip("_").replace("_", "-")

    def _explain_args(self):
        return {"op": _funcname(self.op)}


def _getitem(frame, key):
    return frame[key]


class Projection(Blockwise):
    """``frame[columns]``: a list keeps a DataFrame, a single label makes a Series."""

    _parameters = ["frame", "columns_"]
    operation = staticmethod(_getitem)
    _keeps_rows = True

    def _blockwise_args(self):
        return [self.frame, _as_key(self.columns_)]

    def _compute_meta(self):
        return self.frame._meta[_as_key(self.columns_)]

    def _explain_args(self):
        return {"columns": self.columns_}

    def _simplify_down(self):
        frame = self.frame
        if isinstance(self.columns_, list) and isinstance(frame._meta, pd.DataFrame) and self.columns_ == list(frame._meta.columns):
            return frame
        if isinstance(frame, Projection) and isinstance(frame.columns_, list):
            return Projection(frame.frame, self.columns_)
        return None


def _as_key(columns):
    """A list of labels selects a DataFrame (copied, so the operand is never shared); anything else one column."""
    return list(columns) if isinstance(columns, list) else columns


def _filter(frame, mask):
    return frame[mask]


class Filter(Blockwise):
    """``frame[mask]`` where ``mask`` is a boolean Series of the same partitioning."""

    _parameters = ["frame", "predicate"]
    operation = staticmethod(_filter)
    _keeps_rows = True

    def _blockwise_args(self):
        return [self.frame, self.predicate]

    def _compute_meta(self):
        return self.frame._meta

    def _simplify_up(self, parent, dependents):
        if isinstance(parent, Projection) and parent.frame is self:
            return Filter(Projection(self.frame, parent.columns_), self.predicate)
        return None

    def _explain_args(self):
        return {}


def _assign(frame, names, *values):
    frame = frame.copy(deep=False)
    for name, value in zip(names, values):
        frame[name] = value
    return frame


class Assign(Blockwise):
    """``frame.assign(name=value, ...)`` with values that are frames of the same partitioning or scalars."""

    _parameters = ["frame", "names", "values"]
    operation = staticmethod(_assign)
    _keeps_rows = True

    @property
    def _hashed_on(self):
        layout = FrameExpr._hashed_on.fget(self)
        if layout is not None and set(layout.on) & set(self.names):
            return None  # a key column was replaced
        return layout

    def _blockwise_args(self):
        return [self.frame, list(self.names), *self.values]

    def _explain_args(self):
        return {"names": list(self.names)}

    def _simplify_up(self, parent, dependents):
        if not (isinstance(parent, Projection) and parent.frame is self):
            return None
        wanted = parent.columns_ if isinstance(parent.columns_, list) else [parent.columns_]
        kept = [(n, v) for n, v in zip(self.names, self.values) if n in wanted]
        base = [c for c in self.frame.columns if c in wanted and c not in {n for n, _ in kept}]
        if not kept:
            return Projection(self.frame, base if isinstance(parent.columns_, list) else parent.columns_)
        if base == self.frame.columns and len(kept) == len(self.names):
            return None
        inner = Assign(Projection(self.frame, base), tuple(n for n, _ in kept), tuple(v for _, v in kept))
        return Projection(inner, parent.columns_)


def _index_of(frame):
    return frame.index


class IndexOf(Blockwise):
    """The index of every partition."""

    _parameters = ["frame"]
    operation = staticmethod(_index_of)

    def _blockwise_args(self):
        return [self.frame]


class Partitions(FrameExpr):
    """The partitions at ``indices`` of ``frame``, as a new frame."""

    _parameters = ["frame", "indices"]

    def _compute_meta(self):
        return self.frame._meta

    def _compute_divisions(self):
        divisions = self.frame.divisions
        if divisions[0] is None:
            return (None,) * (len(self.indices) + 1)
        idx = self.indices
        if list(idx) == list(range(idx[0], idx[-1] + 1)):
            return tuple(divisions[idx[0]: idx[-1] + 2])
        return (None,) * (len(idx) + 1)

    def _task(self, index):
        return Alias(self._key(index), self.frame._key(self.indices[index]))

    def _explain_args(self):
        return {"indices": list(self.indices)}


# ------------------------------------------------------------ projection pushdown


def _columns_needed_by(parent: Expr, child: FrameExpr) -> list | None:
    """The columns of ``child`` that ``parent`` reads, or None for all of them."""
    if isinstance(parent, Projection) and parent.frame._name == child._name:
        cols = parent.columns_
        return list(cols) if isinstance(cols, list) else [cols]
    return None


def _narrow_reader_columns(reader: FrameExpr, parent: Expr, dependents, operand: str) -> Expr | None:
    """``parent`` reading a narrower ``reader``: only the union of columns its readers use."""
    if not isinstance(reader._meta, pd.DataFrame):
        return None
    needed: set = set()
    for dependent in dependents.get(reader._name, ()) or [parent]:
        cols = _columns_needed_by(dependent, reader)
        if cols is None:
            return None
        needed.update(cols)
    current = list(reader._meta.columns)
    if not needed < set(current):
        return None
    narrowed = reader.replace(**{operand: [c for c in current if c in needed]})
    return parent.substitute_operands({reader: narrowed})


def _push_projection_below(parent: Expr) -> Expr | None:
    frame = parent.frame
    if isinstance(frame, Method):
        cols = parent.columns_ if isinstance(parent.columns_, list) else [parent.columns_]
        projected = frame._projected(cols)
        if projected is None:
            return None
        return projected if isinstance(parent.columns_, list) else Projection(projected, parent.columns_)
    return None


def _method_simplify_up(self, parent, dependents):
    if isinstance(parent, Projection) and parent.frame is self and len(dependents.get(self._name, ())) <= 1:
        return _push_projection_below(parent)
    return None


Method._simplify_up = _method_simplify_up


class Roots(Expr):
    """Several plans optimized together (``compute(a, b)``), so what they share is read once.

    It emits no tasks itself; readers below see every root's columns among
    their dependents, so projection pushdown narrows them to the union.
    """

    _parameters = ["roots"]

    @property
    def npartitions(self) -> int:
        return 0

    def _layer(self) -> dict:
        return {}


# ------------------------------------------------------------ blockwise fusion
#
# Fusion happens when the graph is emitted, not by rewriting the plan: a group
# of connected blockwise nodes becomes one ``Fused`` task per partition keyed
# like the group's head, so every reader outside the group finds the key it
# already refers to.


def _topological_children_first(head: Expr, names: set | None = None) -> list:
    """Nodes below ``head`` (restricted to ``names`` when given), children before parents."""
    order, seen, stack = [], set(), [(head, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if node._name in seen:
            continue
        seen.add(node._name)
        stack.append((node, True))
        for dep in node.dependencies():
            if (names is None or dep._name in names) and dep._name not in seen:
                stack.append((dep, False))
    return order


def blockwise_groups(root: FrameExpr) -> dict[str, list]:
    """``{head name: [members, children first, head last]}`` for groups of two or more nodes.

    A blockwise node joins the group of its readers when all its readers are
    blockwise, in one group, with as many partitions (so no work is done
    twice); otherwise it heads a group of its own.
    """
    from ...taskgraph.expr.rewrite import collect_dependents

    dependents = collect_dependents(root)
    order = list(reversed(_topological_children_first(root)))  # parents first
    group_of: dict[str, str] = {}
    for node in order:
        if not (isinstance(node, FrameExpr) and node._is_blockwise):
            continue
        readers = dependents.get(node._name, [])
        groups = {group_of.get(r._name) for r in readers}
        if (node is root or not readers or None in groups or len(groups) != 1
                or any(r.npartitions != node.npartitions for r in readers)):
            group_of[node._name] = node._name
        else:
            group_of[node._name] = groups.pop()
    members: dict[str, list] = {}
    for node in reversed(order):  # children first
        if node._name in group_of:
            members.setdefault(group_of[node._name], []).append(node)
    return {head: group for head, group in members.items() if len(group) > 1}


def fused_graph(root: FrameExpr) -> dict:
    """The tasks of ``root``'s plan with every blockwise group fused into one task per partition."""
    groups = blockwise_groups(root)
    inner = {n._name for group in groups.values() for n in group[:-1]}
    graph: dict = {}
    for node in root.walk():
        name = node._name
        if name in inner:
            continue
        if name in groups:
            group = groups[name]
            for i in range(node.npartitions):
                graph[node._key(i)] = Fused(node._key(i), [member._task(i) for member in group])
        else:
            graph.update(node._layer())
    return graph
