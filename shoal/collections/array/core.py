"""``Array``: a blocked NumPy array, a thin wrapper around an immutable ``ArrayExpr``.

Every method builds a new expression; nothing runs until ``compute()``,
``persist()``, ``np.asarray(x)`` or ``store``. The collection protocol is
spoken on the *optimized* plan (fusion, slice pushdown), and the graph is
culled to the blocks the output needs.

>>> import numpy as np
>>> from shoal.collections.array.creation import from_array
>>> x = from_array(np.arange(6).reshape(2, 3), chunks=(1, 2))
>>> x.numblocks, x.chunks
((2, 2), ((1, 1), (2, 1)))
>>> (x + 1).sum().compute(scheduler="sync")
np.int64(21)
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from ...base import CollectionMethods
from ...taskgraph.cull import cull
from ...taskgraph.protocol import flatten_keys
from .cheap_blocks import inline_cheap_blocks
from .expr import ArrayExpr

__all__ = ["Array", "concatenate_blocks"]


class Array(CollectionMethods):
    """A lazy N-dimensional array cut into NumPy blocks."""

    __slots__ = ("expr", "__weakref__")
    __shoal_scheduler__ = "threads"
    # NumPy defers to us in mixed operations (ndarray + Array -> Array.__radd__).
    __array_priority__ = 20

    def __init__(self, expr: ArrayExpr):
        if not isinstance(expr, ArrayExpr):
            raise TypeError(f"Array wraps an ArrayExpr, got {type(expr).__name__}; use shoal.array.from_array for data")
        object.__setattr__(self, "expr", expr)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot set {name!r} on a shoal Array (only x[index] = value assigns)")

    def __reduce__(self):
        return (Array, (self.expr,))  # pickle would restore the slot through __setattr__, which refuses

    # ------------------------------------------------------------ metadata
    @property
    def name(self) -> str:
        return self.expr._name

    @property
    def chunks(self) -> tuple:
        return self.expr.chunks

    @property
    def dtype(self) -> np.dtype:
        return self.expr.dtype

    @property
    def shape(self) -> tuple:
        return self.expr.shape

    @property
    def ndim(self) -> int:
        return self.expr.ndim

    @property
    def size(self) -> int | float:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int | float:
        return self.size * self.dtype.itemsize

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def numblocks(self) -> tuple:
        return self.expr.numblocks

    @property
    def npartitions(self) -> int:
        return self.expr.npartitions

    @property
    def chunksize(self) -> tuple:
        """The largest block length along each axis."""
        return tuple(max(c, default=0) if not any(math.isnan(b) for b in c) else math.nan for c in self.chunks)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d array is not defined (as in NumPy)")
        n = self.shape[0]
        if isinstance(n, float) and math.isnan(n):
            raise ValueError("The length of this array is unknown (nan chunks); call compute_chunk_sizes() first")
        return n

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    # ------------------------------------------------------------ protocol
    def __shoal_graph__(self) -> dict:
        plan = self.expr.optimize()
        outputs = flatten_keys(plan._keys())
        return inline_cheap_blocks(cull(plan.__shoal_graph__(), outputs), plan, outputs)

    def __shoal_keys__(self) -> Any:
        return self.expr.optimize()._keys()

    def __shoal_postcompute__(self):
        return concatenate_blocks, (self.ndim,)

    def __shoal_postpersist__(self):
        plan = self.expr.optimize()
        return _rebuild_persisted, (plan._name, plan.chunks, plan.dtype)

    def __shoal_tokenize__(self) -> str:
        return self.expr._name

    # compute() and persist() come from CollectionMethods; only the file name differs here.
    def visualize(self, filename: str | None = "myarray.svg", **kwargs) -> str:
        """Draw this array's task graph (to ``myarray.svg`` by default); see ``shoal.visualize``."""
        return super().visualize(filename, **kwargs)

    def explain(self, optimize: bool = True) -> None:
        """Print the plan (optimized by default)."""
        self.expr.explain(optimize=optimize)

    def __array__(self, dtype=None, copy=None):
        result = np.asarray(self.compute())
        return result.astype(dtype, copy=False) if dtype is not None else result

    def to_delayed(self, optimize_graph: bool = True) -> np.ndarray:
        """An object array of ``Delayed``, one per block, shaped like the block grid."""
        from ..delayed import Delayed

        plan = self.expr.optimize()
        graph = self.__shoal_graph__() if optimize_graph else plan.__shoal_graph__()
        out = np.empty(self.numblocks, dtype=object)
        for idx in np.ndindex(*self.numblocks):
            out[idx] = Delayed(plan._key(idx), None, (), graph=graph)
        return out

    def __bool__(self) -> bool:
        if self.size != 1:
            raise ValueError(
                f"The truth value of an array with {self.size} elements is ambiguous; use .any() or .all()"
            )
        return bool(self.compute())

    def __int__(self) -> int:
        return int(self.compute())

    def __float__(self) -> float:
        return float(self.compute())

    def __complex__(self) -> complex:
        return complex(self.compute())

    def __index__(self) -> int:
        return operator.index(self.compute())

    # ------------------------------------------------------------ display
    def __repr__(self) -> str:
        from .repr import array_repr

        return array_repr(self)

    def _repr_html_(self) -> str:
        from .repr import array_html

        return array_html(self)

    # ------------------------------------------------------------ NumPy protocols
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from .elementwise import array_ufunc

        return array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        from .numpy_compat import array_function

        return array_function(func, types, args, kwargs)

    # ------------------------------------------------------------ indexing
    def __getitem__(self, index: Any) -> "Array":
        from .slicing import getitem

        return getitem(self, index)

    def __setitem__(self, index: Any, value: Any) -> None:
        """``x[mask] = v`` / ``x[2:5] = v``: rebinds this Array to a new plan (see ``assignment``)."""
        from .assignment import assign

        object.__setattr__(self, "expr", assign(self, index, value))

    @property
    def vindex(self):
        """Pointwise indexing: ``x.vindex[[0, 2], [1, 3]]`` is the elements ``x[0, 1]`` and ``x[2, 3]``."""
        from .take import VIndex

        return VIndex(self)

    @property
    def blocks(self) -> "BlockView":
        """Index the grid of blocks: ``x.blocks[0, -1]`` is an Array of that one block."""
        return BlockView(self)

    # ------------------------------------------------------------ methods
    def rechunk(self, chunks: Any = "auto") -> "Array":
        from .rechunk import rechunk

        return rechunk(self, chunks)

    def map_blocks(self, func, *args, **kwargs) -> "Array":
        from .blockwise import map_blocks

        return map_blocks(func, self, *args, **kwargs)

    def map_overlap(self, func, depth: Any = 1, boundary: Any = "none", trim: bool = True, **kwargs) -> "Array":
        from .overlap import map_overlap

        return map_overlap(func, self, depth=depth, boundary=boundary, trim=trim, **kwargs)

    def astype(self, dtype: Any, casting: str = "unsafe", copy: bool = True) -> "Array":
        from .elementwise import astype

        return astype(self, dtype, casting=casting)

    def round(self, decimals: int = 0) -> "Array":
        from .elementwise import round_

        return round_(self, decimals)

    def clip(self, min=None, max=None) -> "Array":
        from .elementwise import clip

        return clip(self, min, max)

    def conj(self) -> "Array":
        return np.conjugate(self)

    @property
    def real(self) -> "Array":
        return np.real(self)

    @property
    def imag(self) -> "Array":
        return np.imag(self)

    def transpose(self, *axes: Any) -> "Array":
        from .shape import transpose

        if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
            axes = axes[0]
        return transpose(self, axes or None)

    @property
    def T(self) -> "Array":
        return self.transpose()

    def compute_chunk_sizes(self, **kwargs) -> "Array":
        """This array with its unknown (nan) block lengths measured; see ``slicing.compute_chunk_sizes``."""
        from .slicing import compute_chunk_sizes

        return compute_chunk_sizes(self, **kwargs)

    def cumsum(self, axis: Any = None, dtype: Any = None, out: Any = None) -> "Array":
        from .cumulative import cumsum

        return cumsum(self, axis, dtype, out)

    def cumprod(self, axis: Any = None, dtype: Any = None, out: Any = None) -> "Array":
        from .cumulative import cumprod

        return cumprod(self, axis, dtype, out)

    def nonzero(self) -> tuple:
        """The positions of the non-zero elements, one Array per axis (see ``shoal.array.where``)."""
        from .nonzero import nonzero

        return nonzero(self)

    def topk(self, k: int, axis: Any = -1, split_every: Any = None) -> "Array":
        """The ``k`` largest elements along ``axis`` (see ``shoal.array.topk``)."""
        from .summaries import topk

        return topk(self, k, axis=axis, split_every=split_every)

    def reshape(self, *shape: Any) -> "Array":
        from .shape import reshape

        return reshape(self, shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape)

    def ravel(self) -> "Array":
        from .shape import ravel

        return ravel(self)

    def flatten(self) -> "Array":
        return self.ravel()

    def dot(self, other: Any) -> "Array":
        from .linalg import dot

        return dot(self, other)

    def squeeze(self, axis: Any = None) -> "Array":
        from .shape import squeeze

        return squeeze(self, axis)

    def swapaxes(self, axis1: int, axis2: int) -> "Array":
        from .shape import swapaxes

        return swapaxes(self, axis1, axis2)

    def copy(self) -> "Array":
        return self  # immutable: a copy would be indistinguishable


def _reduction_method(name: str):
    def method(self, *args, **kwargs):
        from . import reductions

        return getattr(reductions, name)(self, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"``numpy.{name}`` of this array, lazily (see ``shoal.array.{name}``)."
    return method


for _name in ("sum", "prod", "mean", "std", "var", "min", "max", "argmin", "argmax", "any", "all"):
    setattr(Array, _name, _reduction_method(_name))


def _delegate(name: str, module: str, function: str):
    """Method ``name`` calling ``shoal.collections.array.<module>.<function>(self, ...)`` (NumPy's/Dask's names)."""
    def method(self, *args, **kwargs):
        from importlib import import_module

        return getattr(import_module(f"{__package__}.{module}"), function)(self, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"``numpy.ndarray.{name}`` / ``dask.array.Array.{name}`` of this array, lazily."
    return method


for _name, (_module, _function) in {
    "conjugate": ("routines", "_conjugate"), "repeat": ("stacking", "repeat"), "trace": ("routines", "trace"),
    "diagonal": ("routines", "diagonal"), "store": ("creation", "store"), "to_zarr": ("zarr_io", "to_zarr"),
    "argtopk": ("summaries", "argtopk"),
}.items():
    setattr(Array, _name, _delegate(_name, _module, _function))
Array.partitions = Array.blocks  # Dask's other name for the block view


def _binary(op, reflected: bool = False):
    def method(self, other):
        from .elementwise import elemwise, is_operand

        if not is_operand(other):
            return NotImplemented
        return elemwise(op, other, self) if reflected else elemwise(op, self, other)

    return method


def _unary(op):
    def method(self):
        from .elementwise import elemwise

        return elemwise(op, self)

    return method


_BINARY_OPERATORS = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
    "floordiv": operator.floordiv, "mod": operator.mod, "pow": operator.pow, "and": operator.and_,
    "or": operator.or_, "xor": operator.xor, "lshift": operator.lshift, "rshift": operator.rshift,
}
for _name, _op in _BINARY_OPERATORS.items():
    setattr(Array, f"__{_name}__", _binary(_op))
    setattr(Array, f"__r{_name}__", _binary(_op, reflected=True))
for _name, _op in {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le,
                   "gt": operator.gt, "ge": operator.ge}.items():
    setattr(Array, f"__{_name}__", _binary(_op))
for _name, _op in {"neg": operator.neg, "pos": operator.pos, "abs": operator.abs,
                   "invert": operator.invert}.items():
    setattr(Array, f"__{_name}__", _unary(_op))


def _divmod(self, other):
    return self // other, self % other


def _rdivmod(self, other):
    return other // self, other % self


def _matmul(self, other):
    from .elementwise import is_operand
    from .linalg import matmul

    return matmul(self, other) if is_operand(other) else NotImplemented


def _rmatmul(self, other):
    from .elementwise import is_operand
    from .linalg import matmul

    return matmul(other, self) if is_operand(other) else NotImplemented


Array.__matmul__ = _matmul
Array.__rmatmul__ = _rmatmul
Array.__divmod__ = _divmod
Array.__rdivmod__ = _rdivmod
Array.__hash__ = object.__hash__  # __eq__ is elementwise, identity hashing like NumPy's is unhashable; keep usable in sets


class BlockView:
    """``x.blocks[i, j]``: the array made of the selected blocks."""

    def __init__(self, array: Array):
        self._array = array

    def __getitem__(self, index: Any) -> Array:
        from .slicing import select_blocks

        return select_blocks(self._array, index)

    @property
    def shape(self) -> tuple:
        return self._array.numblocks

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def ravel(self) -> list:
        return [self[idx] for idx in np.ndindex(*self.shape)]


def concatenate_blocks(blocks: Any, ndim: int) -> Any:
    """One NumPy array from blocks nested as lists along each axis (a 0-d array's single block as is).

    >>> concatenate_blocks([[np.ones((1, 2)), np.zeros((1, 1))]], 2).tolist()
    [[1.0, 1.0, 0.0]]
    """
    if ndim == 0 or type(blocks) is not list:
        return blocks
    return _concatenate(blocks, 0, ndim)


def _concatenate(blocks: list, axis: int, ndim: int) -> np.ndarray:
    if axis == ndim - 1:
        parts = blocks
    else:
        parts = [_concatenate(b, axis + 1, ndim) for b in blocks]
    if len(parts) == 1:
        return np.asarray(parts[0])
    return np.concatenate([np.asarray(p) for p in parts], axis=axis)


def _rebuild_persisted(results: dict, name: str, chunks: tuple, dtype: np.dtype) -> Array:
    from .creation import Persisted

    blocks = {k: v for k, v in results.items() if type(k) is tuple and k and k[0] == name}
    return Array(Persisted(name, chunks, dtype, blocks))
