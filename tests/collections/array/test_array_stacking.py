"""hstack, vstack, block, roll, repeat, tile and pad compared with NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq

A = np.arange(20.0).reshape(4, 5)
V = np.arange(6)


def test_stacks_and_block(sched):
    x = sa.from_array(A, chunks=(3, 2))
    v = sa.from_array(V, chunks=4)
    assert_eq(np.hstack([x, x[:, :2]]), np.hstack([A, A[:, :2]]), scheduler=sched)
    assert_eq(sa.hstack([v, v]), np.hstack([V, V]), scheduler=sched)
    assert_eq(np.vstack([x, A[:1]]), np.vstack([A, A[:1]]), scheduler=sched)
    assert_eq(sa.vstack([v, v * 2]), np.vstack([V, V * 2]), scheduler=sched)
    assert_eq(np.block([[x, x], [x * 2, A]]), np.block([[A, A], [A * 2, A]]), scheduler=sched)
    assert_eq(sa.block([v, v]), np.block([V, V]), scheduler=sched)


@pytest.mark.parametrize("layout", [
    lambda a, v, s: [[[a]], [[a * 2]]],  # deeper than the arrays: they gain a leading axis
    lambda a, v, s: [[a, v[:4, None]], [v[:5], s]],  # a 1-d row and a scalar grow to 2-d
    lambda a, v, s: [[[v]]],
    lambda a, v, s: [v, s, v],
    lambda a, v, s: [[a], [a[:1]]],
], ids=["deeper-than-arrays", "mixed-dimensions", "one-vector", "vectors-and-scalar", "rows"])
def test_block_promotes_arrays_to_the_nesting_depth_as_numpy(layout, sched):
    """``np.block([[[a]], [[b]]])`` stacks 2-d arrays into a 3-d result, as NumPy does (it used to join rows)."""
    x, v, s = sa.from_array(A, chunks=(3, 2)), sa.from_array(V, chunks=4), sa.from_array(np.float64(9.0))
    expected = np.block(layout(A, V, np.float64(9.0)))
    result = sa.block(layout(x, v, s))
    assert result.shape == expected.shape
    assert_eq(result, expected, scheduler=sched)


def test_stacks_of_scalars_and_block_errors():
    s, t = sa.from_array(np.float64(1.0)), sa.from_array(np.float64(2.0))
    assert_eq(sa.vstack([s, t]), np.vstack([1.0, 2.0]))
    assert_eq(sa.hstack([s, t]), np.hstack([1.0, 2.0]))
    v = sa.from_array(V, chunks=4)
    with pytest.raises(ValueError, match="depths are mismatched"):
        sa.block([[v], v])
    with pytest.raises(ValueError, match="cannot be empty"):
        sa.block([])
    with pytest.raises(TypeError, match="tuple"):
        sa.block(([v],))


@pytest.mark.parametrize("shift, axis", [(2, 0), (-1, 1), (7, None), ((1, 2), (0, 1)), (0, 0), (13, 1)])
def test_roll(shift, axis, sched):
    x = sa.from_array(A, chunks=(3, 2))
    assert_eq(np.roll(x, shift, axis=axis), np.roll(A, shift, axis=axis), scheduler=sched)


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_repeat(axis, sched):
    x = sa.from_array(A, chunks=(3, 2))
    assert_eq(np.repeat(x, 3, axis=axis), np.repeat(A, 3, axis=axis), scheduler=sched)
    assert_eq(sa.repeat(x, 0, axis=axis), np.repeat(A, 0, axis=axis), scheduler=sched)


@pytest.mark.parametrize("reps", [2, (2, 1), (1, 3), (2, 2, 2), 0])
def test_tile(reps, sched):
    assert_eq(np.tile(sa.from_array(A, chunks=(3, 2)), reps), np.tile(A, reps), scheduler=sched)


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric", "wrap"])
@pytest.mark.parametrize("width", [1, (2, 3), ((1, 0), (3, 2)), ((4, 4), (0, 7))])
def test_pad(mode, width, sched):
    x = sa.from_array(A, chunks=(3, 2))
    assert_eq(np.pad(x, width, mode=mode), np.pad(A, width, mode=mode), scheduler=sched)
    if mode == "constant":
        assert_eq(sa.pad(x, width, constant_values=-1.5), np.pad(A, width, constant_values=-1.5), scheduler=sched)


PAD_DATA = {
    "float": np.random.default_rng(12).standard_normal((5, 7)),
    "int": np.random.default_rng(13).integers(-20, 20, (5, 7)),
    "uint8": np.random.default_rng(14).integers(0, 200, (5, 7)).astype("u1"),
}


@pytest.mark.parametrize("mode, keywords", [
    ("maximum", {}), ("minimum", {}), ("mean", {}), ("median", {}), ("mean", {"stat_length": 2}),
    ("maximum", {"stat_length": ((1, 3), (2, 100))}), ("median", {"stat_length": (3, 1)}),
    ("linear_ramp", {}), ("linear_ramp", {"end_values": (5, -3)}), ("linear_ramp", {"end_values": ((1, 2), (3, 4))}),
    ("constant", {"constant_values": ((7, 8), (9, 10))}), ("constant", {"constant_values": (1, 2)}),
], ids=repr)
@pytest.mark.parametrize("width", [1, (2, 3), ((0, 4), (3, 1))])
@pytest.mark.parametrize("kind", sorted(PAD_DATA))
def test_pad_statistics_ramps_and_constants_per_side(mode, keywords, width, kind, sched):
    """The other ``numpy.pad`` modes and per-side values, on floats and ints (NumPy rounds ints its way)."""
    data = PAD_DATA[kind]
    expected = np.pad(data, width, mode=mode, **keywords)
    result = np.pad(sa.from_array(data, chunks=2), width, mode=mode, **keywords)
    assert result.dtype == expected.dtype
    assert_eq(result, expected, scheduler=sched)


def test_pad_empty_mode_and_errors():
    x = sa.from_array(A, chunks=2)
    assert np.pad(x, ((1, 2), (0, 3)), mode="empty").shape == np.pad(A, ((1, 2), (0, 3)), mode="empty").shape
    assert_eq(np.pad(sa.zeros((0, 2), chunks=1), 1, mode="empty").shape, (2, 4))
    with pytest.raises(ValueError, match="not supported"):
        sa.pad(x, 1, mode="bogus")
    with pytest.raises(ValueError, match="negative"):
        sa.pad(x, -1)
    with pytest.raises(ValueError, match="empty axis"):
        sa.pad(sa.zeros((0, 2), chunks=1), 1, mode="mean")
    with pytest.raises(ValueError, match="constant_values"):
        sa.pad(x, 1, constant_values=(1, 2, 3))
