"""``ArrayExpr``: the base of every node of an array plan.

Rules this file keeps:

- An array node knows its ``chunks`` (tuple of tuples) and ``dtype`` without
  computing anything; ``shape``, ``numblocks`` and the rest derive from them.
  A subclass either has operands called ``chunks``/``dtype`` or overrides
  ``_compute_chunks``/``_compute_dtype``; the answers are cached on the
  (immutable) node.
- Keys are ``(name, i, j, ...)``, one per block; a 0-d array has the single
  key ``(name,)``. A subclass emits one block with ``_block(index)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...taskgraph.core import GraphNode
from ...taskgraph.expr import Expr
from .chunks import iter_block_indices, shape_from_chunks

__all__ = ["ArrayExpr"]


class ArrayExpr(Expr):
    """A node of an array plan: chunks and dtype known up front, one task per block."""

    @property
    def chunks(self) -> tuple:
        cached = self.__dict__.get("_cached_chunks")
        if cached is None:
            if "chunks" in type(self)._parameters:
                cached = self.operand("chunks")
            else:
                cached = self._compute_chunks()
            self.__dict__["_cached_chunks"] = cached
        return cached

    @property
    def dtype(self) -> np.dtype:
        cached = self.__dict__.get("_cached_dtype")
        if cached is None:
            if "dtype" in type(self)._parameters:
                cached = np.dtype(self.operand("dtype"))
            else:
                cached = np.dtype(self._compute_dtype())
            self.__dict__["_cached_dtype"] = cached
        return cached

    def _compute_chunks(self) -> tuple:
        raise NotImplementedError(f"{type(self).__name__} must define _compute_chunks or a 'chunks' operand")

    def _compute_dtype(self) -> np.dtype:
        return self.dependencies()[0].dtype

    @property
    def shape(self) -> tuple:
        return shape_from_chunks(self.chunks)

    @property
    def ndim(self) -> int:
        return len(self.chunks)

    @property
    def numblocks(self) -> tuple:
        return tuple(len(c) for c in self.chunks)

    @property
    def npartitions(self) -> int:
        return math.prod(self.numblocks)

    def _key(self, index: Any) -> tuple:
        if isinstance(index, int):  # a flat partition number, as the Expr base uses
            index = np.unravel_index(index, self.numblocks) if self.numblocks else ()
            index = tuple(int(i) for i in index)
        return (self._name, *index)

    def _keys(self) -> Any:
        """Keys nested as lists along every axis; the single key of a 0-d array."""
        return _nested_keys(self._name, self.numblocks)

    def _block(self, index: tuple) -> GraphNode:
        """Hook: the task computing block ``index``, keyed ``self._key(index)``."""
        raise NotImplementedError(f"{type(self).__name__} must define _block(index)")

    def _layer(self) -> dict:
        return {self._key(idx): self._block(idx) for idx in iter_block_indices(self.numblocks)}

    def _explain_args(self) -> dict[str, Any]:
        shown = super()._explain_args()
        shown.pop("chunks", None)
        shown.pop("meta", None)
        return shown


def _nested_keys(name: str, numblocks: tuple, prefix: tuple = ()) -> Any:
    if not numblocks:
        return (name, *prefix)
    return [_nested_keys(name, numblocks[1:], prefix + (i,)) for i in range(numblocks[0])]
