"""Creation functions compared with NumPy; random reproducibility; store."""

from __future__ import annotations

import pickle
import threading
import time

import numpy as np
import pytest

import shoal.array as sa
from shoal import delayed
from shoal.testing import assert_eq


@pytest.mark.parametrize("chunks", [3, 1, ((2, 5), (4, 1, 1)), "auto"])
def test_ones_zeros_full_empty(chunks, sched):
    shape = (7, 6)
    assert_eq(sa.ones(shape, chunks=chunks), np.ones(shape), scheduler=sched)
    assert_eq(sa.zeros(shape, dtype="i2", chunks=chunks), np.zeros(shape, dtype="i2"), scheduler=sched)
    assert_eq(sa.full(shape, 2.5, chunks=chunks), np.full(shape, 2.5), scheduler=sched)
    assert_eq(sa.full(shape, 7, chunks=chunks), np.full(shape, 7), scheduler=sched)
    assert_eq(sa.full(shape, True, chunks=chunks), np.full(shape, True), scheduler=sched)
    e = sa.empty(shape, dtype="c16", chunks=chunks)
    assert e.dtype == np.empty(shape, dtype="c16").dtype and e.compute(scheduler=sched).shape == shape


def test_like_functions_keep_shape_dtype_and_chunks():
    base = sa.from_array(np.arange(12, dtype="i4").reshape(3, 4), chunks=(2, 3))
    for lazy, eager in [
        (sa.ones_like(base), np.ones((3, 4), "i4")),
        (sa.zeros_like(base, dtype=float), np.zeros((3, 4))),
        (sa.full_like(base, 9), np.full((3, 4), 9, dtype="i4")),
        (np.ones_like(base), np.ones((3, 4), "i4")),
    ]:
        assert isinstance(lazy, sa.Array) and lazy.chunks == base.chunks
        assert_eq(lazy, eager)
    assert sa.empty_like(base).shape == (3, 4)
    assert_eq(sa.zeros_like(np.ones((2, 2)), chunks=1), np.zeros((2, 2)))


@pytest.mark.parametrize("args", [(10,), (2, 11), (1, 2, 0.1), (0.1, 1.0, 0.07), (10, 0, -3), (-5, 5, 2), (5, 5),
                                  (0, 1, 0.3)])
@pytest.mark.parametrize("chunks", [1, 3, "auto"])
def test_arange(args, chunks):
    assert_eq(sa.arange(*args, chunks=chunks), np.arange(*args))
    assert sa.arange(*args, chunks=chunks).dtype == np.arange(*args).dtype


def test_arange_dtype_and_errors():
    assert_eq(sa.arange(0, 5, dtype="f4", chunks=2), np.arange(0, 5, dtype="f4"))
    with pytest.raises(ValueError, match="step"):
        sa.arange(0, 5, 0)


@pytest.mark.parametrize("kwargs", [dict(start=0, stop=1, num=11), dict(start=-3, stop=7, num=50, endpoint=False),
                                    dict(start=2, stop=2, num=5), dict(start=0, stop=10, num=1),
                                    dict(start=1, stop=9, num=7, dtype=int), dict(start=0, stop=1, num=0)])
@pytest.mark.parametrize("chunks", [1, 4, "auto"])
def test_linspace(kwargs, chunks):
    assert_eq(sa.linspace(chunks=chunks, **kwargs), np.linspace(**kwargs))


def test_linspace_retstep():
    x, step = sa.linspace(0, 1, 5, retstep=True, chunks=2)
    _, expected = np.linspace(0, 1, 5, retstep=True)
    assert step == expected
    assert_eq(x, np.linspace(0, 1, 5))


@pytest.mark.parametrize("N, M, k", [(5, None, 0), (4, 6, 0), (6, 4, 2), (5, 5, -3), (3, 3, 7)])
@pytest.mark.parametrize("chunks", [2, 1, "auto"])
def test_eye(N, M, k, chunks):
    assert_eq(sa.eye(N, M, k, chunks=chunks), np.eye(N, M, k))
    assert_eq(sa.eye(N, M, k, dtype=int, chunks=chunks), np.eye(N, M, k, dtype=int))


def test_fromfunction(sched):
    def f(i, j):
        return i * 100 + j

    assert_eq(sa.fromfunction(f, (5, 7), chunks=(2, 3)), np.fromfunction(f, (5, 7)), scheduler=sched)
    assert_eq(sa.fromfunction(f, (5, 7), dtype=int, chunks=2), np.fromfunction(f, (5, 7), dtype=int), scheduler=sched)
    assert_eq(sa.fromfunction(lambda i: i % 3 == 0, (8,), chunks=3), np.fromfunction(lambda i: i % 3 == 0, (8,)))


def test_from_array_reads_lazily_block_by_block():
    class Recording:
        """An array-like that records every read."""

        def __init__(self, data):
            self.data, self.shape, self.dtype = data, data.shape, data.dtype
            self.reads: list = []

        def __getitem__(self, index):
            self.reads.append(index)
            return self.data[index]

    data = np.arange(40.0).reshape(8, 5)
    source = Recording(data)
    x = sa.from_array(source, chunks=(3, 5))
    assert source.reads == []  # building reads nothing
    assert_eq(x[4:5], data[4:5])
    assert source.reads == [(slice(3, 6), slice(0, 5))]  # one block, not the whole array
    source.reads.clear()
    assert_eq(x, data)
    assert len(source.reads) == 3


def test_asarray_and_array():
    assert_eq(sa.asarray([1, 2, 3]), np.asarray([1, 2, 3]))
    assert_eq(sa.asarray([[1.5, 2]], dtype="f4"), np.asarray([[1.5, 2]], dtype="f4"))
    x = sa.ones(3, chunks=1)
    assert sa.asarray(x) is x
    data = np.arange(4)
    copied = sa.array(data, chunks=2)
    data[0] = 100  # array() copied: later changes do not show
    assert_eq(copied, np.arange(4))
    assert sa.from_array(np.ones((4, 4)), chunks=2).name == sa.from_array(np.ones((4, 4)), chunks=2).name


def test_from_delayed():
    d = delayed(np.arange)(6)
    x = sa.from_delayed(d, (6,), dtype=int)
    assert x.chunks == ((6,),)
    assert_eq(x * 2, np.arange(6) * 2)
    wrong = sa.from_delayed(d, (5,), dtype=int)
    with pytest.raises(ValueError, match="shape"):
        wrong.compute()


def test_random_is_reproducible_for_a_seed_and_independent_of_the_scheduler(scheduler):
    rng = sa.random.default_rng(123)
    x = rng.normal(size=(50, 40), chunks=(20, 15))
    expected = sa.random.default_rng(123).normal(size=(50, 40), chunks=(20, 15)).compute(scheduler="sync")
    got = x.compute(scheduler=scheduler)
    np.testing.assert_array_equal(got, expected)
    # consecutive calls give different arrays; another seed gives another array
    second = rng.normal(size=(50, 40), chunks=(20, 15)).compute()
    assert not np.array_equal(got, second)
    other = sa.random.default_rng(124).normal(size=(50, 40), chunks=(20, 15)).compute()
    assert not np.array_equal(got, other)
    # blocks are not copies of each other
    assert not np.array_equal(got[:20, :15], got[20:40, :15])


@pytest.mark.parametrize("chunks", [2, 1, -1])
def test_random_parameters_may_be_arrays_broadcast_against_size(chunks, sched):
    """``normal(loc=array, ...)``, ``integers(0, highs)``: parameters broadcast as in NumPy, blocks stay seeded."""
    means = np.array([0.0, 100.0, -100.0])
    spreads = sa.from_array(np.array([[1e-6], [1e-3]]), chunks=1)
    rng = sa.random.default_rng(5)
    x = rng.normal(loc=means, scale=spreads, size=(4, 2, 3), chunks=chunks)
    values = x.compute(scheduler=sched)
    assert values.shape == (4, 2, 3) and x.dtype == np.float64
    np.testing.assert_allclose(values, np.broadcast_to(means, (4, 2, 3)), atol=0.01)
    again = sa.random.default_rng(5).normal(loc=means, scale=spreads, size=(4, 2, 3), chunks=x.chunks)
    np.testing.assert_array_equal(again.compute(scheduler="sync"), values)
    # size=None: the parameters' broadcast shape, as numpy.random.Generator gives
    highs = np.array([[1], [10], [1000]])
    ints = sa.random.default_rng(6).integers(np.zeros(4, dtype=int), highs, chunks=chunks)
    drawn = ints.compute(scheduler=sched)
    assert drawn.shape == np.random.default_rng(6).integers(np.zeros(4, dtype=int), highs).shape
    assert drawn.dtype == np.int64 and (drawn >= 0).all() and (drawn < highs).all()
    assert (drawn[0] == 0).all()
    uniform = sa.random.default_rng(7).uniform(sa.from_array(np.arange(3.0), chunks=2), 10.0, size=(5, 3), chunks=2)
    assert ((uniform.compute(scheduler=sched) >= np.arange(3.0)) & (uniform.compute(scheduler=sched) < 10)).all()
    with pytest.raises(ValueError, match=r"do not broadcast to size \(4,\)"):
        sa.random.default_rng(1).normal(np.zeros(3), size=(4,))


@pytest.mark.parametrize("method, args, kwargs", [
    ("standard_normal", (), {}), ("standard_normal", (), {"dtype": "f4"}), ("exponential", (2.0,), {}),
    ("poisson", (), {"lam": 3.0}), ("binomial", (10, 0.3), {}), ("gamma", (2.0,), {"scale": 3.0}),
    ("beta", (2, 3), {}), ("lognormal", (), {}), ("standard_t", (5,), {}), ("hypergeometric", (5, 5, 3), {}),
    ("triangular", (0, 1, 3), {}), ("laplace", (1.0, 2.0), {}), ("geometric", (0.2,), {}),
], ids=lambda v: v if isinstance(v, str) else None)
def test_other_numpy_distributions(method, args, kwargs, sched):
    """Every ``numpy.random.Generator`` distribution: NumPy's dtype, reproducible blocks, plausible values."""
    x = getattr(sa.random.default_rng(11), method)(*args, size=(600, 50), chunks=(250, 20), **kwargs)
    eager = getattr(np.random.default_rng(11), method)(*args, size=(600, 50), **kwargs)
    values = x.compute(scheduler=sched)
    assert x.dtype == eager.dtype == values.dtype and values.shape == eager.shape
    again = getattr(sa.random.default_rng(11), method)(*args, size=(600, 50), chunks=(250, 20), **kwargs)
    np.testing.assert_array_equal(again.compute(scheduler="sync"), values)
    # the same distribution as NumPy's: 30,000 draws each, means within a few standard errors
    spread = np.sqrt(eager.var() / eager.size + values.var() / values.size)
    assert abs(values.mean() - eager.mean()) < 6 * spread + 1e-12


def test_distribution_arguments_as_numpy_takes_them():
    rng = sa.random.default_rng(3)
    assert rng.exponential(2.0, (3, 2), chunks=2).shape == (3, 2)  # size given positionally
    assert rng.standard_normal(5, chunks=2).shape == (5,)
    assert rng.poisson(lam=np.array([1.0, 100.0]), chunks=1).dtype == np.int64
    with pytest.raises(TypeError, match="missing required argument 'shape'"):
        rng.gamma(size=3)
    with pytest.raises(TypeError, match="at most 2 positional"):
        rng.poisson(1.0, 2, 3)
    with pytest.raises(TypeError, match="unexpected keyword"):
        rng.exponential(1.0, size=3, bogus=1)


def test_random_distributions_look_right():
    rng = sa.random.default_rng(7)
    u = rng.random((20000,), chunks=3000).compute()
    assert u.dtype == np.float64 and 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.02
    n = rng.normal(3.0, 2.0, size=20000, chunks=3000).compute()
    assert abs(n.mean() - 3.0) < 0.1 and abs(n.std() - 2.0) < 0.1
    i = rng.integers(5, 10, size=(100, 100), chunks=30)
    assert i.dtype == np.int64
    values = i.compute()
    assert values.min() == 5 and values.max() == 9
    assert rng.integers(0, 3, size=1000, endpoint=True, chunks=100).compute().max() == 3
    f = rng.uniform(-2, -1, size=(10, 10), chunks=4)
    assert (f.compute() < -1).all() and (f.compute() >= -2).all()
    assert rng.random(100, dtype="f4", chunks=10).compute().dtype == np.float32


def test_store_into_any_setitem_target(sched):
    data = np.arange(30.0).reshape(5, 6)
    x = sa.from_array(data, chunks=(2, 4))
    out = np.zeros((5, 6))
    assert sa.store(x * 2, out, scheduler=sched) is None
    np.testing.assert_array_equal(out, data * 2)

    class Recorder(dict):
        def __setitem__(self, key, value):
            super().__setitem__(tuple((s.start, s.stop) for s in key), value)

    target = Recorder()
    sa.store(x, target, scheduler=sched)
    assert len(target) == x.npartitions
    bigger = np.zeros((7, 6))
    later = sa.store([x], [bigger], regions=[(slice(2, 7), slice(0, 6))], compute=False)
    assert (bigger == 0).all()
    later.compute()
    np.testing.assert_array_equal(bigger[2:], data)
    with pytest.raises(ValueError, match="shape"):
        sa.store(x, np.zeros((2, 2)))


@pytest.mark.parametrize("region", [
    (slice(1, 6),), slice(1, 6), (slice(-6, -1), slice(None)), (slice(2, 7), slice(0, 6)),
], ids=repr)
def test_store_region_may_leave_out_trailing_axes_and_count_from_the_end(region, sched):
    """``regions=`` follows NumPy's ``target[region] = source``: missing axes are whole, negative starts count back."""
    data = np.arange(30.0).reshape(5, 6)
    target, expected = np.zeros((7, 6)), np.zeros((7, 6))
    sa.store(sa.from_array(data, chunks=(2, 4)), target, regions=region, scheduler=sched)
    expected[region] = data
    np.testing.assert_array_equal(target, expected)


def test_store_region_of_the_wrong_size_fails_before_writing():
    target = np.zeros((7, 6))
    with pytest.raises(ValueError, match=r"region .* has shape \(3, 6\)"):
        sa.store(sa.from_array(np.ones((5, 6)), chunks=2), target, regions=(slice(0, 3),))
    assert (target == 0).all()


class WholeCopyTarget:
    """A target that, like a zarr array writing into part of a compressed chunk, reads its whole data,
    changes the copy and writes the copy back: two unserialized writes lose one of them."""

    def __init__(self, shape):
        self.data = np.zeros(shape)
        self.shape = shape

    def __setitem__(self, region, block):
        copy = self.data.copy()
        copy[region] = block
        time.sleep(0.005)  # widen the window another writer could slip into
        self.data = copy


def test_store_serializes_writes_by_default(sched):
    data = np.arange(1.0, 97.0).reshape(8, 12)
    x = sa.from_array(data, chunks=(2, 3))  # 16 blocks written by up to 16 tasks
    target = WholeCopyTarget(data.shape)
    sa.store(x, target, scheduler=sched)
    np.testing.assert_array_equal(target.data, data)
    # a lock of your own is used as given; lock=False leaves thread-safe targets unserialized
    mine = threading.Lock()
    target = WholeCopyTarget(data.shape)
    sa.store(x, target, lock=mine, scheduler=sched)
    np.testing.assert_array_equal(target.data, data)
    plain = np.zeros(data.shape)
    sa.store(x, plain, lock=False, scheduler=sched)
    np.testing.assert_array_equal(plain, data)


def test_store_into_a_zarr_array_with_other_chunks(tmp_path, sched):
    zarr = pytest.importorskip("zarr")
    data = np.arange(60.0).reshape(5, 12)
    target = zarr.open_array(str(tmp_path / "t.zarr"), mode="w", shape=data.shape, chunks=(3, 3), dtype="f8")
    sa.store(sa.from_array(data, chunks=(2, 5)), target, scheduler=sched)  # blocks straddle zarr chunks
    np.testing.assert_array_equal(target[:], data)


def test_store_lock_pickles_to_the_same_lock():
    from shoal.collections.array.store_lock import StoreLock

    lock = StoreLock()
    copy = pickle.loads(pickle.dumps(lock))
    assert copy.lock is lock.lock and StoreLock().lock is not lock.lock


def test_asarray_of_a_list_of_arrays_stacks_them_lazily(sched):
    """``sa.asarray([x, y])`` stacks the Arrays as ``numpy.array`` would, without computing them first."""
    x = sa.arange(5, chunks=2)
    stacked = sa.asarray([x, x * 2, np.ones(5)])
    assert stacked.chunks == ((1, 1, 1), (2, 2, 1))  # x's blocks kept: nothing was computed to build it
    assert_eq(stacked, np.array([np.arange(5), np.arange(5) * 2, np.ones(5)]), scheduler=sched)
    nested = sa.array([[x], [x + 1]], dtype="f4")
    assert nested.dtype == np.float32
    assert_eq(nested, np.array([[np.arange(5)], [np.arange(5) + 1]], dtype="f4"), scheduler=sched)
    with pytest.raises(ValueError, match="same shape"):
        sa.asarray([x, sa.arange(4, chunks=2)])


def test_store_return_stored_reads_the_targets_back(sched):
    data = np.arange(30.0).reshape(5, 6)
    x = sa.from_array(data, chunks=(2, 4))
    target = np.zeros((5, 6))
    stored = sa.store(x * 2, target, return_stored=True, scheduler=sched)
    assert isinstance(stored, sa.Array) and stored.chunks == x.chunks
    target *= 10  # the Array reads the target when computed
    assert_eq(stored, data * 20, scheduler=sched)
    bigger, row = np.zeros((7, 6)), np.zeros(6)
    both = sa.store([x, x[0]], [bigger, row], regions=[(slice(1, 6),), None], return_stored=True, scheduler=sched)
    assert_eq(both[0], data, scheduler=sched)
    assert_eq(both[1], data[0], scheduler=sched)
    with pytest.raises(NotImplementedError, match="compute=False"):
        sa.store(x, target, return_stored=True, compute=False)


class OneReaderAtATime:
    """A source that counts reads overlapping in time (as an h5py dataset must not see them)."""

    def __init__(self, data):
        self.data, self.shape, self.dtype = data, data.shape, data.dtype
        self.reading, self.overlaps = 0, 0
        self._count = threading.Lock()

    def __getitem__(self, index):
        with self._count:
            self.reading += 1
            self.overlaps += self.reading > 1
        time.sleep(0.003)  # a slow read: another thread has time to come in
        with self._count:
            self.reading -= 1
        return self.data[index]


def test_from_array_lock_serializes_reads(sched):
    data = np.arange(400.0).reshape(20, 20)
    source = OneReaderAtATime(data)
    x = sa.from_array(source, chunks=5, lock=True)
    assert_eq(x, data, scheduler=sched)
    assert_eq(x.rechunk(10).sum(axis=0), data.sum(axis=0), scheduler=sched)
    assert source.overlaps == 0
    mine = threading.Lock()
    assert_eq(sa.from_array(OneReaderAtATime(data), chunks=5, lock=mine), data, scheduler=sched)
    assert_eq(sa.from_array(data, chunks=5, lock=True).sum(), data.sum(), scheduler="processes")


def test_negative_shape_is_rejected():
    with pytest.raises(ValueError, match="negative"):
        sa.ones((-1, 2))
