"""Matrix products compared with NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq

rng = np.random.default_rng(3)
A = rng.standard_normal((7, 5))
B = rng.standard_normal((5, 6))
V = rng.standard_normal(5)


@pytest.mark.parametrize("chunks", [((3, 2), (2, 3)), 1, -1])
def test_matmul_and_dot(chunks, sched):
    x = sa.from_array(A, chunks=chunks[0] if isinstance(chunks, tuple) else chunks)
    y = sa.from_array(B, chunks=chunks[1] if isinstance(chunks, tuple) else chunks)
    v = sa.from_array(V, chunks=2)
    assert_eq(x @ y, A @ B, scheduler=sched)
    assert_eq(np.matmul(x, y), A @ B, scheduler=sched)
    assert_eq(np.dot(x, y), A @ B, scheduler=sched)
    assert_eq(x.dot(v), A @ V, scheduler=sched)
    assert_eq(v @ y, V @ B, scheduler=sched)
    assert_eq(v @ v, V @ V, scheduler=sched)
    assert_eq(A @ y, A @ B, scheduler=sched)  # ndarray on the left
    assert_eq(x @ B, A @ B, scheduler=sched)
    assert_eq(x @ x.T, A @ A.T, scheduler=sched)


def test_matmul_dtypes_and_errors():
    ints = rng.integers(0, 5, size=(4, 4))
    x = sa.from_array(ints, chunks=3)
    assert_eq(x @ x, ints @ ints)
    assert_eq(x @ sa.from_array(A[:4, :4], chunks=2), ints @ A[:4, :4])
    with pytest.raises(ValueError, match="mismatch"):
        sa.ones((3, 4)) @ sa.ones((3, 4))
    with pytest.raises(ValueError, match="scalars"):
        sa.matmul(sa.ones(3), 2)


STACKED = rng.standard_normal((3, 4, 5))


@pytest.mark.parametrize("left, right", [
    (STACKED, B), (STACKED, rng.standard_normal((3, 5, 2))), (A[:, :4], STACKED), (STACKED, V),
    (rng.standard_normal(4), STACKED), (rng.standard_normal((2, 1, 4, 5)), rng.standard_normal((3, 5, 2))),
    (rng.integers(0, 9, (2, 3, 3)), rng.integers(0, 9, (3, 2))),
], ids=["3d@2d", "3d@3d", "2d@3d", "3d@1d", "1d@3d", "broadcast-batch", "ints"])
@pytest.mark.parametrize("chunks", [2, 1, -1])
def test_matmul_of_stacks_of_matrices(left, right, chunks, sched):
    """Past 2 dimensions the leading axes are a stack of matrices, broadcast as in NumPy."""
    x, y = sa.from_array(left, chunks=chunks), sa.from_array(right, chunks=chunks)
    expected = left @ right
    result = x @ y
    assert result.shape == expected.shape and result.dtype == expected.dtype
    assert_eq(result, expected, scheduler=sched)
    assert_eq(np.matmul(x, y), expected, scheduler=sched)


@pytest.mark.parametrize("left, right", [
    (STACKED, B), (A, STACKED.transpose(0, 2, 1)), (STACKED, V), (STACKED, rng.standard_normal((2, 5, 3))),
    (A, 2.5), (3, V),
], ids=["3d.2d", "2d.3d", "3d.1d", "3d.3d", "scalar-right", "scalar-left"])
def test_dot_past_two_dimensions_and_with_scalars(left, right, sched):
    """``numpy.dot`` sums over ``a``'s last axis and ``b``'s second-to-last; with a scalar it multiplies."""
    lazy = [sa.from_array(v, chunks=2) if np.ndim(v) else v for v in (left, right)]
    assert_eq(np.dot(*lazy), np.dot(left, right), scheduler=sched)
    assert_eq(sa.dot(*lazy), np.dot(left, right), scheduler=sched)


def test_products_need_known_contracted_lengths():
    x = sa.from_array(A, chunks=3)
    rows = x[x[:, 0] > 0]  # unknown number of rows
    assert_eq(rows @ x.T[:5], A[A[:, 0] > 0] @ A.T[:5])  # the contracted axis is known: fine
    for contract_unknown in (lambda: rows.T @ rows, lambda: np.tensordot(rows, rows, axes=(0, 0)),
                             lambda: np.dot(rows.T, rows)):
        with pytest.raises(ValueError, match="unknown length.*compute_chunk_sizes"):
            contract_unknown()
    with pytest.raises(ValueError, match=r"stacks of matrices of shapes \(3, 4, 5\) and \(2, 5, 6\)"):
        sa.from_array(STACKED) @ sa.ones((2, 5, 6))


def test_matmul_on_processes(scheduler):
    assert_eq(sa.from_array(A, chunks=3) @ sa.from_array(B, chunks=2), A @ B, scheduler=scheduler)


@pytest.mark.parametrize("ord", [None, 2, 1, np.inf, -np.inf, 0, 3, 0.5])
def test_vector_norms(ord, sched):
    data = np.where(A > 1, 0, A)
    x = sa.from_array(data, chunks=(3, 2))
    for axis in (0, 1, -1):
        assert_eq(sa.linalg.norm(x, ord=ord, axis=axis), np.linalg.norm(data, ord=ord, axis=axis), scheduler=sched)
    assert_eq(np.linalg.norm(x[0], ord=ord), np.linalg.norm(data[0], ord=ord), scheduler=sched)


@pytest.mark.parametrize("ord", [None, "fro", 1, -1, np.inf, -np.inf])
def test_matrix_norms(ord, sched):
    x = sa.from_array(A, chunks=(3, 2))
    assert_eq(np.linalg.norm(x, ord=ord), np.linalg.norm(A, ord=ord), scheduler=sched)
    assert_eq(sa.linalg.norm(x, ord=ord, axis=(1, 0), keepdims=True),
              np.linalg.norm(A, ord=ord, axis=(1, 0), keepdims=True), scheduler=sched)
    cube = np.stack([A, 2 * A])
    assert_eq(sa.linalg.norm(sa.from_array(cube, chunks=2), ord=ord, axis=(1, 2)),
              np.linalg.norm(cube, ord=ord, axis=(1, 2)), scheduler=sched)


@pytest.mark.parametrize("ord", [2, -2, "nuc"])
@pytest.mark.parametrize("shape, chunks", [((30, 6), 5), ((6, 30), (3, 7)), ((20, 20), 4), ((1, 5), 1), ((5, 1), 2)])
def test_singular_value_norms(ord, shape, chunks, sched):
    # tall, wide (through the transpose), square with row blocks narrower than the matrix, single rows/columns
    data = rng.standard_normal(shape)
    x = sa.from_array(data, chunks=chunks)
    assert_eq(sa.linalg.norm(x, ord=ord), np.linalg.norm(data, ord=ord), scheduler=sched)
    for axis in ((0, 1), (1, 0)):
        assert_eq(sa.linalg.norm(x, ord=ord, axis=axis, keepdims=True),
                  np.linalg.norm(data, ord=ord, axis=axis, keepdims=True), scheduler=sched)


def test_norm_of_ints_and_unsupported_orders():
    ints = np.arange(12).reshape(3, 4)
    assert_eq(sa.linalg.norm(sa.from_array(ints, chunks=2)), np.linalg.norm(ints))
    assert_eq(sa.linalg.norm(sa.from_array(ints, chunks=2), axis=1), np.linalg.norm(ints, axis=1))
    with pytest.raises(NotImplementedError, match="stack of matrices"):
        sa.linalg.norm(sa.from_array(np.stack([A, A]), chunks=2), ord="nuc", axis=(1, 2))
    with pytest.raises(ValueError, match="Invalid norm order"):
        sa.linalg.norm(sa.from_array(A, chunks=2), ord=3)


def test_tensordot(sched):
    a = rng.standard_normal((3, 4, 5))
    b = rng.standard_normal((5, 4, 2))
    x = sa.from_array(a, chunks=2)
    y = sa.from_array(b, chunks=(3, 2, 1))
    for axes in [([1, 2], [1, 0]), 1, ([2], [0])]:
        assert_eq(np.tensordot(x, y, axes=axes), np.tensordot(a, b, axes=axes), scheduler=sched)
    assert_eq(sa.tensordot(x, y, axes=0), np.tensordot(a, b, axes=0), scheduler=sched)
    with pytest.raises(ValueError, match="shape-mismatch"):
        sa.tensordot(x, y, axes=([0], [0]))


@pytest.mark.parametrize("chunks", [(10, 6), (13, 2), (50, 6)])
def test_tall_and_skinny_qr_and_svd(chunks, sched):
    import shoal

    a = rng.standard_normal((50, 6))
    x = sa.from_array(a, chunks=chunks)
    q, r = np.linalg.qr(x)
    assert q.chunks[0] == x.chunks[0] and r.shape == (6, 6)
    Q, R = shoal.compute(q, r, scheduler=sched)
    np.testing.assert_allclose(Q @ R, a, atol=1e-10)
    np.testing.assert_allclose(Q.T @ Q, np.eye(6), atol=1e-10)
    np.testing.assert_allclose(np.triu(R), R)
    u, s, v = sa.linalg.svd(x)
    U, S, V = shoal.compute(u, s, v, scheduler=sched)
    np.testing.assert_allclose(S, np.linalg.svd(a, compute_uv=False))
    np.testing.assert_allclose((U * S) @ V, a, atol=1e-10)
    np.testing.assert_allclose(U.T @ U, np.eye(6), atol=1e-10)
    assert_eq(np.linalg.svd(x, full_matrices=False)[1], np.linalg.svd(a, compute_uv=False), scheduler=sched)


def test_qr_needs_tall_blocks():
    with pytest.raises(ValueError, match="tall-and-skinny"):
        sa.linalg.qr(sa.from_array(rng.standard_normal((20, 6)), chunks=(4, 6)))


@pytest.mark.parametrize("subscripts, shapes", [
    ("ij,jk->ik", [(4, 5), (5, 3)]), ("ij,jk", [(4, 5), (5, 3)]), ("ii", [(4, 4)]), ("ii->i", [(4, 4)]),
    ("ij->ji", [(4, 5)]), ("ij,j->i", [(4, 5), (5,)]), ("i,i", [(5,), (5,)]), ("ij->", [(4, 5)]),
    ("ij,kj->ikj", [(4, 5), (4, 5)]), ("abc,cd,b->ad", [(3, 4, 5), (5, 2), (4,)]),
    # '...' broadcasts like NumPy: leading or trailing, implicit or explicit output, length-1 axes stretched
    ("...ij,...jk", [(4, 2, 3), (3, 5)]), ("...ij,...jk->...ik", [(4, 1, 2, 3), (5, 3, 2)]),
    ("i...->...", [(3, 4, 5)]), ("...,...", [(3, 4), (4,)]), ("...ii->...i", [(2, 3, 3)]),
    ("ij...,j...", [(2, 3, 1), (3, 4)]), ("...i,...i->...", [(3, 1, 4), (1, 2, 4)]),
])
def test_einsum(subscripts, shapes, sched):
    arrays = [rng.standard_normal(s) for s in shapes]
    lazy = [sa.from_array(a, chunks=2 + k) for k, a in enumerate(arrays)]
    result = np.einsum(subscripts, *lazy)
    assert isinstance(result, sa.Array)
    assert_eq(result, np.einsum(subscripts, *arrays), scheduler=sched)


def test_einsum_errors():
    x = sa.ones((2, 3), chunks=1)
    with pytest.raises(ValueError, match="broadcast together"):
        sa.einsum("...i,...i", sa.ones((3, 4)), sa.ones((2, 4)))
    with pytest.raises(ValueError, match="more letters"):
        sa.einsum("...ijk", x)
    with pytest.raises(ValueError, match="letters"):
        sa.einsum("i->i", x)


def test_solve_and_inv(sched):
    a = rng.standard_normal((6, 6)) + 6 * np.eye(6)
    b = rng.standard_normal((6, 4))
    v = rng.standard_normal(6)
    x = sa.from_array(a, chunks=4)
    assert_eq(np.linalg.solve(x, sa.from_array(b, chunks=(4, 3))), np.linalg.solve(a, b), scheduler=sched)
    assert_eq(sa.linalg.solve(x, v), np.linalg.solve(a, v), scheduler=sched)
    assert_eq(np.linalg.inv(x), np.linalg.inv(a), scheduler=sched)
    with pytest.raises(np.linalg.LinAlgError, match="square"):
        sa.linalg.inv(sa.ones((3, 4)))


@pytest.mark.parametrize("b_shape", [(40,), (40, 3)], ids=["vector", "matrix"])
@pytest.mark.parametrize("chunks", [(10, 4), (40, 4), (8, 2)])
def test_lstsq_of_a_tall_and_skinny_matrix(b_shape, chunks, sched):
    """``(x, residuals, rank, s)`` as numpy.linalg.lstsq gives them, through the TSQR."""
    tall = rng.standard_normal((40, 4))
    b = rng.standard_normal(b_shape)
    expected = np.linalg.lstsq(tall, b, rcond=None)
    result = np.linalg.lstsq(sa.from_array(tall, chunks=chunks), sa.from_array(b, chunks=7))
    for lazy, eager in zip(result, expected):
        assert lazy.shape == np.shape(eager)
        assert_eq(lazy, eager, scheduler=sched, check_dtype=False)
    with pytest.raises(ValueError, match="b has 5 rows but a has 40"):
        sa.linalg.lstsq(sa.from_array(tall, chunks=chunks), sa.ones(5))
