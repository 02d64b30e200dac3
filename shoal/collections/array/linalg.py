"""Linear algebra: ``x @ y``, ``matmul``, ``dot``, ``tensordot``, ``einsum``; ``norm``;
``qr`` and ``svd`` of tall-and-skinny matrices.

Block ``(i, j)`` of ``x @ y`` is the sum over ``k`` of ``x[i, k] @ y[k, j]``:
the products are made blockwise with ``k`` kept as a leading axis, and that
axis is then summed by the ordinary tree reduction, so no task ever holds a
whole row of blocks. ``solve``/``inv`` factor the square matrix in one task (it must fit in memory).

>>> import numpy as np
>>> from shoal.collections.array.creation import from_array
>>> a = from_array(np.arange(6.0).reshape(2, 3), chunks=2)
>>> (a @ a.T).compute(scheduler="sync").tolist()
[[5.0, 14.0], [14.0, 50.0]]
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np

from ...taskgraph.core import Ref, Task
from ...taskgraph.tokenize import tokenize
from .blas_threads import one_blas_thread_in_workers
from .core import Array
from .expr import ArrayExpr

__all__ = ["matmul", "dot", "norm", "tensordot", "einsum", "qr", "svd", "TSQR", "solve", "inv", "lstsq"]


def _block_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # worker threads already use every core: BLAS threads on top would only oversubscribe them
    with one_blas_thread_in_workers():
        return np.matmul(a, b)[None]


def _check_known(length: Any, what: str) -> None:
    if isinstance(length, float) and np.isnan(length):
        raise ValueError(f"{what}: the contracted axis has unknown length (nan chunks); "
                         "call compute_chunk_sizes() on the operands first")


def matmul(x1: Any, x2: Any) -> Array:
    """``numpy.matmul``: 1-d operands are promoted and the axis removed after; past 2 dimensions the
    leading axes are a stack of matrices, broadcast as in NumPy."""
    from .blockwise import blockwise
    from .creation import asarray

    a, b = asarray(x1), asarray(x2)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: Input operand does not have enough dimensions (scalars are not allowed; use *)")
    vector_left, vector_right = a.ndim == 1, b.ndim == 1
    if vector_left:
        a = a[None, :]
    if vector_right:
        b = b[:, None]
    _check_known(a.shape[-1], "matmul")
    _check_known(b.shape[-2], "matmul")
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(
            f"matmul: Input operand 1 has a mismatch in its core dimension 0 "
            f"(size {b.shape[-2]} is different from {a.shape[-1]}): shapes {tuple(x1.shape)} and {tuple(x2.shape)}"
        )
    dtype = np.result_type(a.dtype, b.dtype)
    if a.ndim > 2 or b.ndim > 2:
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(f"matmul: the stacks of matrices of shapes {tuple(x1.shape)} and {tuple(x2.shape)} "
                             "do not broadcast together") from None
        result = einsum("...ij,...jk->...ik", a, b, dtype=dtype)
    else:
        products = blockwise(_block_product, "kij", a, "ik", b, "kj", dtype=dtype, adjust_chunks={"k": 1})
        result = products.sum(axis=0, dtype=dtype)
    if vector_left and vector_right:
        return result[..., 0, 0]
    if vector_left:
        return result[..., 0, :]
    if vector_right:
        return result[..., 0]
    return result


def dot(a: Any, b: Any) -> Array:
    """``numpy.dot``: ``matmul`` for 1-d and 2-d arrays, ``*`` with a scalar, and past 2 dimensions the sum
    over ``a``'s last axis and ``b``'s second-to-last (its only one when 1-d)."""
    from .creation import asarray

    a, b = asarray(a), asarray(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.ndim <= 2 and b.ndim <= 2:
        return matmul(a, b)
    return tensordot(a, b, axes=((a.ndim - 1,), (max(b.ndim - 2, 0),)))


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Array:
    """``numpy.linalg.norm``: vector norms over one axis, matrix norms over two (``2``/``-2``/``'nuc'`` by SVD).

    >>> from shoal.collections.array.creation import from_array
    >>> float(norm(from_array(np.array([3.0, 4.0]), chunks=1)).compute(scheduler="sync"))
    5.0
    """
    from . import reductions
    from .creation import asarray

    x = asarray(x)
    if not np.issubdtype(x.dtype, np.inexact):
        x = x.astype(float)
    if axis is None:
        if ord is None:  # the 2-norm of the flattened array, whatever its dimensions
            return np.sqrt(reductions.sum(abs(x) ** 2, axis=None, keepdims=keepdims))
        axis = tuple(range(x.ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    axes = tuple(int(a) % x.ndim for a in axes)
    magnitude = abs(x)
    if len(axes) == 1:
        if ord is None or ord == 2:
            return np.sqrt(reductions.sum(magnitude ** 2, axis=axes, keepdims=keepdims))
        if ord == np.inf:
            return reductions.max(magnitude, axis=axes, keepdims=keepdims)
        if ord == -np.inf:
            return reductions.min(magnitude, axis=axes, keepdims=keepdims)
        if ord == 0:
            return reductions.sum(x != 0, axis=axes, keepdims=keepdims).astype(magnitude.dtype)
        if ord == 1:
            return reductions.sum(magnitude, axis=axes, keepdims=keepdims)
        if isinstance(ord, str):
            raise ValueError(f"Invalid norm order {ord!r} for vectors")
        return reductions.sum(magnitude ** ord, axis=axes, keepdims=keepdims) ** (1.0 / ord)
    if len(axes) != 2:
        raise ValueError("Improper number of dimensions to norm.")
    row_axis, col_axis = axes
    if ord is None or ord == "fro":
        return np.sqrt(reductions.sum(magnitude ** 2, axis=axes, keepdims=keepdims))
    if ord in (1, -1, np.inf, -np.inf):
        # 1: the largest column sum; inf: the largest row sum (their negatives: the smallest)
        summed_axis, other_axis = (row_axis, col_axis) if abs(ord) == 1 else (col_axis, row_axis)
        sums = reductions.sum(magnitude, axis=summed_axis, keepdims=True)
        pick = reductions.max if ord > 0 else reductions.min
        result = pick(sums, axis=other_axis, keepdims=True)
        if not keepdims:
            from .shape import squeeze

            result = squeeze(result, axis=axes)
        return result
    if ord in (2, -2, "nuc"):
        return _singular_value_norm(x, ord, axes, keepdims)
    raise ValueError(f"Invalid norm order {ord!r} for matrices")


def _singular_value_norm(x: Array, ord: Any, axes: tuple, keepdims: bool) -> Array:
    """The 2-norm (largest singular value), -2 (smallest) or nuclear norm (their sum) of a matrix.

    The singular values come from the tall-and-skinny SVD (of the transpose
    when the matrix is wide: the values are the same), so the shorter side must
    fit in one block's columns.
    """
    from . import reductions

    if x.ndim != 2:
        raise NotImplementedError(f"norm(ord={ord!r}) over two axes of a {x.ndim}-d array (a stack of matrices) is "
                                  "not implemented for shoal Arrays; loop over the matrices or compute() first")
    matrix = x.T if axes == (1, 0) else x
    if matrix.shape[0] < matrix.shape[1]:
        matrix = matrix.T
    rows, cols = matrix.shape
    if matrix.numblocks[0] > 1 and min(matrix.chunks[0][:-1]) < cols:
        matrix = matrix.rechunk({0: max(cols, max(matrix.chunks[0])), 1: -1})
    values = Array(TSQR(_tall_and_skinny(matrix, f"norm(ord={ord!r})").expr, "s"))
    pick = {2: reductions.max, -2: reductions.min, "nuc": reductions.sum}[ord]
    result = pick(values)
    return result.reshape(1, 1) if keepdims else result


# --------------------------------------------------------------------- tensordot


def _tensordot_block(a: np.ndarray, b: np.ndarray, axes: tuple, contracted: int) -> np.ndarray:
    return np.tensordot(a, b, axes=axes)[(None,) * contracted]


def tensordot(a: Any, b: Any, axes: Any = 2) -> Array:
    """``numpy.tensordot``: products of matching blocks over the contracted axes, summed by a tree reduction."""
    from .blockwise import blockwise
    from .creation import asarray

    a, b = asarray(a), asarray(b)
    if isinstance(axes, (int, np.integer)):
        a_axes, b_axes = list(range(a.ndim - axes, a.ndim)), list(range(axes))
    else:
        a_axes, b_axes = ([x] if isinstance(x, (int, np.integer)) else list(x) for x in axes)
    a_axes = [ax % a.ndim for ax in a_axes]
    b_axes = [ax % b.ndim for ax in b_axes]
    for i in a_axes:
        _check_known(a.shape[i], "tensordot")
    for j in b_axes:
        _check_known(b.shape[j], "tensordot")
    if len(a_axes) != len(b_axes) or any(a.shape[i] != b.shape[j] for i, j in zip(a_axes, b_axes)):
        raise ValueError(f"shape-mismatch for sum: axes {a_axes} of {a.shape} and {b_axes} of {b.shape}")
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    a_ind = [next(letters) for _ in range(a.ndim)]
    b_ind = [next(letters) for _ in range(b.ndim)]
    for i, j in zip(a_axes, b_axes):
        b_ind[j] = a_ind[i]
    contracted = [a_ind[i] for i in a_axes]
    free = [c for k, c in enumerate(a_ind) if k not in a_axes] + [c for k, c in enumerate(b_ind) if k not in b_axes]
    dtype = np.result_type(a.dtype, b.dtype)
    local_axes = (tuple(a_axes), tuple(b_axes))
    products = blockwise(_tensordot_block, "".join(contracted + free), a, "".join(a_ind), b, "".join(b_ind),
                         dtype=dtype, adjust_chunks={c: 1 for c in contracted}, axes=local_axes,
                         contracted=len(contracted))
    if not contracted:
        return products
    return products.sum(axis=tuple(range(len(contracted))), dtype=dtype)


# --------------------------------------------------------------------- einsum


def _einsum_block(*blocks: np.ndarray, subscripts: str, contracted: int, result_dtype: np.dtype) -> np.ndarray:
    return np.einsum(subscripts, *blocks, dtype=result_dtype)[(None,) * contracted]


def _expand_ellipsis(spec: str, arrays: list) -> str:
    """``spec`` with each ``...`` replaced by letters of its own, as NumPy broadcasts them.

    The broadcast axes are right-aligned across operands and share letters; an
    operand's length-1 axis facing a longer one gets a letter of its own that is
    summed away (summing a length-1 axis just drops it, which is broadcasting).

    >>> _expand_ellipsis("...i,i", [np.ones((2, 3)), np.ones(3)])
    'Ai,i->A'
    """
    inputs, arrow, output = spec.partition("->")
    in_inds = inputs.split(",")
    free = iter(c for c in string.ascii_uppercase + string.ascii_lowercase if c not in spec)
    ellipsis_shapes = []  # each operand's axes under its '...', padded on the left with 1s
    for ind, a in zip(in_inds, arrays):
        if ind.count("...") > 1 or ind.replace("...", "").count("."):
            raise ValueError(f"einsum: {ind!r} is not a valid operand subscript (at most one '...')")
        rank = a.ndim - len(ind.replace("...", "")) if "..." in ind else 0
        if rank < 0:
            raise ValueError(f"einsum: {ind!r} has more letters than its operand has dimensions ({a.ndim})")
        start = ind.find("...")
        ellipsis_shapes.append(tuple(a.shape[start:start + rank]) if rank else ())
    width = max(len(shape) for shape in ellipsis_shapes)
    shared = [next(free) for _ in range(width)]
    padded = [(1,) * (width - len(shape)) + shape for shape in ellipsis_shapes]
    sizes = [max(shape[j] for shape in padded) for j in range(width)]
    expanded = []
    for ind, shape in zip(in_inds, ellipsis_shapes):
        letters = []
        for j, size in zip(range(width - len(shape), width), shape):
            if size == sizes[j]:
                letters.append(shared[j])
            elif size == 1:
                letters.append(next(free))  # broadcast against a longer axis: summed away
            else:
                raise ValueError(f"einsum: operands could not be broadcast together on '...' "
                                 f"(axis sizes {size} and {sizes[j]})")
        expanded.append(ind.replace("...", "".join(letters)))
    if arrow:
        if output.count("...") > 1:
            raise ValueError(f"einsum: output {output!r} may hold '...' once")
        out = output.replace("...", "".join(shared))
    else:
        letters = inputs.replace("...", "").replace(",", "")
        out = "".join(shared) + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return ",".join(expanded) + "->" + out


def einsum(subscripts: str, *operands: Any, dtype: Any = None) -> Array:
    """``numpy.einsum`` with explicit or implicit output and ``...`` for broadcast axes: each block of
    products is summed inside its task, and the block sums over the contracted letters by a tree reduction.

    >>> from shoal.collections.array.creation import from_array
    >>> m = from_array(np.arange(9.0).reshape(3, 3), chunks=2)
    >>> float(einsum("ii", m).compute(scheduler="sync"))
    12.0
    >>> einsum("...ij,...jk", from_array(np.ones((4, 2, 3))), m).shape
    (4, 2, 3)
    """
    from .blockwise import blockwise
    from .creation import asarray

    spec = subscripts.replace(" ", "")
    if len(spec.partition("->")[0].split(",")) != len(operands):
        raise ValueError(f"einsum: {len(spec.partition('->')[0].split(','))} operands in {subscripts!r} "
                         f"but {len(operands)} given")
    arrays = [asarray(op) for op in operands]
    if "." in spec:
        spec = _expand_ellipsis(spec, arrays)
    inputs, _, output = spec.partition("->")
    in_inds = inputs.split(",")
    for ind, a in zip(in_inds, arrays):
        if len(ind) != a.ndim:
            raise ValueError(f"einsum: {ind!r} has {len(ind)} letters for an operand of {a.ndim} dimensions")
    if not _:
        counts = {c: inputs.count(c) for c in set(inputs.replace(",", ""))}
        output = "".join(sorted(c for c, n in counts.items() if n == 1))
    contracted = sorted({c for ind in in_inds for c in ind} - set(output))
    result_dtype = np.dtype(dtype) if dtype is not None else np.result_type(*(a.dtype for a in arrays))
    pairs: list = []
    for a, ind in zip(arrays, in_inds):
        pairs += [a, ind]
    # Inside each task the block's own products are summed over the contracted letters; the contracted
    # letters are kept as length-1 leading axes so the blocks can be summed across tasks afterwards.
    products = blockwise(_einsum_block, "".join(contracted) + output, *pairs, dtype=result_dtype,
                         adjust_chunks={c: 1 for c in contracted}, subscripts=f"{inputs}->{output}",
                         contracted=len(contracted), result_dtype=result_dtype)
    if not contracted:
        return products
    return products.sum(axis=tuple(range(len(contracted))), dtype=result_dtype)


# --------------------------------------------------------------------- tall-and-skinny QR / SVD


class TSQR(ArrayExpr):
    """One output (``part``: "q", "r", "u", "s" or "v") of the tall-and-skinny QR/SVD of ``array``.

    Every row block is factored (``Q_i R_i``), the stacked ``R_i`` are factored
    again (``Q2 R``), and ``Q``'s row block ``i`` is ``Q_i`` times the rows of
    ``Q2`` that belong to block ``i``. All parts share the intermediate keys,
    so computing Q and R together factors each block once.
    """

    _parameters = ["array", "part"]

    def _compute_dtype(self) -> np.dtype:
        probe = np.linalg.qr(np.ones((1, 1), dtype=self.array.dtype))[0].dtype
        if self.part == "s":
            return np.linalg.svd(np.ones((1, 1), dtype=probe), compute_uv=False).dtype
        return probe

    def _compute_chunks(self) -> tuple:
        rows, (n,) = self.array.chunks
        k = min(sum(rows), n)
        return {"q": (rows, (k,)), "u": (rows, (k,)), "r": ((k,), (n,)), "s": ((k,),), "v": ((k,), (n,))}[self.part]

    def _layer(self) -> dict:
        token = tokenize(self.array._name)
        factor, stack = f"tsqr-block-{token}", f"tsqr-stack-{token}"
        layer: dict = {}
        nblocks = self.array.numblocks[0]
        for i in range(nblocks):
            layer[(factor, i)] = Task((factor, i), np.linalg.qr, Ref(self.array._key((i, 0))))
        layer[stack] = Task(stack, _factor_stack, [Ref((factor, i)) for i in range(nblocks)])
        svd_key = f"tsqr-svd-{token}"
        if self.part in ("u", "s", "v"):
            layer[svd_key] = Task(svd_key, _svd_of_r, Ref(stack))
        for idx in np.ndindex(*self.numblocks):
            key = self._key(idx)
            if self.part in ("q", "u"):
                layer[key] = Task(key, _q_block, Ref((factor, idx[0])), Ref(stack), idx[0],
                                  Ref(svd_key) if self.part == "u" else None)
            elif self.part == "r":
                layer[key] = Task(key, _pick, Ref(stack), "r")
            else:
                layer[key] = Task(key, _pick, Ref(svd_key), self.part)
        return layer


def _factor_stack(factors: list) -> dict:
    rs = [r for _, r in factors]
    q2, r = np.linalg.qr(np.concatenate(rs, axis=0))
    offsets = np.cumsum([0] + [r_i.shape[0] for r_i in rs])
    return {"q2": q2, "r": r, "offsets": offsets}


def _svd_of_r(stack: dict) -> dict:
    u, s, v = np.linalg.svd(stack["r"], full_matrices=False)
    return {"u": u, "s": s, "v": v}


def _q_block(factor: tuple, stack: dict, i: int, svd: dict | None) -> np.ndarray:
    q_i = factor[0]
    q = q_i @ stack["q2"][stack["offsets"][i]:stack["offsets"][i + 1]]
    return q if svd is None else q @ svd["u"]


def _pick(value: dict, part: str) -> np.ndarray:
    return value[part]


def _tall_and_skinny(a: Any, name: str) -> Array:
    from .creation import asarray

    a = asarray(a)
    if a.ndim != 2:
        raise ValueError(f"{name} needs a 2-d array, got {a.ndim} dimensions")
    if any(np.isnan(c) for blocks in a.chunks for c in blocks):
        raise ValueError(f"{name} needs every row block's length (to check it is tall enough), and some are "
                         "unknown (nan chunks); call compute_chunk_sizes() first")
    if a.numblocks[1] != 1:
        a = a.rechunk({1: -1})
    if any(c < a.shape[1] for c in a.chunks[0][:-1]) and a.numblocks[0] > 1:
        raise ValueError(
            f"{name} is implemented for tall-and-skinny arrays: every row block must have at least as many rows as "
            f"the array has columns ({a.shape[1]}); rechunk the rows into larger blocks (e.g. x.rechunk({{0: "
            f"{a.shape[1]}}})) or compute() first"
        )
    return a


def qr(a: Any) -> tuple:
    """``numpy.linalg.qr`` (reduced) of a tall-and-skinny matrix: ``(Q, R)`` with ``Q`` chunked like ``a``'s rows."""
    a = _tall_and_skinny(a, "qr")
    return Array(TSQR(a.expr, "q")), Array(TSQR(a.expr, "r"))


def svd(a: Any) -> tuple:
    """``numpy.linalg.svd(full_matrices=False)`` of a tall-and-skinny matrix, through its QR: ``(U, S, Vh)``."""
    a = _tall_and_skinny(a, "svd")
    return Array(TSQR(a.expr, "u")), Array(TSQR(a.expr, "s")), Array(TSQR(a.expr, "v"))


# --------------------------------------------------------------------- solve / inv (in-memory square matrix)


def _square(a: Any, name: str) -> Array:
    from .creation import asarray

    a = asarray(a)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise np.linalg.LinAlgError(f"{name}: the matrix must be square (2-d, n x n), got shape {a.shape}")
    return a.rechunk(-1)


def solve(a: Any, b: Any) -> Array:
    """``numpy.linalg.solve`` for a square ``a`` (factored in one task) and ``b`` of shape (n,) or (n, k).

    The columns of ``b`` keep their blocks; each block of columns is one solve.
    """
    from .blockwise import blockwise
    from .creation import asarray

    a = _square(a, "solve")
    b = asarray(b)
    if b.shape[0] != a.shape[0]:
        raise ValueError(f"solve: b has {b.shape[0]} rows but a is {a.shape[0]} x {a.shape[1]}")
    dtype = np.linalg.solve(np.eye(1, dtype=a.dtype), np.ones((1, 1), dtype=b.dtype)).dtype
    if b.ndim == 1:
        return blockwise(np.linalg.solve, "i", a, "ij", b.rechunk(-1), "j", dtype=dtype)
    return blockwise(np.linalg.solve, "ik", a, "ij", b.rechunk({0: -1}), "jk", dtype=dtype)


def inv(a: Any) -> Array:
    """``numpy.linalg.inv`` of a square matrix (inverted in one task)."""
    from .blockwise import map_blocks

    a = _square(a, "inv")
    return map_blocks(np.linalg.inv, a, dtype=np.linalg.inv(np.eye(1, dtype=a.dtype)).dtype)


# --------------------------------------------------------------------- least squares (tall-and-skinny)


def _singular_values(r: np.ndarray) -> np.ndarray:
    return np.linalg.svd(r, compute_uv=False)


def _rank(singular: np.ndarray, rows: int, cols: int) -> np.ndarray:
    # numpy.linalg.matrix_rank's default tolerance, from the singular values of R (those of a)
    tolerance = singular.max(initial=0) * max(rows, cols) * np.finfo(singular.dtype).eps
    return np.asarray(int((singular > tolerance).sum()))


def lstsq(a: Any, b: Any) -> tuple:
    """``numpy.linalg.lstsq`` of a tall-and-skinny ``a``, through its QR as Dask's: ``(x, residuals, rank, s)``.

    ``x`` solves ``R x = Q^T b``; the residuals are the squared norms of
    ``b - a @ x`` per column (shape (1,) for a 1-d ``b``, as Dask gives them,
    also where NumPy returns an empty array for a rank-deficient ``a``).
    """
    from .blockwise import map_blocks
    from .creation import asarray

    a, b = asarray(a), asarray(b)
    if a.ndim != 2 or b.ndim not in (1, 2):
        raise ValueError(f"lstsq: a must be 2-d and b 1-d or 2-d, got shapes {a.shape} and {b.shape}")
    if b.shape[0] != a.shape[0]:
        raise ValueError(f"lstsq: b has {b.shape[0]} rows but a has {a.shape[0]}")
    q, r = qr(a)
    x = solve(r, q.T @ b)
    residuals = (abs(b - a @ x) ** 2).sum(axis=0)
    if b.ndim == 1:
        residuals = residuals[None]
    singular = map_blocks(_singular_values, r.rechunk(-1), drop_axis=1, chunks=((r.shape[1],),),
                          dtype=np.finfo(np.result_type(r.dtype, np.float32)).dtype)
    rank = map_blocks(_rank, singular, rows=a.shape[0], cols=a.shape[1], drop_axis=0, chunks=(), dtype=int)
    return x, residuals, rank, singular
