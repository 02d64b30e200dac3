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
