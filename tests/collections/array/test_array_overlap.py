"""map_overlap compared with the same stencil on the whole NumPy array padded by np.pad."""

from __future__ import annotations

import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq

rng = np.random.default_rng(9)
A = rng.standard_normal((9, 11))
PAD_MODE = {"reflect": "symmetric", "periodic": "wrap", "nearest": "edge"}


def stencil(block: np.ndarray) -> np.ndarray:
    """A 5-point sum: needs one neighbour on each side along both axes."""
    return (block + np.roll(block, 1, 0) + np.roll(block, -1, 0) + np.roll(block, 1, 1) + np.roll(block, -1, 1))


def wide_stencil(block: np.ndarray, scale: float = 1.0) -> np.ndarray:
    return scale * (block + np.roll(block, 2, 0) - np.roll(block, -3, 1))


@pytest.mark.parametrize("chunks", [(4, 3), (2, 5), -1, 3])
@pytest.mark.parametrize("boundary", ["reflect", "periodic", "nearest", 0, 2.5])
def test_stencil_matches_numpy(boundary, chunks, sched):
    x = sa.from_array(A, chunks=chunks)
    if isinstance(boundary, str):
        padded = np.pad(A, 1, mode=PAD_MODE[boundary])
    else:
        padded = np.pad(A, 1, mode="constant", constant_values=boundary)
    expected = stencil(padded)[1:-1, 1:-1]
    assert_eq(x.map_overlap(stencil, depth=1, boundary=boundary), expected, scheduler=sched)


def test_depth_per_axis_larger_than_blocks_and_kwargs():
    x = sa.from_array(A, chunks=(2, 2))
    padded = np.pad(A, ((2, 2), (3, 3)), mode="wrap")
    expected = wide_stencil(padded, scale=2.0)[2:-2, 3:-3]
    assert_eq(sa.map_overlap(wide_stencil, x, depth={0: 2, 1: 3}, boundary="periodic", scale=2.0), expected)


def test_boundary_none_and_untrimmed_blocks():
    x = sa.from_array(A, chunks=(4, 5))
    assert_eq(x.map_overlap(lambda b: b, depth=2, boundary="none"), A)
    untrimmed = x.map_overlap(lambda b: b, depth=1, boundary="none", trim=False)
    assert untrimmed.chunks == ((5, 6, 2), (6, 7, 2))
    blocks = untrimmed.compute()
    assert blocks.shape == (13, 15)
    np.testing.assert_array_equal(blocks[:5, :6], A[:5, :6])  # first block plus one row/column of margin
    with pytest.raises(ValueError, match="boundary"):
        x.map_overlap(lambda b: b, boundary="mirror")


def test_map_overlap_on_processes(scheduler):
    x = sa.from_array(A, chunks=(4, 3))
    expected = stencil(np.pad(A, 1, mode="edge"))[1:-1, 1:-1]
    assert_eq(x.map_overlap(stencil, depth=1, boundary="nearest"), expected, scheduler=scheduler)


def mixed_stencil(p: np.ndarray, q: np.ndarray, weight: float = 1.0) -> np.ndarray:
    """Reads one neighbour of ``q`` on each side along the last axis, and ``p`` in place."""
    return p * weight + np.roll(q, 1, -1) - np.roll(q, -1, -1)


@pytest.mark.parametrize("chunks", [((4, 3), (2, 5)), (3, -1), ((2, 7), 4)])
@pytest.mark.parametrize("boundary", ["reflect", "periodic", "nearest", 0])
def test_several_arrays_cut_and_extended_alike(boundary, chunks, sched):
    """``map_overlap(f, x, y, depth=...)``: both arrays extended the same way, as Dask's map_overlap does."""
    B = np.cos(A)
    x, y = sa.from_array(A, chunks=chunks[0]), sa.from_array(B, chunks=chunks[1])
    widths = ((0, 0), (1, 1))
    if isinstance(boundary, str):
        padded = [np.pad(v, widths, mode=PAD_MODE[boundary]) for v in (A, B)]
    else:
        padded = [np.pad(v, widths, constant_values=boundary) for v in (A, B)]
    expected = mixed_stencil(*padded, weight=2.0)[:, 1:-1]
    result = sa.map_overlap(mixed_stencil, x, y, depth={1: 1}, boundary=boundary, weight=2.0)
    assert result.shape == A.shape
    assert_eq(result, expected, scheduler=sched)


def test_several_arrays_errors():
    x = sa.from_array(A, chunks=3)
    with pytest.raises(ValueError, match="one shape"):
        sa.map_overlap(mixed_stencil, x, x[:4], depth=1)
    with pytest.raises(TypeError, match="at least one array"):
        sa.map_overlap(mixed_stencil, depth=1)
    untrimmed = sa.map_overlap(mixed_stencil, x, x, depth=1, boundary="none", trim=False)
    assert untrimmed.shape[0] > A.shape[0]
