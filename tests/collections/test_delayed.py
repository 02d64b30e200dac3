"""shoal.delayed: building lazy calls, keys, proxies and operators.

Every lazy expression is compared with the same expression evaluated in
plain Python.
"""

from __future__ import annotations

import collections
import dataclasses
import operator
import pickle

import cloudpickle
import numpy as np
import pytest

import shoal
from shoal import Delayed, config, delayed
from shoal.taskgraph import DataNode, Fused, key_prefix
from shoal.testing import assert_eq


def inc(x):
    return x + 1


def add(x, y=0):
    return x + y


def split_even_odd(values):
    return [v for v in values if v % 2 == 0], [v for v in values if v % 2]


# --- making delayed calls -----------------------------------------------------------


def test_wrapper_and_decorator_forms():
    @delayed
    def double(x):
        return 2 * x

    @delayed(pure=True, name="triple")
    def triple(x):
        return 3 * x

    assert isinstance(double, Delayed) and isinstance(triple, Delayed)
    assert_eq(double(4), 8)
    assert_eq(triple(4), 12)
    assert_eq(delayed(inc)(1), 2)
    assert_eq(delayed(add)(1, y=5), 6)


def test_pure_calls_share_keys_and_impure_calls_do_not():
    pure_inc = delayed(inc, pure=True)
    assert pure_inc(1).key == pure_inc(1).key
    assert pure_inc(1).key == delayed(inc, pure=True)(1).key
    assert pure_inc(1).key != pure_inc(2).key
    assert delayed(add, pure=True)(1, y=2).key != delayed(add, pure=True)(1, y=3).key
    assert delayed(inc)(1).key != delayed(inc)(1).key
    assert delayed(inc)(1, pure=True).key == delayed(inc)(1, pure=True).key
    with config.set({"delayed.pure": True}):
        assert delayed(inc)(1).key == delayed(inc)(1).key


def test_key_names():
    assert key_prefix(delayed(inc)(1).key) == "inc"
    assert key_prefix(delayed(inc, name="increment")(1).key) == "increment"
    assert key_prefix(delayed(lambda x: x)(1).key) == "lambda"
    assert delayed(inc)(1, shoal_key_name="my-key").key == "my-key"
    assert delayed(inc)(1, shoal_key_name=("part", 3)).key == ("part", 3)
    assert delayed([1, 2], name="the-list").key == "the-list"
    assert_eq(delayed(inc)(1, shoal_key_name="my-key"), 2)
    # Dask's spelling names the key too, and is not passed on to the function
    assert delayed(inc)(1, dask_key_name="dask-key").key == "dask-key"
    assert_eq(delayed(add)(1, y=2, dask_key_name=("piece", 0)), add(1, y=2))
    assert delayed(np.arange(4)).sum(dask_key_name="total").key == "total"


def test_nout_unpacking():
    evens, odds = delayed(split_even_odd, nout=2)(list(range(7)))
    expected_evens, expected_odds = split_even_odd(list(range(7)))
    assert_eq(evens, expected_evens)
    assert_eq(odds, expected_odds)
    (only,) = delayed(lambda: (5,), nout=1)()
    assert_eq(only, 5)
    assert list(delayed(lambda: (), nout=0)()) == []
    assert len(delayed(split_even_odd, nout=2)([1])) == 2


@pytest.mark.parametrize("nout", [-1, "2", 2.0, True])
def test_nout_must_be_a_non_negative_int(nout):
    with pytest.raises(ValueError, match="nout must be None or a non-negative int"):
        delayed(split_even_odd, nout=nout)
    with pytest.raises(ValueError, match="nout must be None or a non-negative int"):
        delayed(nout=nout)


def test_iterating_or_len_without_nout_raises():
    value = delayed(split_even_odd)([1, 2])
    with pytest.raises(TypeError, match="nout"):
        a, b = value
    with pytest.raises(TypeError, match="nout"):
        iter(value)
    with pytest.raises(TypeError, match="nout"):
        len(value)


def test_truth_value_raises():
    value = delayed(inc)(1)
    with pytest.raises(TypeError, match="compute"):
        bool(value)
    with pytest.raises(TypeError):
        if value:
            pass


def test_delayed_objects_are_immutable():
    value = delayed(inc)(1)
    with pytest.raises(TypeError, match="immutable"):
        value.attribute = 1
    with pytest.raises(TypeError, match="immutable"):
        value[0] = 1


# --- arguments --------------------------------------------------------------------


def test_delayed_nested_in_lists_and_dicts_as_arguments():
    a, b = delayed(inc)(1), delayed(inc)(10)

    def combine(items, mapping, pair, flat):
        return sum(items) + mapping["b"] * 100 + pair[0] + sum(flat)

    result = delayed(combine)([a, 1], {"b": b, "const": 5}, (a, b), {a})
    assert_eq(result, (2 + 1) + 11 * 100 + 2 + 2)
    deep = delayed(lambda x: x)({"outer": [{"inner": (a, [b])}]})
    assert_eq(deep, {"outer": [{"inner": (2, [11])}]})


Pair = collections.namedtuple("Pair", "left right")


@dataclasses.dataclass(frozen=True)
class Span:
    start: int
    stop: int
    length: int = dataclasses.field(init=False, default=0)

    def __post_init__(self):
        object.__setattr__(self, "length", self.stop - self.start)


def test_delayed_inside_namedtuples_dataclasses_slices_and_iterators_is_computed(scheduler):
    # These are not plain containers; their Delayed fields must still be
    # computed before the function sees them (they reached it as Delayed).
    a, b = delayed(inc)(1), delayed(inc)(10)
    assert_eq(delayed(lambda p: p.left + p.right)(Pair(a, 5)), Pair(2, 5).left + 5, scheduler=scheduler)
    assert_eq(delayed(lambda p: p)(Pair([a], {"k": b})), Pair([2], {"k": 11}), scheduler=scheduler)
    assert_eq(delayed(Pair(a, b)), Pair(2, 11), scheduler=scheduler)
    # fields not taken by __init__ are recomputed by the class itself
    assert_eq(delayed(lambda s: s)(Span(a, b)), Span(2, 11), scheduler=scheduler)
    assert_eq(delayed(Span(a, 7)).length, Span(2, 7).length, scheduler=scheduler)
    values = np.arange(20)
    assert_eq(delayed(values)[a:b], values[2:11], scheduler=scheduler)
    assert_eq(delayed(values)[slice(None, None, a)], values[::2], scheduler=scheduler)
    # iterators over lists, tuples and sets are read into a list, as in Dask
    assert_eq(delayed(sum)(iter([a, b, 3])), sum([2, 11, 3]), scheduler=scheduler)
    assert_eq(delayed(sorted)(iter({a, 0})), sorted({2, 0}), scheduler=scheduler)
    assert_eq(delayed(iter([a, 4])), [2, 4], scheduler=scheduler)
    assert_eq(delayed(iter((5, 6))), [5, 6], scheduler=scheduler)
    pure_sum = delayed(sum, pure=True)
    assert pure_sum(iter([1, 2])).key != pure_sum(iter([3, 4])).key
    assert pure_sum(iter([1, 2])).key == pure_sum([1, 2]).key
    # ones holding no Delayed pass through as they are
    plain = Pair(1, 2)
    assert delayed(lambda p: p is plain)(plain).compute(scheduler="sync")


def test_delayed_of_containers_of_delayed():
    a, b = delayed(inc)(1), delayed(inc)(2)
    assert_eq(delayed([a, b, 7]), [2, 3, 7])
    assert_eq(delayed({"a": a, "rest": [b]}), {"a": 2, "rest": [3]})
    assert_eq(delayed((a, b)), (2, 3))
    # traverse=False keeps the container as a literal value
    plain = delayed([1, 2], traverse=False)
    assert_eq(plain, [1, 2])


def test_delayed_of_a_delayed_is_itself():
    value = delayed(inc)(1)
    assert delayed(value) is value


# --- proxies and operators ------------------------------------------------------------

A, B = 7, 3

BINARY = [
    operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv, operator.mod,
    operator.pow, operator.and_, operator.or_, operator.xor, operator.lshift, operator.rshift, divmod,
    operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne,
]


@pytest.mark.parametrize("op", BINARY, ids=lambda op: op.__name__)
def test_binary_operators_match_python(op):
    a, b = delayed(A), delayed(B)
    assert_eq(op(a, b), op(A, B))
    assert_eq(op(a, B), op(A, B))
    assert_eq(op(A, b), op(A, B))  # reflected (or swapped comparison)


@pytest.mark.parametrize("op", [operator.neg, operator.pos, operator.abs, operator.invert])
def test_unary_operators_match_python(op):
    assert_eq(op(delayed(-A)), op(-A))


def test_matmul_and_numpy_on_the_left():
    m = np.arange(4.0).reshape(2, 2)
    n = np.array([[1.0, 2.0], [0.5, -1.0]])
    assert_eq(delayed(m) @ delayed(n), m @ n)
    assert_eq(delayed(m) @ n, m @ n)
    assert_eq(m @ delayed(n), m @ n)  # NumPy defers to Delayed.__rmatmul__
    assert_eq(m + delayed(n), m + n)
    assert isinstance(m + delayed(n), Delayed)


def test_attribute_item_and_method_proxies():
    text = delayed("Hello World")
    assert_eq(text.upper(), "Hello World".upper())
    assert_eq(text.split(" ", maxsplit=1), "Hello World".split(" ", maxsplit=1))
    assert_eq(text[1:4], "Hello World"[1:4])
    assert_eq(text.count("o"), "Hello World".count("o"))
    number = delayed(3 + 4j)
    assert_eq(number.real, (3 + 4j).real)
    assert_eq(number.conjugate(), (3 + 4j).conjugate())
    mapping = delayed({"k": [1, 2, 3]})
    assert_eq(mapping["k"][-1], 3)
    assert_eq(mapping.get("missing", "default"), "default")


def test_method_keywords_named_like_internal_parameters():
    template = delayed("{obj}-{attr}-{func}")
    assert_eq(template.format(obj=1, attr=2, func=3), "1-2-3")
    maker = delayed(lambda: (lambda func, args: func - args))()
    assert_eq(maker(func=10, args=4), 6)


def test_calling_a_delayed_value():
    make_adder = delayed(lambda n: (lambda x: x + n))
    assert_eq(make_adder(5)(10), 15)


def test_operators_are_pure():
    a = delayed(A)
    assert (a + 1).key == (a + 1).key
    assert (a + 1).key != (a + 2).key
    assert a.real.key == a.real.key


def test_attribute_names_starting_with_underscore_are_not_proxied():
    with pytest.raises(AttributeError):
        delayed(1)._private


# --- computing ------------------------------------------------------------------------


def test_compute_on_every_scheduler(scheduler):
    values = [delayed(inc, pure=True)(i) for i in range(10)]
    total = delayed(sum)(values)
    assert total.compute(scheduler=scheduler) == sum(i + 1 for i in range(10))
    assert_eq(total * 2, sum(i + 1 for i in range(10)) * 2, scheduler=scheduler)


def test_long_chain_builds_computes_and_is_fused():
    n = 20_000
    value = delayed(0)
    step = delayed(inc)
    for _ in range(n):
        value = step(value)
    assert value.compute(scheduler="sync") == n
    assert value.compute(scheduler="threads") == n
    from shoal.taskgraph.protocol import collections_to_graph

    graph, _ = collections_to_graph([value])
    assert len(graph) == 1 and type(graph[value.key]) is Fused


@pytest.mark.parametrize("dumps, loads", [(pickle.dumps, pickle.loads), (cloudpickle.dumps, cloudpickle.loads)])
def test_pickling_a_long_chain(dumps, loads):
    n = 5_000
    value = delayed(1)
    for _ in range(n):
        value = delayed(inc)(value)
    copy = loads(dumps(value))
    assert copy.key == value.key
    assert copy.compute(scheduler="sync") == n + 1


def test_pickling_proxies_and_functions():
    double = delayed(add, pure=True)
    for original in (double, double(2, y=2), delayed("abc").upper(), delayed([1, 2])[0]):
        copy = pickle.loads(pickle.dumps(original))
        assert copy.key == original.key
        assert copy.compute(scheduler="sync") == original.compute(scheduler="sync")


def test_persist_gives_the_same_key_backed_by_one_datanode():
    calls = []

    def expensive(x):
        calls.append(x)
        return x * 10

    value = delayed(expensive)(4)
    persisted = value.persist(scheduler="sync")
    assert isinstance(persisted, Delayed)
    assert persisted.key == value.key
    graph = persisted.__shoal_graph__()
    assert list(graph) == [value.key]
    assert type(graph[value.key]) is DataNode and graph[value.key].value == 40
    assert persisted.compute(scheduler="sync") == 40
    assert_eq(persisted + 1, 41)
    assert calls == [4]  # building on the persisted value does not run it again


def test_delayed_repr_and_dir():
    value = delayed(inc)(1, shoal_key_name="k")
    assert repr(value) == "Delayed('k')"
    assert {"compute", "persist", "visualize", "key"} <= set(dir(value))


def test_tasks_run_on_the_default_threads_scheduler():
    import threading

    value = delayed(lambda: threading.current_thread().name)()
    assert value.compute().startswith("shoal-thread")
    with config.set(scheduler="sync"):
        assert value.compute() == threading.current_thread().name


# --- a collection of another kind inside delayed -------------------------------------


class Numbers:
    """A minimal collection: parts ``(name, i)`` each holding one number; computes to their sum."""

    def __init__(self, values, name="numbers-0123456789abcdef"):
        self.values, self.name = list(values), name

    def __shoal_graph__(self):
        return {(self.name, i): DataNode((self.name, i), v) for i, v in enumerate(self.values)}

    def __shoal_keys__(self):
        return [(self.name, i) for i in range(len(self.values))]

    def __shoal_postcompute__(self):
        return sum, ()


def test_delayed_over_a_custom_collection():
    numbers = Numbers([1, 2, 3, 4])
    (total,) = shoal.compute(numbers, scheduler="sync")
    assert total == 10
    wrapped = delayed(numbers)
    assert_eq(wrapped, 10)
    assert_eq(wrapped * 2, 20)
    assert_eq(delayed(inc)(numbers), 11)  # a collection as an argument
    assert_eq(delayed([numbers, Numbers([5], name="other-fedcba9876543210")]), [10, 5])
    assert delayed(numbers, name="total-numbers").key == "total-numbers"
