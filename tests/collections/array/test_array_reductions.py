"""Reductions compared with NumPy over axes, keepdims, dtype, ddof, split_every and chunkings."""

from __future__ import annotations

import statistics

import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq

rng = np.random.default_rng(1)
A = rng.standard_normal((9, 7))
WITH_NAN = A.copy()
WITH_NAN[0, :] = np.nan
WITH_NAN[3, 2] = np.nan
WITH_NAN[:, 5] = np.nan

CHUNKINGS = [(4, 3), 1, ((2, 7), (6, 1)), -1]
AXES = [None, 0, 1, -1, (0, 1), (1, 0)]

PLAIN = ["sum", "prod", "mean", "std", "var", "min", "max", "any", "all"]
NAN = ["nansum", "nanprod", "nanmean", "nanstd", "nanvar", "nanmin", "nanmax"]


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("name", PLAIN)
def test_plain_reductions(name, chunks, axis, sched):
    data = A > 0 if name in ("any", "all") else A
    x = sa.from_array(data, chunks=chunks)
    for keepdims in (False, True):
        expected = getattr(np, name)(data, axis=axis, keepdims=keepdims)
        result = getattr(sa, name)(x, axis=axis, keepdims=keepdims, split_every=2)
        assert result.shape == np.shape(expected)
        assert result.dtype == np.asarray(expected).dtype
        assert_eq(result, expected, scheduler=sched)
    # the method and np.<name> (through __array_function__) agree and stay lazy
    lazy = getattr(np, name)(x, axis=axis)
    assert isinstance(lazy, sa.Array)
    assert_eq(lazy, getattr(np, name)(data, axis=axis), scheduler=sched)
    assert_eq(getattr(x, name)(axis=axis), getattr(data, name)(axis=axis), scheduler=sched)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)])
@pytest.mark.parametrize("chunks", [(4, 3), 1, -1])
@pytest.mark.parametrize("name", NAN)
def test_nan_reductions(name, chunks, axis, sched):
    x = sa.from_array(WITH_NAN, chunks=chunks)
    expected = getattr(np, name)(WITH_NAN, axis=axis)
    assert_eq(getattr(sa, name)(x, axis=axis, split_every=3), expected, scheduler=sched)
    assert_eq(getattr(np, name)(x, axis=axis, keepdims=True), getattr(np, name)(WITH_NAN, axis=axis, keepdims=True),
              scheduler=sched)


@pytest.mark.filterwarnings("ignore:Degrees of freedom:RuntimeWarning")
@pytest.mark.parametrize("ddof", [0, 1, 3])
def test_ddof(ddof):
    x = sa.from_array(A, chunks=(2, 3))
    assert_eq(x.var(ddof=ddof), A.var(ddof=ddof))
    assert_eq(x.std(axis=0, ddof=ddof), A.std(axis=0, ddof=ddof))
    assert_eq(sa.nanvar(sa.from_array(WITH_NAN, chunks=2), axis=1, ddof=ddof)[1:],
              np.nanvar(WITH_NAN, axis=1, ddof=ddof)[1:])


def test_variance_is_numerically_stable():
    # a huge offset and a tiny spread: a sum of squares loses every digit here
    data = 1e9 + rng.standard_normal(10_000) * 1e-3
    exact = statistics.pvariance(data.tolist())  # computed with exact fractions
    naive = np.mean(data**2) - np.mean(data) ** 2
    assert abs(naive - exact) > 1.0  # the approach the partials must not use
    for chunks in (1000, 77, 3001):
        x = sa.from_array(data, chunks=chunks)
        np.testing.assert_allclose(x.var(split_every=4).compute(), exact, rtol=1e-7)
    np.testing.assert_allclose(x.std(ddof=1).compute(), statistics.stdev(data.tolist()), rtol=1e-7)


def test_dtype_argument():
    ints = rng.integers(0, 100, size=(6, 5)).astype("i2")
    x = sa.from_array(ints, chunks=2)
    assert_eq(x.sum(dtype="i8"), ints.sum(dtype="i8"))
    assert_eq(x.sum(axis=0, dtype="f4"), ints.sum(axis=0, dtype="f4"))
    assert_eq(x.mean(dtype="f4"), ints.mean(dtype="f4"))
    assert_eq(x.sum(), ints.sum())
    assert_eq(x.mean(axis=1), ints.mean(axis=1))
    assert_eq(x.prod(axis=0, dtype="i8"), ints.prod(axis=0, dtype="i8"))


@pytest.mark.parametrize("dtype", ["i4", "u2", "f4", "c16", "bool"])
def test_reduction_dtypes_follow_numpy(dtype):
    data = (rng.integers(0, 5, size=(5, 6)) * (1 + 2j if dtype == "c16" else 1)).astype(dtype)
    x = sa.from_array(data, chunks=(2, 4))
    for name in ("sum", "prod", "mean", "var", "std", "min", "max", "any", "all"):
        if dtype == "c16" and name in ("min", "max"):
            continue
        expected = getattr(np, name)(data, axis=0)
        result = getattr(x, name)(axis=0)
        assert result.dtype == expected.dtype, name
        if dtype == "f4":  # float32 sums in another order differ in the last bits
            computed = result.compute()
            assert computed.dtype == expected.dtype
            np.testing.assert_allclose(computed, expected, rtol=1e-5)
        else:
            assert_eq(result, expected)


def test_datetime_min_max():
    days = np.array(["2024-03-01", "2023-12-31", "2025-01-01", "2024-06-06"], dtype="datetime64[D]")
    x = sa.from_array(days, chunks=1)
    assert_eq(x.min(), days.min())
    assert_eq(x.max(), days.max())
    assert_eq(x.argmax(), days.argmax())


DURATIONS = (rng.integers(-10_000, 10_000, (5, 4)) * 37).astype("m8[s]")
WITH_NAT = DURATIONS.copy()
WITH_NAT[1, 2] = np.timedelta64("NaT")


@pytest.mark.parametrize("name", ["sum", "mean", "nansum", "nanmean", "min", "max"])
@pytest.mark.parametrize("axis", [None, 0, (0, 1), -1])
@pytest.mark.parametrize("chunks", [(2, 3), 1, -1])
def test_timedelta_sums_and_means(name, axis, chunks, sched):
    """Sums and means of timedelta64 keep the unit, as in NumPy (NaT propagates the way NumPy's does)."""
    for data in (DURATIONS, WITH_NAT):
        x = sa.from_array(data, chunks=chunks)
        expected = getattr(np, name)(data, axis=axis, keepdims=True)
        result = getattr(sa, name)(x, axis=axis, keepdims=True, split_every=2)
        assert result.dtype == expected.dtype
        # NaT != NaT, so compare the underlying integers
        assert_eq(result.compute(scheduler=sched).view("i8"), expected.view("i8"))


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("chunks", [(4, 3), 1, ((2, 7), (6, 1))])
def test_arg_reductions(axis, chunks, sched):
    ties = np.round(A, 0)  # many ties: the first index must win, as in NumPy
    for data in (A, ties):
        x = sa.from_array(data, chunks=chunks)
        for name in ("argmin", "argmax"):
            assert_eq(getattr(x, name)(axis=axis, split_every=2), getattr(np, name)(data, axis=axis), scheduler=sched)
            assert_eq(getattr(np, name)(x, axis=axis, keepdims=True),
                      getattr(np, name)(data, axis=axis, keepdims=True), scheduler=sched)


@pytest.mark.parametrize("axis", [None, 1])
def test_arg_reductions_with_nan(axis):
    data = WITH_NAN[1:, :].copy()
    data[:, 5] = 1.0  # no all-NaN row: nanargmin is defined everywhere
    x = sa.from_array(data, chunks=(3, 2))
    assert_eq(sa.argmin(x, axis=axis), np.argmin(data, axis=axis))  # NaN wins, as in NumPy
    assert_eq(sa.nanargmin(x, axis=axis), np.nanargmin(data, axis=axis))
    assert_eq(sa.nanargmax(x, axis=axis), np.nanargmax(data, axis=axis))
    assert_eq(np.nanargmax(x, axis=axis), np.nanargmax(data, axis=axis))


def test_nanargmin_of_an_all_nan_slice_raises_like_numpy():
    x = sa.from_array(WITH_NAN, chunks=2)
    with pytest.raises(ValueError, match="All-NaN slice"):
        sa.nanargmin(x, axis=1).compute()


def test_split_every_changes_the_tree_not_the_answer():
    x = sa.from_array(A, chunks=1)
    wide = x.sum(split_every=100)
    narrow = x.sum(split_every=2)
    assert len(narrow.__shoal_graph__()) > len(wide.__shoal_graph__())
    assert_eq(wide, A.sum())
    assert_eq(narrow, A.sum())
    assert_eq(x.sum(axis=0, split_every={0: 3}), A.sum(axis=0))


def test_bad_axes():
    x = sa.ones((3, 3), chunks=2)
    with pytest.raises(np.exceptions.AxisError):
        x.sum(axis=2)
    with pytest.raises(ValueError, match="duplicate"):
        x.sum(axis=(0, 0))
    with pytest.raises(TypeError, match="out="):
        np.sum(x, out=np.empty(()))


def test_user_defined_reduction(sched):
    x = sa.from_array(A, chunks=(2, 3))

    def chunk_absmax(block, axis, keepdims):
        return np.max(np.abs(block), axis=axis, keepdims=keepdims)

    def agg_absmax(block, axis, keepdims):
        return np.max(block, axis=axis, keepdims=keepdims)

    result = sa.reduction(x, chunk_absmax, agg_absmax, axis=0, split_every=2)
    assert result.dtype == A.dtype
    assert_eq(result, np.abs(A).max(axis=0), scheduler=sched)
    counts = sa.reduction(x > 0, lambda b, axis, keepdims: np.sum(b, axis=axis, keepdims=keepdims, dtype="i8"),
                          lambda b, axis, keepdims: np.sum(b, axis=axis, keepdims=keepdims),
                          axis=None, dtype="i8", keepdims=True, split_every=3)
    assert_eq(counts, np.sum(A > 0, keepdims=True, dtype="i8"), scheduler=sched)


def test_reductions_on_processes(scheduler):
    x = sa.from_array(WITH_NAN, chunks=(4, 3))
    assert_eq(sa.nanmean(x[1:, :5], axis=0), np.nanmean(WITH_NAN[1:, :5], axis=0), scheduler=scheduler)
    assert_eq(sa.from_array(A, chunks=3).std(axis=1), A.std(axis=1), scheduler=scheduler)
    assert_eq(sa.from_array(A, chunks=3).argmin(), A.argmin(), scheduler=scheduler)


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_sum_and_mean_of_a_float_sum_distribute_over_it(axis, keepdims, sched):
    square = rng.standard_normal((9, 9))
    x = sa.from_array(square, chunks=(4, 3))
    for name in ("sum", "mean"):
        lazy = getattr(x + x.T, name)(axis=axis, keepdims=keepdims)
        assert_eq(lazy, getattr(square + square.T, name)(axis=axis, keepdims=keepdims), scheduler=sched)
        # the blocks of x + x.T are never formed: each side is reduced on its own, then the results added
        assert [type(side).__name__ for side in lazy.expr.args] == ["Reduction", "Reduction"]


def test_integer_sums_are_not_distributed_since_the_addition_may_wrap(sched):
    # int8 + int8 wraps around before NumPy's sum widens to int64
    small = np.full((4, 4), 100, dtype=np.int8)
    x = sa.from_array(small, chunks=2)
    assert type((x + x).sum().expr).__name__ == "Reduction"
    assert_eq((x + x).sum(), (small + small).sum(), scheduler=sched)
    assert_eq((x + x).mean(axis=0), (small + small).mean(axis=0), scheduler=sched)
    # an explicit dtype is honoured as given, and broadcasting additions are left alone
    assert_eq((x + x).sum(dtype=np.int64), (small + small).sum(dtype=np.int64), scheduler=sched)
    row = sa.from_array(np.arange(4.0), chunks=2)
    assert_eq((sa.from_array(A, chunks=3)[:4, :4] + row).mean(), (A[:4, :4] + np.arange(4.0)).mean(), scheduler=sched)


MASK = A > 0


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", ["sum", "prod", "min", "max", "any", "all", "nansum", "nanprod", "nanmin", "nanmax"])
@pytest.mark.parametrize("axis", [None, 0, 1])
@pytest.mark.parametrize("keywords", [
    {"initial": 3}, {"initial": 2.5}, {"where": MASK, "initial": 4}, {"where": MASK[0]}, {"where": MASK},
], ids=["initial", "fractional-initial", "where-and-initial", "row-where", "where"])
def test_where_and_initial_keywords(name, axis, keywords, sched):
    """NumPy's ``where=`` (a mask, NumPy or lazy, broadcast against the array) and ``initial=``."""
    ints = np.round(A * 3).astype(int)
    for data in (A, WITH_NAN, ints):
        try:
            expected = getattr(np, name)(data, axis=axis, **keywords)
        except (ValueError, TypeError) as numpy_error:  # e.g. min with where= but no initial=
            with pytest.raises(type(numpy_error)):
                getattr(np, name)(sa.from_array(data, chunks=(4, 3)), axis=axis, **keywords)
            continue
        lazy_keywords = dict(keywords)
        if np.ndim(keywords.get("where", True)) == 2:
            lazy_keywords["where"] = sa.from_array(keywords["where"], chunks=2)
        result = getattr(np, name)(sa.from_array(data, chunks=(4, 3)), axis=axis, **lazy_keywords)
        assert_eq(result, expected, scheduler=sched)
