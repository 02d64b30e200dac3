"""NumPy routines built from other lazy operations (diff, broadcast_to, average, ...) compared with NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq

rng = np.random.default_rng(21)
A = rng.standard_normal((7, 6))
INTS = rng.integers(-3, 4, (7, 6))
CHUNKINGS = [(3, 4), 1, ((2, 5), (6,)), -1]


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("kwargs", [
    {}, {"n": 2}, {"n": 0}, {"axis": 0}, {"n": 3, "axis": 0}, {"prepend": 0.5}, {"append": A[:, :2]},
    {"prepend": A[:1], "append": 7.0, "axis": 0},
], ids=repr)
def test_diff(kwargs, chunks, sched):
    x = sa.from_array(A, chunks=chunks)
    lazy = {k: sa.from_array(v, chunks=2) if np.ndim(v) else v for k, v in kwargs.items()}
    assert_eq(np.diff(x, **lazy), np.diff(A, **kwargs), scheduler=sched)
    assert_eq(sa.diff(sa.from_array(INTS > 0, chunks=chunks), axis=0), np.diff(INTS > 0, axis=0), scheduler=sched)
    assert_eq(sa.diff(sa.from_array(INTS, chunks=chunks), 2), np.diff(INTS, 2), scheduler=sched)


@pytest.mark.parametrize("source, shape", [
    (np.arange(6.0), (4, 6)), (np.arange(3.0).reshape(3, 1), (2, 3, 5)), (np.float64(2.5), (3,)),
    (np.ones((1, 1)), (1, 4)), (np.arange(4), 4),
])
def test_broadcast_to(source, shape, sched):
    x = sa.from_array(source, chunks=2)
    expected = np.broadcast_to(source, shape)
    result = np.broadcast_to(x, shape)
    assert result.shape == expected.shape
    assert_eq(result, expected, scheduler=sched)
    assert_eq(sa.broadcast_to(x, shape) + 1, expected + 1, scheduler=sched)


def test_broadcast_to_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"\(3,\) and requested shape \(4,\)"):
        sa.broadcast_to(sa.ones(3, chunks=1), (4,))
    with pytest.raises(ValueError, match="requested shape"):
        sa.broadcast_to(sa.ones((2, 3), chunks=1), (3,))


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)])
def test_count_nonzero_and_ptp(axis, chunks, sched):
    x, ints = sa.from_array(A, chunks=chunks), sa.from_array(INTS, chunks=chunks)
    for keepdims in (False, True):
        assert_eq(np.count_nonzero(ints, axis=axis, keepdims=keepdims),
                  np.asarray(np.count_nonzero(INTS, axis=axis, keepdims=keepdims), dtype=np.intp), scheduler=sched)
        assert_eq(np.ptp(x, axis=axis, keepdims=keepdims), np.ptp(A, axis=axis, keepdims=keepdims), scheduler=sched)
        assert_eq(np.ptp(ints, axis=axis, keepdims=keepdims), np.ptp(INTS, axis=axis, keepdims=keepdims),
                  scheduler=sched)


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("axis, weights", [
    (None, None), (0, None), (None, np.abs(A) + 0.1), (1, np.abs(A) + 0.1), (0, np.arange(1.0, 8.0)),
    (-1, np.arange(6)), ((0, 1), np.abs(A) + 1),
], ids=["plain", "axis", "weights", "weights-axis", "1d-weights", "int-1d-weights", "two-axes"])
def test_average(axis, weights, chunks, sched):
    for data in (A, INTS):
        x = sa.from_array(data, chunks=chunks)
        lazy_weights = None if weights is None else sa.from_array(weights, chunks=3)
        for keepdims in (False, True):
            assert_eq(np.average(x, axis=axis, weights=lazy_weights, keepdims=keepdims),
                      np.average(data, axis=axis, weights=weights, keepdims=keepdims), scheduler=sched)
        result, total = sa.average(x, axis=axis, weights=lazy_weights, returned=True)
        expected, expected_total = np.average(data, axis=axis, weights=weights, returned=True)
        assert_eq(result, expected, scheduler=sched)
        assert_eq(total, expected_total, scheduler=sched)


def test_average_errors_as_numpy():
    x = sa.from_array(A, chunks=3)
    with pytest.raises(TypeError, match="Axis must be specified"):
        sa.average(x, weights=np.ones(6))
    with pytest.raises(ValueError, match="Length of weights"):
        sa.average(x, axis=0, weights=np.ones(6))


def test_nan_to_num_allclose_array_equal(sched):
    data = np.array([[np.nan, np.inf, -np.inf, 1.5], [2.0, np.nan, 0.0, -1.0]])
    x = sa.from_array(data, chunks=(1, 3))
    assert_eq(np.nan_to_num(x), np.nan_to_num(data), scheduler=sched)
    assert_eq(sa.nan_to_num(x, nan=-9.0, posinf=99.0, neginf=-99.0),
              np.nan_to_num(data, nan=-9.0, posinf=99.0, neginf=-99.0), scheduler=sched)
    y = sa.from_array(A, chunks=(3, 4))
    for other in (A, A + 1e-9, A + 1e-3):
        assert_eq(np.allclose(y, other), np.bool_(np.allclose(A, other)), scheduler=sched)
        assert_eq(np.array_equal(y, other), np.bool_(np.array_equal(A, other)), scheduler=sched)
    assert_eq(sa.allclose(x, data, equal_nan=True), np.bool_(np.allclose(data, data, equal_nan=True)), scheduler=sched)
    assert_eq(sa.array_equal(x, data, equal_nan=True), np.bool_(np.array_equal(data, data, equal_nan=True)),
              scheduler=sched)
    assert_eq(sa.array_equal(x, data), np.bool_(np.array_equal(data, data)), scheduler=sched)
    assert sa.array_equal(y, A[:3]) is False  # different shapes: known at once


def test_outer_inner_vdot(sched):
    complex_data = A + 1j * A[::-1]
    x, c = sa.from_array(A, chunks=(3, 4)), sa.from_array(complex_data, chunks=2)
    assert_eq(np.outer(x, x[0]), np.outer(A, A[0]), scheduler=sched)
    assert_eq(np.inner(x, x), np.inner(A, A), scheduler=sched)
    assert_eq(np.inner(x[0], x[1]), np.inner(A[0], A[1]), scheduler=sched)
    assert_eq(np.inner(x, 2.0), np.inner(A, 2.0), scheduler=sched)
    assert_eq(np.vdot(x, x), np.vdot(A, A), scheduler=sched)
    # complex scalars: compared within rounding (the blocks sum in another order than NumPy)
    np.testing.assert_allclose(np.vdot(c, c[::-1]).compute(scheduler=sched),
                               np.vdot(complex_data, complex_data[::-1]), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="as many"):
        sa.vdot(x, x[0])


def test_flips_atleast_and_complex_parts(sched):
    x = sa.from_array(A, chunks=(3, 4))
    assert_eq(np.fliplr(x), np.fliplr(A), scheduler=sched)
    assert_eq(np.flipud(x), np.flipud(A), scheduler=sched)
    with pytest.raises(ValueError, match=">= 2-d"):
        sa.fliplr(x[0])
    for fn in ("atleast_1d", "atleast_2d", "atleast_3d"):
        for data in (np.float64(3.0), A[0], A, A[None]):
            result = getattr(sa, fn)(sa.from_array(data, chunks=2))
            expected = getattr(np, fn)(data)
            assert result.shape == expected.shape
            assert_eq(result, expected, scheduler=sched)
        pair = getattr(np, fn)(sa.from_array(A[0], chunks=2), sa.from_array(A, chunks=2))
        assert [p.shape for p in pair] == [p.shape for p in getattr(np, fn)(A[0], A)]
    z = A + 2j * A[::-1]
    c = sa.from_array(z, chunks=3)
    assert_eq(sa.real(c), np.real(z), scheduler=sched)
    assert_eq(sa.imag(c), np.imag(z), scheduler=sched)
    assert_eq(np.angle(c, deg=True), np.angle(z, deg=True), scheduler=sched)
    assert_eq(sa.angle(c), np.angle(z), scheduler=sched)


def test_routines_on_processes(scheduler):
    x = sa.from_array(A, chunks=(3, 4))
    assert_eq(np.diff(x, axis=0).sum(), np.diff(A, axis=0).sum(), scheduler=scheduler)
    assert_eq(np.average(x, axis=1, weights=np.arange(6)), np.average(A, axis=1, weights=np.arange(6)),
              scheduler=scheduler)


CUBE = rng.standard_normal((3, 5, 6))


@pytest.mark.parametrize("k", [0, 1, -2, 10, -10])
def test_triangles_diagonals_and_trace(k, sched):
    x, c = sa.from_array(A, chunks=(3, 4)), sa.from_array(CUBE, chunks=2)
    assert_eq(np.tril(x, k), np.tril(A, k), scheduler=sched)
    assert_eq(np.triu(x, k), np.triu(A, k), scheduler=sched)
    assert_eq(np.tril(c, k), np.tril(CUBE, k), scheduler=sched)
    assert_eq(np.diagonal(x, k), np.diagonal(A, k), scheduler=sched)
    assert_eq(np.diagonal(c, k, 1, 2), np.diagonal(CUBE, k, 1, 2), scheduler=sched)
    assert_eq(np.diagonal(c, k, 2, 0), np.diagonal(CUBE, k, 2, 0), scheduler=sched)
    assert_eq(np.trace(x, k), np.trace(A, k), scheduler=sched)
    assert_eq(np.trace(c, k, 0, 2), np.trace(CUBE, k, 0, 2), scheduler=sched)
    assert_eq(np.diag(x, k), np.diag(A, k), scheduler=sched)
    assert_eq(np.diag(x[0], k), np.diag(A[0], k), scheduler=sched)
    assert_eq(sa.diag(sa.from_array(INTS[0] > 0, chunks=4), k), np.diag(INTS[0] > 0, k), scheduler=sched)
    assert_eq(np.trace(sa.from_array(INTS, chunks=4), k, dtype=float), np.trace(INTS, k, dtype=float), scheduler=sched)


def test_triangle_and_diagonal_errors():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        sa.tril(sa.ones(3, chunks=1))
    with pytest.raises(ValueError, match="cannot be the same"):
        sa.diagonal(sa.ones((3, 3), chunks=1), 0, 1, 1)
    with pytest.raises(ValueError, match="1- or 2-d"):
        sa.diag(sa.ones((2, 2, 2), chunks=1))


def test_isin_and_digitize(sched):
    x = sa.from_array(INTS, chunks=(3, 4))
    assert_eq(np.isin(x, [0, 2, -3]), np.isin(INTS, [0, 2, -3]), scheduler=sched)
    tests = np.array([[1, -1]])
    assert_eq(sa.isin(x, sa.from_array(tests, chunks=1), invert=True), np.isin(INTS, tests, invert=True),
              scheduler=sched)
    y = sa.from_array(A, chunks=(3, 4))
    for right in (False, True):
        assert_eq(np.digitize(y, [-1.0, 0.0, 0.5]), np.digitize(A, [-1.0, 0.0, 0.5]), scheduler=sched)
        assert_eq(np.digitize(x, [-1, 0, 2], right=right), np.digitize(INTS, [-1, 0, 2], right=right), scheduler=sched)
