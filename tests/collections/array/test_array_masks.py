"""Boolean-mask indexing (unknown chunk sizes) and compute_chunk_sizes, compared with NumPy."""

from __future__ import annotations

import math

import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq

rng = np.random.default_rng(6)
A = rng.standard_normal((7, 6))


@pytest.mark.parametrize("chunks", [(3, 4), 1, -1])
def test_boolean_mask_selects_in_numpy_order(chunks, sched):
    x = sa.from_array(A, chunks=chunks)
    for mask in (x > 0, A > 0.5, sa.from_array(A < 0, chunks=2)):
        eager = A[np.asarray(mask.compute() if isinstance(mask, sa.Array) else mask)]
        selected = x[mask]
        assert selected.ndim == 1 and math.isnan(selected.shape[0])
        assert_eq(selected, eager, scheduler=sched)
        assert_eq(selected.sum(), eager.sum(), scheduler=sched)
        assert_eq((selected * 2 + 1).max(), (eager * 2 + 1).max(), scheduler=sched)
    empty = x[x > 100]
    assert_eq(empty, A[A > 100], scheduler=sched)


def test_operations_that_need_sizes_say_compute_chunk_sizes():
    x = sa.from_array(A, chunks=3)
    y = x[x > 0]
    for needs_sizes in (lambda: y[1:4], lambda: y[0], lambda: y.rechunk(2), lambda: len(y),
                        lambda: y + sa.ones(5)):
        with pytest.raises(ValueError, match="compute_chunk_sizes|unknown"):
            needs_sizes()
    assert "nan" in repr(y)
    assert "unknown" in y._repr_html_()


def test_compute_chunk_sizes_measures_the_blocks(sched):
    x = sa.from_array(A, chunks=(3, 4))
    y = x[x > 0].compute_chunk_sizes(scheduler=sched)
    eager = A[A > 0]
    assert sum(y.chunks[0]) == eager.size and y.shape == eager.shape
    assert_eq(y[2:9:2], eager[2:9:2], scheduler=sched)
    assert_eq(y.rechunk(4), eager, scheduler=sched)
    assert len(y) == eager.size


def test_mask_on_processes(scheduler):
    x = sa.from_array(A, chunks=(3, 4))
    assert_eq(x[x > 0].sum(), A[A > 0].sum(), scheduler=scheduler)


@pytest.mark.parametrize("chunks", [(3, 4), 1, ((1, 6), (2, 2, 2)), -1])
@pytest.mark.parametrize("select", [
    lambda m, col, row: m[col > 0],
    lambda m, col, row: m[:, row < 0],
    lambda m, col, row: m[1::2, row > -0.5],
    lambda m, col, row: m[None, col < 0, 3],
    lambda m, col, row: m[col > 100],
], ids=["rows", "columns", "after-a-slice", "with-None-and-int", "none-selected"])
def test_lazy_one_dimensional_mask_along_an_axis(select, chunks, sched):
    """``x[x[:, 0] > 0]``: a lazy 1-d mask keeps rows (or columns) as NumPy does; that axis's sizes are unknown."""
    x = sa.from_array(A, chunks=chunks)
    expected = select(A, A[:, 0], A[0])
    for mask_chunks in (2, -1):  # the mask need not be cut like the axis it masks
        column = sa.from_array(A[:, 0], chunks=mask_chunks)
        row = sa.from_array(A[0], chunks=mask_chunks)
        selected = select(x, column, row)
        assert selected.ndim == expected.ndim
        assert any(math.isnan(n) for n in selected.shape)
        assert_eq(selected, expected, scheduler=sched)
        assert_eq(selected.sum(axis=0), expected.sum(axis=0), scheduler=sched)
    assert_eq(select(x, x[:, 0], x[0]).compute_chunk_sizes().shape, expected.shape)


def test_lazy_mask_errors_are_raised_when_built():
    x = sa.from_array(A, chunks=3)
    with pytest.raises(IndexError, match="size of axis is 7 but size of corresponding boolean axis is 6"):
        x[x[0] > 0]
    with pytest.raises(NotImplementedError, match="compute\\(\\) the index first"):
        x[sa.ones((2, 2), dtype=int, chunks=1)]  # a 2-d integer Array
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        x[x[:, 0] > 0][x[:, 0] > 0]  # the masked axis's length is no longer known


def test_more_operations_that_need_sizes_fail_when_built_not_when_computed():
    """Positions, neighbours and assignments along an axis of unknown length used to compute garbage
    (argmax gave -2**63) or fail deep inside a task; they now say to call compute_chunk_sizes()."""
    x = sa.from_array(A, chunks=(2, 4))
    rows = x[x[:, 0] > -0.5]  # (nan, 6)
    flat = x[x > 0]  # (nan,)

    def assign_column():
        rows[:, 0] = 5

    for needs_sizes in (lambda: rows.argmax(axis=0), lambda: flat.argmin(), lambda: sa.nanargmax(rows),
                        lambda: flat.map_overlap(lambda b: b, depth=1, boundary="none"),
                        lambda: rows.map_overlap(lambda b: b, depth={1: 1}, boundary="reflect"),
                        lambda: rows.vindex[[0, 1], [0, 1]], lambda: np.pad(rows, 1), assign_column,
                        lambda: sa.linalg.qr(rows), lambda: sa.linalg.norm(rows, ord=2)):
        with pytest.raises(ValueError, match="compute_chunk_sizes"):
            needs_sizes()
    # along known axes these still work, and match NumPy
    eager = A[A[:, 0] > -0.5]
    assert_eq(rows.argmax(axis=1), eager.argmax(axis=1))
    assert_eq(np.pad(rows, ((0, 0), (1, 2)), mode="edge"), np.pad(eager, ((0, 0), (1, 2)), mode="edge"))
    rows[rows > 1] = 0  # a mask of the array's own shape needs no sizes
    eager = eager.copy()
    eager[eager > 1] = 0
    assert_eq(rows, eager)


def test_rechunk_the_known_axes_of_an_array_with_unknown_ones(sched):
    """``y.rechunk({1: 4})`` keeps the unknown axis's blocks and recuts the known one, as in Dask; operations
    that recut along a known axis (topk, median over it) then work too."""
    x = sa.from_array(A, chunks=(2, 4))
    rows = x[x[:, 0] > -0.5]
    eager = A[A[:, 0] > -0.5]
    for spec in ({1: 4}, {1: -1}, {-1: (1, 5)}, {1: 1}):
        recut = rows.rechunk(spec)
        assert recut.chunks[0] == rows.chunks[0]
        assert_eq(recut, eager, scheduler=sched)
    assert_eq(sa.topk(rows, 2, axis=1), -np.sort(-eager, axis=1)[:, :2], scheduler=sched)
    assert_eq(np.median(rows, axis=1), np.median(eager, axis=1), scheduler=sched)
    for recuts_unknown in ({0: 2}, 3, (2, 3)):
        with pytest.raises(ValueError, match="compute_chunk_sizes"):
            rows.rechunk(recuts_unknown)
