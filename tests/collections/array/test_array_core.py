"""The Array collection: metadata, display, compute/persist, to_delayed, NumPy protocols, map_blocks, rechunk."""

from __future__ import annotations

import math
import operator

import numpy as np
import pytest

import shoal
import shoal.array as sa
from shoal.collections.array.creation import Persisted
from shoal.testing import assert_eq

A = np.arange(60.0).reshape(6, 10)


def test_metadata():
    x = sa.from_array(A, chunks=(4, 3))
    assert x.shape == (6, 10) and x.ndim == 2 and x.size == 60
    assert x.dtype == np.float64 and x.nbytes == A.nbytes and x.itemsize == 8
    assert x.chunks == ((4, 2), (3, 3, 3, 1))
    assert x.numblocks == (2, 4) and x.npartitions == 8 and x.chunksize == (4, 3)
    assert len(x) == 6
    with pytest.raises(TypeError, match="0-d"):
        len(x.sum())
    assert sa.Array.__shoal_scheduler__ == "threads"
    keys = x.__shoal_keys__()
    assert len(keys) == 2 and len(keys[0]) == 4 and keys[1][3] == (x.name, 1, 3)


def test_keys_are_name_and_block_index():
    x = sa.ones((4, 4), chunks=2) + 1
    graph = x.__shoal_graph__()
    name = x.expr.optimize()._name
    assert {k for k in graph if k[0] == name} == {(name, i, j) for i in range(2) for j in range(2)}


def test_repr_and_html():
    x = sa.ones((1000, 2000), chunks=(500, 300), dtype="f4")
    text = repr(x)
    assert "shape=(1000, 2000)" in text and "float32" in text and "chunksize=(500, 300)" in text
    page = x._repr_html_()
    assert "<svg" in page and "<table" in page
    assert "7.63 MiB" in page  # 1000 * 2000 * 4 bytes
    assert "(500, 300)" in page and "float32" in page
    assert f"{len(x.__shoal_graph__())} tasks" in page and "14 chunks" in page
    assert page.count("<line") == 3 + 8  # row cuts (0, 500, 1000) and column cuts
    assert "shape=()" in repr(x.sum())
    assert "<svg" in x.sum()._repr_html_()


def test_compute_persist_and_array_protocol(sched):
    x = sa.from_array(A, chunks=(4, 3))
    y = (x * 2).persist(scheduler=sched)
    assert isinstance(y.expr, Persisted)
    assert y.chunks == x.chunks and y.dtype == x.dtype
    assert all(type(node).__name__ == "DataNode" for node in y.__shoal_graph__().values())
    assert_eq(y + 1, A * 2 + 1, scheduler=sched)
    np.testing.assert_array_equal(np.asarray(x), A)
    np.testing.assert_array_equal(np.array(x, dtype="f4"), A.astype("f4"))
    (a, b) = shoal.compute(x.sum(), x.max(), scheduler=sched)
    assert a == A.sum() and b == A.max()


def test_scalar_conversions():
    x = sa.from_array(np.array([2.5]), chunks=1)[0]  # 0-d, as NumPy 2 requires for float()
    assert float(x) == 2.5 and int(x) == 2 and bool(x) is True and complex(x) == 2.5
    with pytest.raises(ValueError, match="ambiguous"):
        bool(sa.ones(3, chunks=1))
    assert [v.compute() for v in sa.arange(3, chunks=2)] == [0, 1, 2]


def test_to_delayed():
    x = sa.from_array(A, chunks=(4, 3))
    blocks = x.to_delayed()
    assert blocks.shape == x.numblocks
    np.testing.assert_array_equal(blocks[1, 2].compute(), A[4:, 6:9])
    total = shoal.delayed(sum)([shoal.delayed(np.sum)(b) for b in blocks.ravel()])
    assert total.compute() == A.sum()


def test_array_function_keeps_supported_functions_lazy():
    x = sa.from_array(A, chunks=(4, 3))
    for func, args in [(np.sum, ()), (np.mean, ()), (np.std, ()), (np.max, ()), (np.argmin, ()), (np.nanmean, ()),
                       (np.where, (x > 10, 0.0)), (np.clip, (3, 8)), (np.isnan, ()), (np.transpose, ()),
                       (np.round, (1,)), (np.isclose, (A,)), (np.amax, ())]:
        lazy = func(x, *args) if func is not np.where else np.where(x > 10, x, 0.0)
        assert isinstance(lazy, sa.Array), func.__name__
        eager = func(A, *[a if not isinstance(a, sa.Array) else a.compute() for a in args]) if func is not np.where \
            else np.where(A > 10, A, 0.0)
        assert_eq(lazy, eager)
    assert np.ndim(x) == 2 and np.shape(x) == (6, 10)


def test_unsupported_numpy_functions_raise_a_helpful_type_error():
    x = sa.from_array(A, chunks=(4, 3))
    with pytest.raises(TypeError, match=r"numpy.linalg.det is not implemented.*compute\(\).*map_blocks"):
        np.linalg.det(x)
    with pytest.raises(TypeError, match="compute"):
        np.sort(x)


def test_transpose_and_x_plus_x_t(sched):
    data = np.arange(36.0).reshape(6, 6)
    x = sa.from_array(data, chunks=(4, 3))
    assert_eq(x.T, data.T, scheduler=sched)
    assert_eq(x + x.T, data + data.T, scheduler=sched)
    assert_eq((x + x.T).mean(axis=0).sum(), (data + data.T).mean(axis=0).sum(), scheduler=sched)
    cube = np.arange(24).reshape(2, 3, 4)
    c = sa.from_array(cube, chunks=(1, 2, 3))
    assert_eq(c.transpose(1, 0, 2), cube.transpose(1, 0, 2))
    assert_eq(np.transpose(c, (2, 0, 1)), np.transpose(cube, (2, 0, 1)))
    assert_eq(c.transpose((2, 0, 1)).T, cube.transpose((2, 0, 1)).T)
    with pytest.raises(ValueError, match="permutation"):
        c.transpose(0, 1)


def test_rechunk(sched):
    x = sa.from_array(A, chunks=(1, 10))
    for chunks in [(6, 1), 4, {1: 5}, ((3, 3), (2, 8)), "auto"]:
        y = x.rechunk(chunks)
        assert_eq(y, A, scheduler=sched)
    assert x.rechunk({1: 5}).chunks == ((1,) * 6, (5, 5))
    assert x.rechunk(x.chunks) is x
    assert_eq(x.rechunk(4).rechunk(3), A)
    with pytest.raises(ValueError, match="axis 0 sum to 5"):
        x.rechunk(((2, 3), (10,)))


def test_map_blocks(sched):
    x = sa.from_array(A, chunks=(4, 3))
    assert_eq(x.map_blocks(np.negative), -A, scheduler=sched)
    assert_eq(sa.map_blocks(operator.add, x, sa.from_array(A[0], chunks=5)), A + A[0], scheduler=sched)
    summed = x.map_blocks(lambda b: b.sum(axis=1), drop_axis=1, dtype=float)
    assert summed.chunks == ((4, 2),)
    assert_eq(summed, A.sum(axis=1), scheduler=sched)
    expanded = x.map_blocks(lambda b: b[None], new_axis=0, dtype=float)
    assert expanded.shape == (1, 6, 10)
    assert_eq(expanded, A[None], scheduler=sched)
    firsts = x.map_blocks(lambda b: b[:1, :1], chunks=(1, 1), dtype=float)
    assert firsts.shape == (2, 4)
    assert_eq(firsts, A[::4, ::3], scheduler=sched)

    def where_am_i(block, block_id=None):
        return np.full(block.shape, block_id[0] * 10 + block_id[1])

    ids = x.map_blocks(where_am_i, dtype=int)
    assert_eq(ids, np.repeat(np.repeat([[0, 1, 2, 3], [10, 11, 12, 13]], [4, 2], axis=0), [3, 3, 3, 1], axis=1))
    assert x.map_blocks(np.sqrt).dtype == np.sqrt(A).dtype  # found from empty blocks
    assert x.map_blocks(lambda b: b, meta=np.array([], dtype="i2")).dtype == np.dtype("i2")


@pytest.mark.parametrize("chunks", [(4, 3), ((1, 5), (2, 2, 6)), 1])
def test_map_blocks_block_info_like_dask(chunks, sched):
    """``block_info`` gives each array argument's (keyed by its position) and the output's block location."""
    x = sa.from_array(A, chunks=chunks)
    row = sa.from_array(np.arange(10.0), chunks=4)
    seen = []

    def locate(block, scale, other, block_info=None):
        mine, out = block_info[0], block_info[None]
        assert block_info[2]["shape"] == (10,) and 1 not in block_info  # the literal has no entry
        assert mine["shape"] == A.shape and out["shape"] == A.shape and out["chunk-shape"] == block.shape
        # x is cut like row along their shared axis first (as in Dask), so its blocks are the output's
        assert out["dtype"] == np.dtype(float) and mine["num-chunks"] == out["num-chunks"]
        assert mine["chunk-location"] == out["chunk-location"]
        (r0, r1), (c0, c1) = mine["array-location"]
        assert (r1 - r0, c1 - c0) == block.shape
        seen.append(mine["chunk-location"])
        return np.full(block.shape, scale * r0 + c0, dtype=float) + other * 0

    located = sa.map_blocks(locate, x, 1000, row, dtype=float)
    row_starts = np.repeat(np.cumsum((0,) + located.chunks[0][:-1]), located.chunks[0])
    col_starts = np.repeat(np.cumsum((0,) + located.chunks[1][:-1]), located.chunks[1])
    assert_eq(located, 1000.0 * row_starts[:, None] + col_starts[None, :], scheduler=sched)
    assert sorted(seen) == sorted(np.ndindex(*located.numblocks))


def test_map_blocks_output_chunks_may_be_unknown(sched):
    x = sa.from_array(A, chunks=(4, 10))
    positive = x.map_blocks(lambda b: b[b[:, 0] > 0], chunks=((np.nan, np.nan), (10,)), dtype=float)
    assert np.isnan(positive.shape[0])
    assert_eq(positive, A[A[:, 0] > 0], scheduler=sched)


def test_blockwise_index_notation():
    x = sa.from_array(A, chunks=(4, 3))
    v = sa.from_array(np.arange(10.0), chunks=5)
    assert_eq(sa.blockwise(np.add, "ij", x, "ij", v, "j", dtype=float), A + np.arange(10.0))
    # a contracted index: the inputs are joined along it first
    rowsums = sa.blockwise(lambda b: b.sum(axis=1), "i", x, "ij", dtype=float)
    assert_eq(rowsums, A.sum(axis=1))
    outer = sa.blockwise(np.multiply.outer, "ij", sa.arange(4, chunks=2), "i", sa.arange(3, chunks=2), "j", dtype=int)
    assert_eq(outer, np.multiply.outer(np.arange(4), np.arange(3)))
    with pytest.raises(ValueError, match="new_axes"):
        sa.blockwise(np.negative, "ik", x, "ij", dtype=float)


def _block_lists_product(xs, ys):
    assert isinstance(xs, list) and isinstance(ys, list) and len(xs) == len(ys)
    return sum(xb @ yb for xb, yb in zip(xs, ys))


def _nested_block_sums(blocks):
    assert isinstance(blocks, list) and isinstance(blocks[0], list)
    return sum(b.sum(axis=(1, 2)) for row in blocks for b in row)


def test_blockwise_without_concatenate_passes_lists_of_blocks(sched):
    a, b = np.arange(24.0).reshape(4, 6), np.arange(18.0).reshape(6, 3)
    # the contracted index j is cut where either input cuts it, then each function call gets the aligned lists
    x, y = sa.from_array(a, chunks=(2, 4)), sa.from_array(b, chunks=(3, 2))
    product = sa.blockwise(_block_lists_product, "ik", x, "ij", y, "jk", dtype=float, concatenate=False)
    assert product.chunks == ((2, 2), (2, 1))
    assert_eq(product, a @ b, scheduler=sched)
    cube = np.arange(60.0).reshape(3, 4, 5)
    sums = sa.blockwise(_nested_block_sums, "i", sa.from_array(cube, chunks=(1, 2, 2)), "ijk", dtype=float,
                        concatenate=False)
    assert_eq(sums, cube.sum(axis=(1, 2)), scheduler=sched)


def test_explain_shows_the_optimized_plan(capsys):
    x = sa.from_array(A, chunks=(4, 3))
    ((x + 1) * 2)[:2].sum().explain()
    out = capsys.readouterr().out
    assert "Reduction" in out or "sum" in out


def test_unknown_chunk_sizes_are_reported_as_nan():
    from shoal.collections.array.creation import FromArray, Source

    expr = FromArray(Source(A, "unknown-test"), ((math.nan, math.nan), (10,)), "<f8")
    x = sa.Array(expr)
    assert math.isnan(x.shape[0]) and x.shape[1] == 10
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        x[1:3]
    with pytest.raises(ValueError, match="unknown"):
        len(x)
    assert "nan" in repr(x)


def test_rechunk_rows_to_columns_never_hands_a_task_whole_rows():
    data = np.arange(400.0).reshape(20, 20)
    # computed blocks (a rechunk of from_array itself reads the new blocks directly)
    x = sa.from_array(data - 1, chunks=(2, 20)) + 1
    y = x.rechunk((20, 2))
    graph = y.__shoal_graph__()
    out_name = y.expr.optimize()._name
    for key, node in graph.items():
        if isinstance(key, tuple) and key[0] == out_name:
            # each output block reads 10 small cuts, not the 10 whole row blocks
            assert len(node.dependencies) == 10
            assert all(dep[0].startswith("rechunk-cut") for dep in node.dependencies)
        elif isinstance(key, tuple) and key[0].startswith("rechunk-cut"):
            assert len(node.dependencies) == 1
    assert_eq(y, data)
    assert_eq(y.sum(axis=0), data.sum(axis=0), scheduler="threads")


def test_more_numpy_and_dask_methods(tmp_path, sched):
    """conjugate, repeat, trace, diagonal (NumPy's ndarray methods) and store, to_zarr, partitions (Dask's)."""
    data = A + 1j * A[::-1]
    x = sa.from_array(data, chunks=(4, 3))
    assert_eq(x.conjugate(), data.conjugate(), scheduler=sched)
    assert_eq(x.repeat(2, axis=1), data.repeat(2, axis=1), scheduler=sched)
    assert_eq(x.real.trace(1), data.real.trace(1), scheduler=sched)
    assert_eq(x.diagonal(-1), data.diagonal(-1), scheduler=sched)
    target = np.zeros_like(data)
    x.store(target, scheduler=sched)
    np.testing.assert_array_equal(target, data)
    assert_eq(x.partitions[1, 2], data[4:, 6:9], scheduler=sched)
    pytest.importorskip("zarr")
    x.real.to_zarr(str(tmp_path / "x.zarr"), scheduler=sched)
    assert_eq(sa.from_zarr(str(tmp_path / "x.zarr")), data.real, scheduler=sched)
