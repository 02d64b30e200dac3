"""Blockwise expressions of shoal.dataframe: partition ``i`` of the output from partition ``i`` of the inputs.

``Blockwise`` and its kinds (``MapPartitions``, ``Method``, ``Elemwise``,
``Projection``, ``Filter``, ``Assign``, ``IndexOf``); ``Partitions``, which
picks some partitions of a frame without work (aliases); and the projection
pushdown hooks that move a ``Projection`` below column-wise nodes. See
``expr``'s docstring for the rules every node keeps.
"""

from __future__ import annotations

from typing import Any, Callable

import pandas as pd

from ...taskgraph.core import Alias, Ref, Task
from ...taskgraph.expr import Expr
from .expr import FrameExpr, is_scalar_expr
from .meta import check_meta, is_frame_like, make_meta, meta_nonempty

__all__ = [
    "Blockwise", "MapPartitions", "Method", "Elemwise", "Projection", "Filter", "Assign", "IndexOf", "Partitions",
    "COLUMNWISE_METHODS",
]


def _arg_for_partition(arg: Any, index: int) -> Any:
    if isinstance(arg, FrameExpr):
        return Ref(arg._key(0) if is_scalar_expr(arg) else arg._key(index))
    return arg


def _meta_arg(arg: Any) -> Any:
    if isinstance(arg, FrameExpr):
        return meta_nonempty(arg._meta)
    return arg


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
        if isinstance(result, pd.Series) and isinstance(meta, pd.Series) and result.name != meta.name:
            result = result.rename(meta.name)  # the name meta=(name, dtype) promised, as Dask gives it
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


def _forget_fake_categories(meta, before, target):
    """``astype('category')`` run on the fake partition learns the fake values as categories; the real ones
    are unknown until the data is read, which a meta shows as no categories (see ``meta._fake_series``)."""

    def becomes_unknown(dtype, old) -> bool:
        if isinstance(old, pd.CategoricalDtype):
            return False  # already categorical: astype('category') keeps its categories
        return (isinstance(dtype, str) and dtype == "category") or (
            isinstance(dtype, pd.CategoricalDtype) and dtype.categories is None)

    def unknown(column: pd.Series) -> pd.Series:
        dtype = pd.CategoricalDtype(column.cat.categories[:0], ordered=column.cat.ordered)
        return column.astype(dtype)

    if isinstance(meta, pd.Series) and isinstance(meta.dtype, pd.CategoricalDtype):
        return unknown(meta) if becomes_unknown(target, before.dtype) else meta
    if isinstance(meta, pd.DataFrame) and isinstance(before, pd.DataFrame):
        targets = target if isinstance(target, dict) else {c: target for c in meta.columns}
        for i, column in enumerate(meta.columns):
            if column in targets and column in before.columns and isinstance(meta.dtypes.iloc[i], pd.CategoricalDtype) \
                    and becomes_unknown(targets[column], before.dtypes[column]):
                meta.isetitem(i, unknown(meta.iloc[:, i]))
    return meta


def explain_method_call(node) -> dict:
    """What ``.explain()`` shows of a method-call node: the (accessor.)method, its args and keyword arguments."""
    shown = {"method": (f"{node.accessor}." if node.accessor else "") + node.method}
    if node.args:
        shown["args"] = node.args
    if node.kwargs:
        shown.update(node.kwargs)
    return shown


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

    def _compute_meta(self):
        meta = super()._compute_meta()
        if self.method == "astype" and self.accessor is None:
            target = self.args[0] if self.args else (self.kwargs or {}).get("dtype")
            meta = _forget_fake_categories(meta, self.frame._meta, target)
        return meta

    def _blockwise_kwargs(self):
        return self.kwargs or {}

    @property
    def _funcname(self):
        prefix = f"{self.accessor}-" if self.accessor else ""
        return prefix + self.method.replace("_", "-")

    def _explain_args(self):
        return explain_method_call(self)

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


# ------------------------------------------------------------ projection pushdown below blockwise nodes


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
