"""Elementwise operations compared with NumPy: operators, ufuncs, broadcasting, fusion."""

from __future__ import annotations

import operator

import numpy as np
import pytest

import shoal.array as sa
from shoal.base import get
from shoal.collections.array.core import concatenate_blocks
from shoal.collections.array.elementwise import Elemwise
from shoal.testing import assert_eq

rng = np.random.default_rng(0)
A = rng.standard_normal((7, 5))
B = rng.standard_normal((7, 5)) + 3
INTS = rng.integers(1, 9, size=(7, 5))

CHUNKINGS = [(3, 2), 1, ((1, 6), (4, 1)), -1]


def unoptimized(x: sa.Array) -> np.ndarray:
    """The value of ``x`` computed from its plan without any rewrite."""
    expr = x.expr
    results = get(expr.__shoal_graph__(), expr._keys(), scheduler="sync")
    return concatenate_blocks(results, x.ndim)


BINARY = [operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv, operator.mod,
          operator.pow, operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne]
INT_BINARY = [operator.and_, operator.or_, operator.xor, operator.lshift, operator.rshift]


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning", "ignore:divide by zero:RuntimeWarning")
@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("op", BINARY, ids=lambda f: f.__name__)
def test_binary_operators_and_reflected(op, chunks, sched):
    x = sa.from_array(A, chunks=chunks)
    y = sa.from_array(B, chunks=(2, 3))
    with np.errstate(all="ignore"):
        assert_eq(op(x, y), op(A, B), scheduler=sched)
        assert_eq(op(x, 2.5), op(A, 2.5), scheduler=sched)
        assert_eq(op(2.5, x), op(2.5, A), scheduler=sched)  # reflected
        assert_eq(op(B, x), op(B, A), scheduler=sched)  # ndarray on the left


@pytest.mark.parametrize("op", INT_BINARY, ids=lambda f: f.__name__)
def test_integer_operators(op, sched):
    x = sa.from_array(INTS, chunks=(3, 2))
    assert_eq(op(x, 2), op(INTS, 2), scheduler=sched)
    assert_eq(op(3, x), op(3, INTS), scheduler=sched)


@pytest.mark.parametrize("op", [operator.neg, operator.pos, operator.abs], ids=lambda f: f.__name__)
def test_unary_operators(op, sched):
    assert_eq(op(sa.from_array(A, chunks=2)), op(A), scheduler=sched)
    assert_eq(~sa.from_array(INTS, chunks=2), ~INTS, scheduler=sched)
    assert_eq(~sa.from_array(INTS > 4, chunks=2), ~(INTS > 4), scheduler=sched)


def test_divmod():
    q, r = divmod(sa.from_array(INTS, chunks=3), 3)
    assert_eq(q, INTS // 3)
    assert_eq(r, INTS % 3)


@pytest.mark.parametrize("ufunc", [np.sin, np.exp, np.sqrt, np.log1p, np.negative, np.isfinite, np.sign])
def test_unary_ufuncs_stay_lazy(ufunc, sched):
    x = sa.from_array(np.abs(A), chunks=(3, 2))
    result = ufunc(x)
    assert isinstance(result, sa.Array)
    assert_eq(result, ufunc(np.abs(A)), scheduler=sched)
    assert_eq(getattr(sa, ufunc.__name__)(x), ufunc(np.abs(A)), scheduler=sched)


def test_binary_and_multi_output_ufuncs():
    x = sa.from_array(A, chunks=(3, 2))
    assert_eq(np.maximum(x, B), np.maximum(A, B))
    assert_eq(np.arctan2(B, x), np.arctan2(B, A))
    frac, whole = np.modf(x)
    np_frac, np_whole = np.modf(A)
    assert_eq(frac, np_frac)
    assert_eq(whole, np_whole)
    assert_eq(np.add.reduce(x, axis=0), np.add.reduce(A, axis=0))


@pytest.mark.parametrize("call", [
    lambda m: np.add(m, 1, dtype="f4"),
    lambda m: np.sqrt(m, dtype="c16"),
    lambda m: np.multiply(m > 0, 3, dtype="i2"),
    lambda m: np.divmod(m, 2, dtype="f4")[1],
], ids=["add-f4", "sqrt-c16", "multiply-i2", "divmod-f4"])
def test_ufunc_dtype_keyword_runs_the_loop_numpy_runs(call, sched):
    """``np.add(x, 1, dtype='f4')`` computes in float32, as NumPy does (not only in the metadata)."""
    x = sa.from_array(A, chunks=(3, 2))
    result, expected = call(x), call(A)
    assert result.dtype == expected.dtype
    assert_eq(result, expected, scheduler=sched)


@pytest.mark.parametrize("chunks", [(3, 2), 1, -1])
def test_ufunc_outer_and_accumulate(chunks, sched):
    x, v = sa.from_array(A, chunks=chunks), sa.from_array(INTS[0], chunks=2)
    assert_eq(np.multiply.outer(x, v), np.multiply.outer(A, INTS[0]), scheduler=sched)
    assert_eq(np.subtract.outer(v, x), np.subtract.outer(INTS[0], A), scheduler=sched)
    assert_eq(np.greater.outer(v, v), np.greater.outer(INTS[0], INTS[0]), scheduler=sched)
    assert_eq(np.add.accumulate(x), np.add.accumulate(A), scheduler=sched)
    assert_eq(np.multiply.accumulate(x, axis=1), np.multiply.accumulate(A, axis=1), scheduler=sched)
    assert_eq(np.add.accumulate(v, dtype=float), np.add.accumulate(INTS[0], dtype=float), scheduler=sched)


def test_ufunc_where_without_out_is_refused_with_a_hint():
    x = sa.from_array(A, chunks=3)
    with pytest.raises(TypeError, match="where=.*shoal.array.where"):
        np.add(x, 1, where=A > 0)


def test_ufunc_out_is_rejected_with_a_clear_error():
    x = sa.from_array(A, chunks=3)
    with pytest.raises(TypeError, match="out=.*immutable"):
        np.add(x, 1, out=np.empty_like(A))


def test_broadcasting_across_differently_chunked_inputs(sched):
    col = rng.standard_normal((7, 1))
    row = rng.standard_normal((5,))
    x = sa.from_array(A, chunks=(3, 2))
    c = sa.from_array(col, chunks=(4, 1))
    r = sa.from_array(row, chunks=(1,))
    result = x + c * r
    assert_eq(result, A + col * row, scheduler=sched)
    # chunks were unified to common boundaries: cuts {3, 6} and {4} -> (3, 1, 2, 1); (2, 2, 1) and ones -> ones
    assert result.chunks == ((3, 1, 2, 1), (1, 1, 1, 1, 1))
    assert_eq(c + r, col + row, scheduler=sched)
    assert_eq(sa.from_array(A, chunks=1) * sa.from_array(B, chunks=-1), A * B, scheduler=sched)


def test_broadcasting_mismatch_names_both_shapes_at_build_time():
    x = sa.ones((4, 3), chunks=2)
    y = sa.ones((5,), chunks=2)
    with pytest.raises(ValueError, match=r"\(4, 3\) \(5,\)"):
        x + y


@pytest.mark.parametrize("dtype", ["i4", "u1", "f4", "f8", "c16", "bool"])
def test_dtypes_follow_numpy(dtype, sched):
    data = (INTS % 2 if dtype == "bool" else INTS * (1 + 1j if dtype == "c16" else 1)).astype(dtype)
    x = sa.from_array(data, chunks=(3, 2))
    for op in (operator.add, operator.mul):
        expected = op(data, data)
        assert op(x, x).dtype == expected.dtype
        assert_eq(op(x, x), expected, scheduler=sched)
    assert_eq(x == x, data == data, scheduler=sched)
    assert_eq(x + 1, data + 1, scheduler=sched)


def test_datetime64_arithmetic():
    days = np.arange("2024-01-01", "2024-01-11", dtype="datetime64[D]")
    x = sa.from_array(days, chunks=3)
    assert_eq(x + np.timedelta64(1, "D"), days + np.timedelta64(1, "D"))
    assert_eq(x - x[0], days - days[0])
    assert_eq(x > np.datetime64("2024-01-05"), days > np.datetime64("2024-01-05"))


def test_where_clip_astype_round_isnan_isclose(sched):
    data = A.copy()
    data[1, 2] = np.nan
    x = sa.from_array(data, chunks=(3, 2))
    assert_eq(sa.where(x > 0, x, -1.0), np.where(data > 0, data, -1.0), scheduler=sched)
    assert_eq(np.where(x > 0, 1, x), np.where(data > 0, 1, data), scheduler=sched)
    assert_eq(sa.clip(x, -0.5, 0.5), np.clip(data, -0.5, 0.5), scheduler=sched)
    assert_eq(x.clip(max=0.1), data.clip(max=0.1), scheduler=sched)
    assert_eq(np.clip(x, 0, None), np.clip(data, 0, None), scheduler=sched)
    assert_eq(x.astype("f4"), data.astype("f4"), scheduler=sched)
    assert_eq(sa.from_array(A, chunks=2).astype(int), A.astype(int), scheduler=sched)
    assert_eq(x.round(2), data.round(2), scheduler=sched)
    assert_eq(np.round(x, 1), np.round(data, 1), scheduler=sched)
    assert_eq(sa.isnan(x), np.isnan(data), scheduler=sched)
    assert_eq(np.isnan(x), np.isnan(data), scheduler=sched)
    assert_eq(sa.isclose(x, data + 1e-9), np.isclose(data, data + 1e-9), scheduler=sched)
    assert_eq(sa.isclose(x, x, equal_nan=True), np.isclose(data, data, equal_nan=True), scheduler=sched)


def test_astype_checks_casting_when_built():
    with pytest.raises(TypeError, match="Cannot cast"):
        sa.ones(3, chunks=1).astype(int, casting="safe")


def test_a_chain_of_elementwise_ops_is_one_task_per_block():
    x = sa.from_array(A, chunks=(3, 2))
    y = np.sin((x + 1) * 2 - x) / 3 + abs(x)
    graph = y.__shoal_graph__()
    nblocks = x.npartitions
    # one reader per block, the source array itself, and ONE task per block for the whole chain
    assert len(graph) == 2 * nblocks + 1
    fused = [k for k in graph if isinstance(k, tuple) and k[0] == y.expr.optimize()._name]
    assert len(fused) == nblocks
    assert len(list(y.expr.optimize().find_operations(Elemwise))) == 1
    expected = np.sin((A + 1) * 2 - A) / 3 + abs(A)
    assert_eq(y, expected)
    np.testing.assert_allclose(unoptimized(y), expected)


def test_shared_elementwise_results_are_not_duplicated():
    x = sa.from_array(A, chunks=(3, 2))
    shared = x + 1
    y = shared * 2 + shared
    assert_eq(y, (A + 1) * 2 + (A + 1))
    np.testing.assert_allclose(unoptimized(y), (A + 1) * 2 + (A + 1))


def test_elementwise_on_processes(scheduler):
    x = sa.from_array(A, chunks=(3, 2))
    assert_eq(np.exp(x) + x * 2 - sa.from_array(B, chunks=4), np.exp(A) + A * 2 - B, scheduler=scheduler)


def test_single_element_chunks_and_zero_dim():
    x = sa.from_array(A, chunks=1)
    assert_eq((x + 1) * x, (A + 1) * A)
    scalar = sa.from_array(np.array(3.0))
    assert scalar.ndim == 0 and scalar.numblocks == ()
    assert_eq(scalar + x, 3.0 + A)
