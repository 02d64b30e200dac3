"""Elementwise operations: one ``Elemwise`` node for operators, ufuncs, ``where``, ``astype``...

Theory of operation:

- ``elemwise(func, *args)`` checks broadcasting when the expression is built
  (a mismatch names both shapes), cuts every array argument to common block
  boundaries (``rechunk``), and finds the output dtype by calling ``func`` on
  empty arrays of the input dtypes.
- Block ``(i, j, ...)`` of the output is ``func`` of block ``(i, j, ...)`` of
  each argument, with index 0 on axes an argument broadcasts along (length
  1) and leading axes dropped for arguments of fewer dimensions; NumPy's own
  broadcasting then finishes the job inside the block.
- Fusion: an ``Elemwise`` read only by another ``Elemwise`` of the same
  chunks is folded into it (``_simplify_up``); the result runs a small
  program (``FusedFunction``) in one task per block, so a chain of any
  length is one task per block.
- Slice pushdown: ``Slice(Elemwise(a, b))`` becomes ``Elemwise(Slice(a),
  Slice(b))`` so only the blocks the slice needs are ever read (see
  ``slicing.push_index_through_broadcast``).
"""

from __future__ import annotations

import functools
import numbers
from typing import Any, Callable, Mapping

import numpy as np

from ...taskgraph.core import Ref, Task
from ...taskgraph.expr import Expr
from ...taskgraph.tokenize import tokenize
from ..delayed import funcname
from .chunks import common_chunks
from .core import Array
from .expr import ArrayExpr

__all__ = [
    "Elemwise", "FusedFunction", "elemwise", "broadcast_shapes", "unify_chunks", "where", "clip", "astype",
    "round_", "isnan", "isclose", "array_ufunc", "is_operand",
]


# --------------------------------------------------------------------- the node


class Elemwise(ArrayExpr):
    """``func(*args, **kwargs)`` block by block; ``args`` mixes ArrayExprs and literals."""

    _parameters = ["func", "args", "kwargs", "dtype"]

    @property
    def _funcname(self) -> str:
        return funcname(self.func)

    def _array_args(self) -> list[ArrayExpr]:
        return [a for a in self.args if isinstance(a, ArrayExpr)]

    def _compute_chunks(self) -> tuple:
        arrays = self._array_args()
        ndim = max(a.ndim for a in arrays)
        out: list = []
        for axis in range(ndim):
            chosen = None
            for a in arrays:
                a_axis = axis - (ndim - a.ndim)
                if a_axis < 0:
                    continue
                blocks = a.chunks[a_axis]
                if chosen is None or (chosen == (1,) and blocks != (1,)):
                    chosen = blocks
            out.append(chosen)
        return tuple(out)

    def _block(self, index: tuple):
        args = [_block_ref(a, index) if isinstance(a, ArrayExpr) else a for a in self.args]
        return Task(self._key(index), self.func, *args, **dict(self.kwargs))

    def _explain_args(self) -> dict:
        shown = {"func": self._funcname}
        if self.kwargs:
            shown["kwargs"] = dict(self.kwargs)
        return shown

    def _simplify_up(self, parent: Expr, dependents: Mapping[str, list]) -> Expr | None:
        from .slicing import Slice, push_slice_through_elemwise

        if isinstance(parent, Slice):
            return push_slice_through_elemwise(parent, self)
        if (
            isinstance(parent, Elemwise)
            and len(dependents.get(self._name, ())) <= 1
            and self.chunks == parent.chunks
        ):
            return fuse_into(parent, self)
        return None


def _block_ref(arg: ArrayExpr, out_index: tuple) -> Ref:
    """The key of the block of ``arg`` that meets output block ``out_index``."""
    offset = len(out_index) - arg.ndim
    index = tuple(0 if n == 1 else out_index[offset + a] for a, n in enumerate(arg.numblocks))
    return Ref(arg._key(index))


class FusedFunction:
    """Several elementwise functions run one after another on one set of blocks.

    ``steps`` is a tuple of ``(func, arg_specs, kwargs_items)``; an arg spec
    is ``("in", i)`` (the i-th input block), ``("step", j)`` (the result of
    step j) or ``("lit", value)``. The last step's result is returned.

    >>> import operator
    >>> f = FusedFunction(((operator.add, (("in", 0), ("lit", 1)), ()),
    ...                    (operator.mul, (("step", 0), ("in", 0)), ())))
    >>> f(3)  # (3 + 1) * 3
    12
    """

    __slots__ = ("steps", "__name__")

    def __init__(self, steps: tuple):
        self.steps = steps
        names = [funcname(func) for func, _, _ in steps]
        self.__name__ = "-".join(reversed(names[-3:])) if len(names) > 1 else names[0]

    def __call__(self, *inputs: Any) -> Any:
        results: list = []
        for func, specs, kwargs in self.steps:
            args = [inputs[v] if kind == "in" else results[v] if kind == "step" else v for kind, v in specs]
            results.append(func(*args, **dict(kwargs)))
        return results[-1]

    def __shoal_tokenize__(self) -> str:
        return "fused-" + tokenize(self.steps)

    def __reduce__(self):
        return (FusedFunction, (self.steps,))

    def __repr__(self) -> str:
        return f"FusedFunction({self.__name__}, {len(self.steps)} steps)"


def _program(node: Elemwise) -> tuple[list, list]:
    """(inputs, steps) of an Elemwise, as a FusedFunction program."""
    if isinstance(node.func, FusedFunction):
        return list(node.args), list(node.func.steps)
    specs = []
    inputs: list = []
    for a in node.args:
        if isinstance(a, ArrayExpr):
            specs.append(("in", len(inputs)))
            inputs.append(a)
        else:
            specs.append(("lit", a))
    return inputs, [(node.func, tuple(specs), tuple(node.kwargs))]


def fuse_into(parent: Elemwise, child: Elemwise) -> Elemwise:
    """``parent`` with ``child`` folded in: one node, one task per block."""
    p_inputs, p_steps = _program(parent)
    c_inputs, c_steps = _program(child)
    inputs: list = []
    positions: dict[str, int] = {}

    def place(expr: ArrayExpr) -> int:
        if expr._name not in positions:
            positions[expr._name] = len(inputs)
            inputs.append(expr)
        return positions[expr._name]

    steps: list = []

    def renumber(specs: tuple, local_inputs: list, step_base: int, child_result: int | None) -> tuple:
        out = []
        for kind, v in specs:
            if kind == "in":
                expr = local_inputs[v]
                if child_result is not None and expr._name == child._name:
                    out.append(("step", child_result))
                else:
                    out.append(("in", place(expr)))
            elif kind == "step":
                out.append(("step", v + step_base))
            else:
                out.append((kind, v))
        return tuple(out)

    for func, specs, kwargs in c_steps:
        steps.append((func, renumber(specs, c_inputs, 0, None), kwargs))
    child_result = len(steps) - 1
    base = len(steps)
    for func, specs, kwargs in p_steps:
        steps.append((func, renumber(specs, p_inputs, base, child_result), kwargs))
    return Elemwise(FusedFunction(tuple(steps)), tuple(inputs), (), parent.dtype)


# --------------------------------------------------------------------- building


def is_operand(value: Any) -> bool:
    """Can ``value`` take part in elementwise arithmetic with an Array?"""
    return isinstance(value, (Array, np.ndarray, np.generic, numbers.Number, bool)) or value is None or (
        hasattr(value, "shape") and hasattr(value, "dtype") and not hasattr(value, "__shoal_graph__")
    )


def broadcast_shapes(*shapes: tuple) -> tuple:
    """The shape ``shapes`` broadcast to; a ValueError naming them all when they do not.

    >>> broadcast_shapes((3, 1), (4,))
    (3, 4)
    """
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for axis in range(ndim):
        sizes = {s[axis - (ndim - len(s))] for s in shapes if axis - (ndim - len(s)) >= 0}
        sizes.discard(1)
        known = {n for n in sizes if n == n}  # nan != nan
        if len(known) > 1:
            raise ValueError(
                "operands could not be broadcast together with shapes "
                + " ".join(str(tuple(s)) for s in shapes)
                + f" (axis {axis} of the result: lengths {sorted(known)})"
            )
        out.append(known.pop() if known else (float("nan") if sizes else 1))
    return tuple(out)


def unify_chunks(arrays: list[ArrayExpr]) -> list[ArrayExpr]:
    """The arrays rechunked so that, on every output axis, they share block boundaries.

    An array of length 1 on an axis broadcasts there and keeps its single block.
    """
    from .rechunk import Rechunk

    ndim = max(a.ndim for a in arrays)
    targets: list = []
    for axis in range(ndim):
        cuts = []
        for a in arrays:
            a_axis = axis - (ndim - a.ndim)
            if a_axis >= 0 and a.shape[a_axis] != 1:
                cuts.append(a.chunks[a_axis])
        targets.append(common_chunks(*cuts) if cuts else None)
    out = []
    for a in arrays:
        wanted = tuple(
            a.chunks[i] if a.shape[i] == 1 or targets[i + ndim - a.ndim] is None else targets[i + ndim - a.ndim]
            for i in range(a.ndim)
        )
        out.append(a if wanted == a.chunks else Rechunk(a, wanted))
    return out


def _as_expr_or_literal(value: Any) -> Any:
    from .creation import from_array

    if isinstance(value, Array):
        return value.expr
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return from_array(value, chunks=-1).expr
    if hasattr(value, "shape") and hasattr(value, "dtype") and hasattr(value, "__getitem__") and len(value.shape):
        return from_array(value, chunks=-1).expr
    return value


def _meta_dtype(func: Callable, args: list, kwargs: Mapping) -> np.dtype:
    """The dtype ``func`` gives on arrays of the argument dtypes (tried on empty arrays)."""
    probes = [np.empty((0,) * a.ndim, dtype=a.dtype) if isinstance(a, ArrayExpr) else a for a in args]
    with np.errstate(all="ignore"):
        result = func(*probes, **kwargs)
    return np.asarray(result).dtype


def elemwise(func: Callable, *args: Any, dtype: Any = None, **kwargs: Any) -> Array:
    """``func`` applied elementwise to Arrays (and NumPy arrays and scalars), with broadcasting.

    >>> from shoal.collections.array.creation import arange
    >>> elemwise(np.add, arange(4, chunks=2), 10).compute(scheduler="sync").tolist()
    [10, 11, 12, 13]
    """
    values = [_as_expr_or_literal(a) for a in args]
    arrays = [v for v in values if isinstance(v, ArrayExpr)]
    if not arrays:
        raise TypeError(f"elemwise({funcname(func)}) needs at least one shoal Array argument")
    broadcast_shapes(*(a.shape for a in arrays))
    unified = iter(unify_chunks(arrays))
    values = [next(unified) if isinstance(v, ArrayExpr) else v for v in values]
    if dtype is None:
        try:
            dtype = _meta_dtype(func, values, kwargs)
        except Exception as err:
            raise TypeError(
                f"{funcname(func)} fails on arrays of dtypes "
                f"{[str(a.dtype) for a in arrays]}: {type(err).__name__}: {err}"
            ) from err
    return Array(Elemwise(func, tuple(values), tuple(sorted(kwargs.items())), np.dtype(dtype)))


# --------------------------------------------------------------------- NumPy entry points


def array_ufunc(ufunc: np.ufunc, method: str, inputs: tuple, kwargs: dict) -> Any:
    """``Array.__array_ufunc__``: ufunc calls stay lazy; ``out=`` is refused."""
    if "out" in kwargs:
        raise TypeError(
            f"numpy.{ufunc.__name__}(..., out=...) cannot write into a shoal Array: Arrays are immutable. "
            "Drop out= and use the returned Array (or compute() and write into your NumPy array)."
        )
    if not all(is_operand(i) for i in inputs):
        return NotImplemented
    if method == "__call__":
        if ufunc is np.matmul:  # a ufunc with core dimensions: not elementwise
            from .linalg import matmul

            return matmul(*inputs, **kwargs)
        if "where" in kwargs:
            raise TypeError(
                f"numpy.{ufunc.__name__}(..., where=...) without out= leaves the unselected elements undefined; "
                f"use shoal.array.where(condition, numpy.{ufunc.__name__}(...), fallback) instead"
            )
        func = ufunc
        if "dtype" in kwargs:
            # the ufunc's own dtype= (the loop to run), not elemwise's declaration of the result dtype
            func = functools.partial(ufunc, dtype=np.dtype(kwargs.pop("dtype")))
        if ufunc.nout == 1:
            return elemwise(func, *inputs, **kwargs)
        return tuple(elemwise(_nth_output(func, n), *inputs, **kwargs) for n in range(ufunc.nout))
    if method == "reduce" and ufunc in _UFUNC_REDUCTIONS:
        from . import reductions

        (x,) = inputs
        return getattr(reductions, _UFUNC_REDUCTIONS[ufunc])(x, **kwargs)
    if method == "accumulate" and ufunc in (np.add, np.multiply):
        from .cumulative import cumprod, cumsum

        (x,) = inputs
        return (cumsum if ufunc is np.add else cumprod)(x, axis=kwargs.pop("axis", 0), **kwargs)
    if method == "outer" and ufunc.nin == 2 and not kwargs:
        return _ufunc_outer(ufunc, *inputs)
    raise TypeError(
        f"numpy.{ufunc.__name__}.{method} is not implemented for shoal Arrays; "
        f"call .compute() first, or apply it per block with map_blocks"
    )


def _ufunc_outer(ufunc: np.ufunc, a: Any, b: Any) -> Array:
    """``ufunc.outer(a, b)``: ``ufunc`` of every element of ``a`` with every element of ``b``, block by block."""
    from .blockwise import blockwise
    from .creation import asarray

    a, b = asarray(a), asarray(b)
    letters = "abcdefghijklmnopqrstuvwxyz"
    a_ind, b_ind = letters[:a.ndim], letters[a.ndim:a.ndim + b.ndim]
    dtype = ufunc.outer(np.ones(1, a.dtype), np.ones(1, b.dtype)).dtype
    return blockwise(ufunc.outer, a_ind + b_ind, a, a_ind, b, b_ind, dtype=dtype)


_UFUNC_REDUCTIONS = {np.add: "sum", np.multiply: "prod", np.minimum: "min", np.maximum: "max",
                     np.logical_and: "all", np.logical_or: "any"}


class _nth_output:
    """Output ``n`` of a multi-output ufunc (``np.modf``, ``np.divmod``)."""

    def __init__(self, ufunc: np.ufunc, n: int):
        self.ufunc, self.n = ufunc, n
        self.__name__ = f"{funcname(ufunc)}-{n}"

    def __call__(self, *args, **kwargs):
        return self.ufunc(*args, **kwargs)[self.n]

    def __shoal_tokenize__(self):
        return tokenize(self.ufunc, self.n)

    def __reduce__(self):
        return (_nth_output, (self.ufunc, self.n))


def where(condition: Any, x: Any = None, y: Any = None) -> Array:
    """``numpy.where(condition, x, y)`` elementwise; ``where(condition)`` alone is ``nonzero(condition)``."""
    if x is None and y is None:
        from .nonzero import nonzero

        return nonzero(condition)
    if x is None or y is None:
        raise ValueError("either both or neither of x and y should be given")
    return elemwise(np.where, condition, x, y)


def clip(a: Any, a_min: Any = None, a_max: Any = None, **kwargs) -> Array:
    """``numpy.clip`` elementwise."""
    if "min" in kwargs:
        a_min = kwargs.pop("min")
    if "max" in kwargs:
        a_max = kwargs.pop("max")
    return elemwise(np.clip, a, a_min, a_max, **kwargs)


def _astype(block: np.ndarray, dtype: np.dtype, casting: str) -> np.ndarray:
    return block.astype(dtype, casting=casting)


def astype(a: Array, dtype: Any, casting: str = "unsafe") -> Array:
    """``a`` cast to ``dtype`` (checked against ``casting`` when built, as NumPy does)."""
    dtype = np.dtype(dtype)
    if not np.can_cast(a.dtype, dtype, casting=casting):
        raise TypeError(f"Cannot cast array from dtype {a.dtype} to {dtype} according to the rule {casting!r}")
    if dtype == a.dtype:
        return a
    # Built directly: elemwise() would mistake the cast's own dtype keyword for its output dtype argument.
    return Array(Elemwise(_astype, (a.expr,), (("casting", casting), ("dtype", dtype)), dtype))


def round_(a: Any, decimals: int = 0) -> Array:
    """``numpy.round`` elementwise."""
    return elemwise(np.round, a, decimals=decimals)


def isnan(a: Any) -> Array:
    return elemwise(np.isnan, a)


def isclose(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Array:
    """``numpy.isclose`` elementwise."""
    return elemwise(np.isclose, a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


def _generate_ufunc_wrappers() -> dict:
    """Module-level functions for every NumPy ufunc (``shoal.array.sin(x)``)."""
    out = {}
    for name in dir(np):
        obj = getattr(np, name)
        if isinstance(obj, np.ufunc):
            def wrapper(*args, _ufunc=obj, **kwargs):
                return _ufunc(*[a if not isinstance(a, (list, tuple)) else np.asarray(a) for a in args], **kwargs)

            wrapper.__name__ = name
            wrapper.__doc__ = f"``numpy.{name}`` elementwise on shoal Arrays (lazy)."
            out[name] = wrapper
    return out


UFUNCS = _generate_ufunc_wrappers()
