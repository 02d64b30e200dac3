import copy
import dataclasses
import datetime
import decimal
import enum
import functools
import json
import operator
import os
import pathlib
import subprocess
import sys
import textwrap
import threading
import uuid
from collections import OrderedDict, defaultdict, namedtuple

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shoal.config
from shoal.taskgraph.tokenize import TokenizationError, normalize_token, tokenize


def inc(x):
    return x + 1


def dec(x):
    return x - 1


def assert_same(a, b):
    assert tokenize(a) == tokenize(b)


def assert_differ(*values):
    tokens = [tokenize(v) for v in values]
    assert len(set(tokens)) == len(tokens), values


# --- basics ---------------------------------------------------------------------------


def test_token_shape():
    token = tokenize(1, "a")
    assert isinstance(token, str) and len(token) == 32
    int(token, 16)


def test_equal_values_equal_tokens():
    for value in [None, True, 1, 1.5, float("nan"), 1 + 2j, "a", b"a", bytearray(b"a"), ...,
                  slice(1, 2), range(3), int, (1, [2, {"a": {3}}])]:
        assert tokenize(value) == tokenize(copy.deepcopy(value)), value


def test_args_and_kwargs():
    assert tokenize(1, 2) != tokenize((1, 2))
    assert tokenize(1, x=2) == tokenize(1, x=2)
    assert tokenize(1, x=2) != tokenize(1, y=2)
    assert tokenize(1, x=2, y=3) == tokenize(1, y=3, x=2)
    assert tokenize(1, x=2) != tokenize(1, 2)


def test_primitives_of_different_types_differ():
    assert_differ(1, 1.0, "1", True, b"1", 1 + 0j, decimal.Decimal(1), np.int64(1), [1], (1,))
    assert_differ(0, False, None, "", b"", 0.0, -0.0)
    assert_differ(float("nan"), float("inf"), -float("inf"))


def test_long_strings_and_bytes():
    long_text = "x" * 100_000
    assert tokenize(long_text) == tokenize("x" * 100_000)
    assert_differ(long_text, long_text + "y", long_text.encode(), "x" * 99_999)
    assert_differ(b"\x00" * 10_000, b"\x00" * 10_001, bytearray(b"\x00" * 10_000))


def test_surrogates_and_huge_ints():
    assert_differ("\ud800", "\ud801")
    big = 10 ** 5000
    assert tokenize(big) == tokenize(10 ** 5000)
    assert_differ(big, big + 1)
    assert_same({big: 1, "a": {big}}, {"a": {big}, big: 1})


def test_list_vs_tuple_and_nesting():
    assert_differ([1, 2], (1, 2), [[1, 2]], [(1, 2)], [1, [2]], [[1], 2])
    assert_differ(("list", 1), [1])  # tags cannot be forged with strings


def test_dict_order_independent():
    assert_same({"a": 1, "b": 2}, {"b": 2, "a": 1})
    assert_differ({"a": 1}, {"a": 2}, {"b": 1}, {}, [("a", 1)])


def test_dict_with_mixed_key_types_does_not_compare_keys():
    a = {1: "x", "1": "y", None: 0, (1, 2): 3, 2.5: 4}
    b = dict(reversed(list(a.items())))
    assert_same(a, b)
    assert_differ({1: "x", "1": "y"}, {1: "y", "1": "x"})


def test_sets_order_independent():
    assert_same({1, "a", (2, 3)}, {(2, 3), "a", 1})
    assert_same(frozenset({"a", "b"}), frozenset({"b", "a"}))
    assert_differ({1, 2}, frozenset({1, 2}), [1, 2], {1, 3})


def test_container_subclasses_keep_type():
    Point = namedtuple("Point", "x y")
    assert_differ((1, 2), Point(1, 2))
    assert_differ({"a": 1}, OrderedDict(a=1), defaultdict(list, a=1))
    assert_differ(OrderedDict(a=1, b=2), OrderedDict(b=2, a=1))
    assert_differ(defaultdict(list, a=1), defaultdict(set, a=1))


def test_self_referencing_containers():
    a = [1]
    a.append(a)
    b = [1]
    b.append(b)
    assert tokenize(a) == tokenize(b)
    c = [2]
    c.append(c)
    assert tokenize(a) != tokenize(c)

    d = {"k": 1}
    d["self"] = d
    assert tokenize(d) == tokenize(d)

    outer = [[]]
    outer[0].append(outer)
    assert tokenize(outer) == tokenize(outer)


def test_shared_references_are_not_cycles():
    x = [1, 2]
    assert tokenize([x, x]) == tokenize([x, [1, 2]])


def test_slices_ranges_ellipsis_types():
    assert_differ(slice(1, 2), slice(1, 3), slice(1, 2, 1), slice(None), range(3), range(1, 3), ...)
    assert_differ(int, float, str, np.ndarray, pd.DataFrame)
    assert_same(int, int)


def test_datetime_decimal_uuid_path():
    now = datetime.datetime(2024, 1, 2, 3, 4, 5, 6)
    assert_same(now, datetime.datetime(2024, 1, 2, 3, 4, 5, 6))
    assert_differ(now, now.replace(tzinfo=datetime.timezone.utc), now.date(), now.time(),
                  now + datetime.timedelta(microseconds=1))
    assert_differ(datetime.timedelta(1), datetime.timedelta(2), datetime.timedelta(seconds=1))
    assert_differ(decimal.Decimal("1.0"), decimal.Decimal("1.1"))
    u = uuid.UUID(int=5)
    assert_same(u, uuid.UUID(int=5))
    assert_differ(u, uuid.UUID(int=6), str(u))
    assert_same(pathlib.Path("a/b"), pathlib.Path("a") / "b")
    assert_differ(pathlib.Path("a/b"), pathlib.Path("a/c"), "a/b")


class Color(enum.Enum):
    RED = 1
    BLUE = 2


class Size(str, enum.Enum):
    SMALL = "small"


def test_enum_members():
    assert_same(Color.RED, Color(1))
    assert_differ(Color.RED, Color.BLUE, 1)
    assert_differ(Size.SMALL, "small")


@dataclasses.dataclass
class Point:
    x: int
    y: list


@dataclasses.dataclass
class OtherPoint:
    x: int
    y: list


def test_dataclasses_by_fields():
    assert_same(Point(1, [2]), Point(1, [2]))
    assert_differ(Point(1, [2]), Point(1, [3]), OtherPoint(1, [2]))


def test_self_referencing_dataclass():
    p = Point(1, [])
    p.y.append(p)
    assert tokenize(p) == tokenize(p)


class Custom:
    def __init__(self, value):
        self.value = value

    def __shoal_tokenize__(self):
        return ("custom", self.value)


def test_shoal_tokenize_protocol():
    assert_same(Custom(1), Custom(1))
    assert_differ(Custom(1), Custom(2), ("custom", 1))
    assert_same(Custom({"a", "b"}), Custom({"b", "a"}))


class ListWithProtocol(list):
    def __shoal_tokenize__(self):
        return "every one alike"


@dataclasses.dataclass(eq=False)
class DictDataclass(dict):
    tag: int = 0


def test_normalizer_resolution_order():
    # The __shoal_tokenize__ protocol beats a registered base class (list): the
    # contents, which differ, do not count.
    assert_same(ListWithProtocol([1]), ListWithProtocol([2]))
    assert_differ(ListWithProtocol([1]), [1])
    # A registered base class (dict) beats the dataclass fallback: the contents
    # count even though the only field is equal.
    first, second = DictDataclass(tag=0), DictDataclass(tag=0)
    first["k"], second["k"] = 1, 2
    assert_differ(first, second)
    second["k"] = 1
    assert_same(first, second)


def test_register_custom_normalizer():
    class Registered:
        def __init__(self, v):
            self.v = v

    class Child(Registered):
        pass

    calls = []

    @normalize_token.register(Registered)
    def normalize(obj):
        calls.append(obj)
        return ("registered", obj.v)

    assert tokenize(Registered(1)) == tokenize(Registered(1))
    assert tokenize(Child(2)) != tokenize(Registered(1))
    assert len(calls) == 4


# --- functions and callables ----------------------------------------------------------


def test_named_functions():
    assert_same(inc, inc)
    assert_differ(inc, dec, len, sum, np.sum, np.add, np.subtract, operator.add)
    assert normalize_token(inc)[0] == "function"


def test_lambdas_and_closures_by_value():
    assert tokenize(lambda x: x + 1) != tokenize(lambda x: x + 2)

    def make(n):
        return lambda x: x + n

    assert tokenize(make(1)) == tokenize(make(1))
    assert tokenize(make(1)) != tokenize(make(2))

    def local(x):
        return x

    assert tokenize(local) == tokenize(local)


def test_partial():
    assert_same(functools.partial(inc, 1), functools.partial(inc, 1))
    assert_differ(functools.partial(inc, 1), functools.partial(inc, 2), functools.partial(dec, 1),
                  functools.partial(inc, x=1), functools.partial(inc, y=1), inc)


class Adder:
    def __init__(self, n):
        self.n = n

    def add(self, x):
        return x + self.n

    def other(self, x):
        return x


def test_bound_methods():
    assert_same(Adder(1).add, Adder(1).add)
    assert_differ(Adder(1).add, Adder(2).add, Adder(1).other, Adder.add)
    assert_differ([1].append, [2].append, [1].pop)


def test_operator_callables():
    assert_same(operator.itemgetter(1), operator.itemgetter(1))
    assert_differ(operator.itemgetter(1), operator.itemgetter(2), operator.itemgetter(1, 2),
                  operator.attrgetter("a"), operator.attrgetter("b"),
                  operator.methodcaller("f"), operator.methodcaller("f", 1),
                  operator.methodcaller("f", k=1), operator.methodcaller("f", k=2))


# --- objects without a normalizer -----------------------------------------------------


class Plain:
    def __init__(self, items):
        self.items = items


class HoldsLock:
    def __init__(self):
        self.lock = threading.Lock()


def test_plain_objects_by_state():
    assert_same(Plain([1, 2]), Plain([1, 2]))
    assert_differ(Plain([1, 2]), Plain([1, 3]))
    # set state is ordered deterministically, arrays hashed by content
    assert_same(Plain({"a", "b", "c"}), Plain({"c", "b", "a"}))
    assert_same(Plain(np.arange(3)), Plain(np.arange(3)))


def test_self_referencing_object():
    p = Plain(None)
    p.items = p
    assert tokenize(p) == tokenize(p)


def test_unpicklable_objects_get_random_tokens():
    obj = HoldsLock()
    assert tokenize(obj) != tokenize(obj)
    assert tokenize(threading.Lock()) != tokenize(threading.Lock())


def test_ensure_deterministic_raises_with_type_name():
    with pytest.raises(TokenizationError, match="HoldsLock") as info:
        tokenize(HoldsLock(), ensure_deterministic=True)
    assert isinstance(info.value, TypeError)
    assert "lock" in str(info.value)
    # nested inside containers too
    with pytest.raises(TokenizationError):
        tokenize([1, {"a": HoldsLock()}], ensure_deterministic=True)
    # deterministic objects are fine in strict mode
    tokenize(Plain([1]), inc, ensure_deterministic=True)


def test_ensure_deterministic_from_config():
    with shoal.config.set({"tokenize.ensure-deterministic": True}):
        with pytest.raises(TokenizationError):
            tokenize(HoldsLock())
        tokenize(HoldsLock(), ensure_deterministic=False)  # the keyword wins
    tokenize(HoldsLock())


class Unpicklable:
    def __reduce__(self):
        raise TypeError("no pickling here")


class FreshEachTime:
    def __reduce__(self):
        return (FreshEachTime, (), {"nonce": uuid.uuid4().hex})


def test_unpicklable_and_unstable_pickles():
    for obj in [Unpicklable(), FreshEachTime()]:
        assert tokenize(obj) != tokenize(obj)
        with pytest.raises(TokenizationError, match=type(obj).__name__):
            tokenize(obj, ensure_deterministic=True)


# --- numpy ----------------------------------------------------------------------------


def test_arrays_by_content():
    x = np.arange(12, dtype="f8").reshape(3, 4)
    assert_same(x, x.copy())
    y = x.copy()
    y[1, 2] = -1
    assert_differ(x, y, x.astype("f4"), x.reshape(4, 3), x.ravel(), x.astype("i8"))


def test_non_contiguous_and_fortran_by_logical_content():
    x = np.arange(24).reshape(4, 6)
    assert_same(x[:, ::2], np.ascontiguousarray(x[:, ::2]))
    assert_same(np.asfortranarray(x), x)
    assert_same(x.T, np.ascontiguousarray(x.T))
    assert_differ(x.T, x.reshape(6, 4))
    assert_differ(x[::2], x[1::2])


def test_special_arrays():
    assert_same(np.array([1, "a", None], dtype=object), np.array([1, "a", None], dtype=object))
    assert_differ(np.array([1, "a"], dtype=object), np.array([1, "b"], dtype=object),
                  np.array(["1", "a"], dtype=object))
    dt = np.array(["2020-01-01", "NaT"], dtype="datetime64[ns]")
    assert_same(dt, dt.copy())
    assert_differ(dt, dt.astype("datetime64[s]"))
    rec = np.array([(1, 2.0)], dtype=[("a", "i8"), ("b", "f8")])
    rec2 = np.array([(1, 2.0)], dtype=[("a", "i8"), ("c", "f8")])
    assert_same(rec, rec.copy())
    assert_differ(rec, rec2)
    assert_differ(np.zeros(0), np.zeros((0, 1)), np.zeros(0, "i4"))
    assert_same(np.array(5), np.array(5))
    assert_differ(np.array(5), np.array([5]), np.int64(5))
    assert_differ(np.ma.masked_array([1, 2], mask=[0, 1]), np.ma.masked_array([1, 2], mask=[1, 0]),
                  np.array([1, 2]))


def test_numpy_scalars_and_dtypes():
    assert_same(np.float64(1.5), np.float64(1.5))
    assert_differ(np.float64(1.5), np.float32(1.5), 1.5, np.int64(1), np.int32(1), np.bool_(True))
    assert_differ(np.dtype("f8"), np.dtype("f4"), np.dtype(">f8"), "float64")
    assert_same(np.dtype("f8"), np.dtype(float))
    assert_differ(np.datetime64("2020-01-01"), np.datetime64("2020-01-02"))
    assert_differ(np.str_("a"), "a")


def test_memmap(tmp_path):
    path = tmp_path / "data.bin"
    np.arange(10, dtype="i8").tofile(path)
    m = np.memmap(path, dtype="i8", mode="r", shape=(10,))
    assert tokenize(m) == tokenize(np.memmap(path, dtype="i8", mode="r", shape=(10,)))
    assert tokenize(m[2:]) != tokenize(m[3:])
    del m


# --- pandas ---------------------------------------------------------------------------


def make_frame():
    return pd.DataFrame(
        {"a": [1, 2, 3], "b": ["x", "y", "z"], "c": [1.5, np.nan, 2.5]},
        index=pd.Index([10, 20, 30], name="idx"),
    )


def test_dataframes():
    df = make_frame()
    assert_same(df, make_frame())
    changed_value = make_frame()
    changed_value.loc[20, "a"] = 99
    changed_name = make_frame().rename(columns={"a": "A"})
    changed_index = make_frame().set_axis([10, 20, 31])
    changed_index_name = make_frame().rename_axis("other")
    changed_dtype = make_frame().astype({"a": "f8"})
    reordered = make_frame()[["b", "a", "c"]]
    assert_differ(df, changed_value, changed_name, changed_index, changed_index_name,
                  changed_dtype, reordered, df.T)


def test_series_and_indexes():
    s = pd.Series([1, 2, 3], name="s")
    assert_same(s, pd.Series([1, 2, 3], name="s"))
    assert_differ(s, s.rename("t"), s.astype("Int64"), s.set_axis([1, 2, 3]), pd.Index([1, 2, 3]))
    assert_differ(pd.Index([1, 2]), pd.Index([1, 2], name="x"), pd.Index([1.0, 2.0]),
                  pd.RangeIndex(1, 3), pd.Index(["1", "2"]))
    mi = pd.MultiIndex.from_tuples([(1, "a"), (2, "b")], names=["n", "l"])
    assert_same(mi, pd.MultiIndex.from_tuples([(1, "a"), (2, "b")], names=["n", "l"]))
    assert_differ(mi, mi.set_names(["n", "x"]), pd.MultiIndex.from_tuples([(1, "a"), (2, "c")]))
    assert_differ(pd.date_range("2020", periods=3), pd.date_range("2020", periods=3, tz="UTC"),
                  pd.date_range("2021", periods=3))


def test_object_columns_mixed_types():
    assert_differ(pd.Series([1, "a"], dtype=object), pd.Series(["1", "a"], dtype=object))
    assert_same(pd.Series(["x", "y"], dtype=object), pd.Series(["x", "y"], dtype=object))
    assert_differ(pd.Series(["x", "y"], dtype=object), pd.Series(["x", "z"], dtype=object))


def test_categoricals_and_extension_arrays():
    c = pd.Categorical(["a", "b", "a"])
    assert_same(c, pd.Categorical(["a", "b", "a"]))
    assert_differ(c, pd.Categorical(["a", "b", "b"]), pd.Categorical(["a", "b", "a"], ordered=True),
                  pd.Categorical(["a", "b", "a"], categories=["b", "a"]))
    assert_differ(pd.array([1, None], dtype="Int64"), pd.array([1, 2], dtype="Int64"),
                  pd.array([1, None], dtype="Int32"), pd.array([1.0, None], dtype="Float64"))
    assert_same(pd.array([1, None], dtype="Int64"), pd.array([1, None], dtype="Int64"))
    assert_differ(pd.array(["a", None], dtype="string"), pd.array(["a", "b"], dtype="string"))
    breaks = pd.arrays.IntervalArray.from_breaks
    assert_differ(breaks([0, 1, 2]), breaks([0, 1, 3]))


def test_pandas_scalars_and_dtypes():
    ts = pd.Timestamp("2020-01-01 00:00:00.000000001")
    assert_same(ts, pd.Timestamp("2020-01-01 00:00:00.000000001"))
    assert_differ(ts, pd.Timestamp("2020-01-01"), pd.Timestamp("2020-01-01", tz="UTC"),
                  pd.Timestamp("2020-01-01", tz="Europe/Paris"), pd.NaT, pd.NA)
    assert_differ(pd.Timedelta(1, "s"), pd.Timedelta(2, "s"), datetime.timedelta(seconds=1))
    assert_differ(pd.Period("2020-01", "M"), pd.Period("2020-01-01", "D"), pd.Period("2020-02", "M"))
    assert_differ(pd.Interval(0, 1), pd.Interval(0, 1, closed="left"), pd.Interval(0, 2))
    assert_differ(pd.CategoricalDtype(["a", "b"]), pd.CategoricalDtype(["a", "c"]),
                  pd.CategoricalDtype(["a", "b"], ordered=True), pd.Int64Dtype(), pd.Int32Dtype(),
                  pd.DatetimeTZDtype(tz="UTC"), pd.StringDtype("python"), pd.StringDtype("pyarrow"),
                  np.dtype("i8"))
    assert_same(pd.CategoricalDtype(["a", "b"]), pd.CategoricalDtype(["a", "b"]))


# --- determinism across processes -----------------------------------------------------

CROSS_PROCESS_SCRIPT = textwrap.dedent(
    """
    import functools, json, os
    import numpy as np, pandas as pd
    from shoal.taskgraph.tokenize import tokenize

    def named(x):
        return x

    objects = {
        "dict": {"b": "x", "a": "y", "c": {"nested": "z"}},
        "set": {"alpha", "beta", "gamma", "delta"},
        "frozenset": frozenset({"p", "q", "r"}),
        "array": np.arange(20).reshape(4, 5)[:, ::2],
        "frame": pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}, index=["r", "s"]),
        "function": os.path.join,
        "partial": functools.partial(os.path.join, "a"),
        "lambda": lambda x, y=2: x * y + 1,
        "main_function": named,
        "mixed": [1, 2.5, None, ("t", b"b"), {"k": {1, 2, 3}}],
    }
    print(json.dumps({k: tokenize(v) for k, v in objects.items()}))
    """
)


def run_with_hash_seed(seed):
    env = dict(os.environ, PYTHONHASHSEED=str(seed))
    result = subprocess.run(
        [sys.executable, "-c", CROSS_PROCESS_SCRIPT],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )
    return json.loads(result.stdout)


def test_deterministic_across_processes():
    first = run_with_hash_seed(1)
    second = run_with_hash_seed(2)
    assert first == second
    assert len(set(first.values())) == len(first)


# --- property -------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_tokenize_equals_tokenize_of_deep_copy(value):
    assert tokenize(value) == tokenize(copy.deepcopy(value))


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=5) | st.integers(), st.integers(), max_size=8))
def test_dict_token_independent_of_insertion_order(d):
    assert tokenize(d) == tokenize(dict(reversed(list(d.items()))))


@settings(max_examples=50, deadline=None)
@given(json_values, json_values)
def test_different_json_values_differ(a, b):
    # Distinct JSON texts are distinct values (1 vs 1.0 vs true, -0.0 vs 0.0).
    if json.dumps(a, sort_keys=True) != json.dumps(b, sort_keys=True):
        assert tokenize(a) != tokenize(b)


def test_thread_safety():
    values = [{"k": [i, {"s": {i, i + 1}}]} for i in range(50)]
    expected = [tokenize(v) for v in values]
    errors = []

    def work():
        try:
            for _ in range(20):
                assert [tokenize(v) for v in values] == expected
        except Exception as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_speed_of_small_calls():
    import time
    import timeit

    # This thread's CPU time: wall time would count the moments a loaded machine runs others.
    best = min(timeit.repeat(lambda: tokenize(inc, 1, 2, "x"), number=2000, repeat=5, timer=time.thread_time)) / 2000
    assert best < 50e-6  # generous for slow CI; measures ~2.5 µs locally
