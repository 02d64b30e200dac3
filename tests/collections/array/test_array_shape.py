"""concatenate and stack compared with NumPy (transpose is tested with the collection)."""

from __future__ import annotations

import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq

A = np.arange(12.0).reshape(3, 4)
B = np.arange(8).reshape(2, 4)


@pytest.mark.parametrize("chunks", [(2, 3), 1, -1])
def test_concatenate(chunks, sched):
    x = sa.from_array(A, chunks=chunks)
    y = sa.from_array(B, chunks=(1, 3))
    joined = np.concatenate([x, y])
    assert isinstance(joined, sa.Array)
    assert_eq(joined, np.concatenate([A, B]), scheduler=sched)
    assert_eq(sa.concatenate([x, A[:, :2]], axis=1), np.concatenate([A, A[:, :2]], axis=1), scheduler=sched)
    assert_eq(sa.concatenate([x, x, x], axis=-1), np.concatenate([A, A, A], axis=-1), scheduler=sched)
    assert_eq(sa.concatenate([x > 3, y > 3]), np.concatenate([A > 3, B > 3]), scheduler=sched)


def test_concatenate_with_axis_none_joins_the_flattened_arrays(sched):
    x = sa.from_array(A, chunks=(2, 3))
    pieces = [x, x[:, ::-2].T, np.arange(5), sa.from_array(np.float64(7.5))]
    eager = [A, A[:, ::-2].T, np.arange(5), np.float64(7.5)]
    assert_eq(sa.concatenate(pieces, axis=None), np.concatenate([np.ravel(e) for e in eager]), scheduler=sched)
    assert_eq(np.concatenate([x, x > 0], axis=None), np.concatenate([A, A > 0], axis=None), scheduler=sched)


def test_concatenate_errors_name_the_shapes():
    x = sa.from_array(A, chunks=2)
    with pytest.raises(ValueError, match=r"along dimension 1.*\(3, 4\), \(3, 3\)"):
        sa.concatenate([x, sa.ones((3, 3))])
    with pytest.raises(ValueError, match="same number of dimensions"):
        sa.concatenate([x, sa.ones(4)])
    with pytest.raises(ValueError, match="at least one"):
        sa.concatenate([])


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_stack(axis, sched):
    x = sa.from_array(A, chunks=(2, 3))
    stacked = np.stack([x, x * 2, A], axis=axis)
    assert isinstance(stacked, sa.Array)
    assert_eq(stacked, np.stack([A, A * 2, A], axis=axis), scheduler=sched)
    with pytest.raises(ValueError, match="same shape"):
        sa.stack([x, sa.ones((2, 4))])


def test_concatenate_on_processes(scheduler):
    x = sa.from_array(A, chunks=(2, 3))
    assert_eq(sa.concatenate([x, x[::-1]]).sum(axis=0), np.concatenate([A, A[::-1]]).sum(axis=0), scheduler=scheduler)


C = np.arange(2 * 3 * 4 * 1).reshape(2, 3, 4, 1)


def test_swapaxes_moveaxis_squeeze_expand_dims_flip(sched):
    x = sa.from_array(C, chunks=(1, 2, 3, 1))
    cases = [
        (np.swapaxes(x, 0, 2), np.swapaxes(C, 0, 2)),
        (x.swapaxes(-1, 1), C.swapaxes(-1, 1)),
        (np.moveaxis(x, 0, -1), np.moveaxis(C, 0, -1)),
        (np.moveaxis(x, [0, 1], [3, 2]), np.moveaxis(C, [0, 1], [3, 2])),
        (np.squeeze(x), np.squeeze(C)),
        (x.squeeze(axis=3), C.squeeze(axis=3)),
        (np.expand_dims(x, 1), np.expand_dims(C, 1)),
        (sa.expand_dims(x, (0, -1)), np.expand_dims(C, (0, -1))),
        (np.flip(x), np.flip(C)),
        (np.flip(x, axis=(1, 2)), np.flip(C, axis=(1, 2))),
        (sa.flip(x, -2), np.flip(C, -2)),
    ]
    for lazy, eager in cases:
        assert isinstance(lazy, sa.Array)
        assert_eq(lazy, eager, scheduler=sched)
    with pytest.raises(ValueError, match="size not equal to one"):
        x.squeeze(axis=0)
    with pytest.raises(np.exceptions.AxisError):
        np.swapaxes(x, 0, 4)


R = np.arange(120.0).reshape(6, 20)
SHAPES = [(120,), (20, 6), (2, 3, 20), (3, 40), (-1, 8), (4, 5, 6), (1, 120), (120, 1), (2, 2, 2, 15), (6, 20)]


@pytest.mark.parametrize("chunks", [(4, 7), 1, -1, (5, 20)])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_reshape(shape, chunks, sched):
    x = sa.from_array(R, chunks=chunks)
    assert_eq(x.reshape(shape), R.reshape(shape), scheduler=sched)
    assert_eq(np.reshape(x, shape), R.reshape(shape), scheduler=sched)


def test_reshape_ravel_edge_cases():
    x = sa.from_array(R, chunks=(4, 7))
    assert_eq(x.ravel(), R.ravel())
    assert_eq(np.ravel(x), R.ravel())
    assert_eq(x.reshape(4, 30).reshape(2, 2, 30).sum(axis=1), R.reshape(2, 2, 30).sum(axis=1))
    assert_eq(sa.from_array(np.array(3.0)).reshape(1, 1), np.array(3.0).reshape(1, 1))
    assert_eq(sa.ones((0, 3)).reshape(3, 0), np.ones((0, 3)).reshape(3, 0))
    assert_eq(sa.from_array(np.ones((1, 1))).reshape(()), np.ones((1, 1)).reshape(()))
    with pytest.raises(ValueError, match="cannot reshape array of size 120 into shape"):
        x.reshape(7, 17)
    with pytest.raises(ValueError, match="one unknown"):
        x.reshape(-1, -1)
