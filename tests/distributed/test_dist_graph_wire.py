"""graph_wire: the compact form graphs travel in from the Client to the scheduler.

Round trips (encode then decode, through the real message serializer) give
back equal graphs; errors name the key that failed; large graphs run end to
end on an in-process cluster and give the plain-Python answer.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.distributed import Client, LocalCluster, graph_wire
from shoal.distributed.comm import SerializationError
from shoal.distributed.comm.serialize import dumps, loads
from shoal.taskgraph import Alias, DataNode, Fused, Ref, Task


def inc(x):
    return x + 1


def add(x, y):
    return x + y


def scale(x, factor=1, offset=0):
    return x * factor + offset


def record(x, factor=1, offset=0):
    return (x, factor, offset)


def through_wire(graph):
    """``graph`` encoded, framed and unframed as a message, decoded."""
    msg = loads(dumps({"op": "update-graph", "graph": graph_wire.encode(graph)}))
    return graph_wire.decode(msg["graph"])


def assert_same_graph(got, expected):
    """Equal keys, node types, functions, arguments and dependencies; and each node runs to the same value."""
    assert list(got) == list(expected) or set(got) == set(expected)
    for key, node in expected.items():
        other = got[key]
        assert type(other) is type(node), key
        assert other.key == key and type(other.key) is type(key)
        assert other.dependencies == node.dependencies, key
        if isinstance(node, Task):
            assert other.func is node.func or other.func.__name__ == node.func.__name__
            assert other.args == node.args and other.kwargs == node.kwargs, key
            assert [type(a) for a in other.args] == [type(a) for a in node.args], key
            assert other._mode == node._mode, key
    values: dict = {}
    for key in _toposorted(expected):
        values[key] = expected[key](values)
        assert got[key](values) == values[key], key


def _toposorted(graph):
    done, out = set(), []
    for root in graph:
        stack = [root]
        while stack:  # bounded: every key is pushed at most once per dependency edge
            key = stack[-1]
            pending = [d for d in graph[key].dependencies if d not in done]
            if pending:
                stack.extend(pending)
            else:
                stack.pop()
                if key not in done:
                    done.add(key)
                    out.append(key)
    return out


# ---------------------------------------------------------------- round trips
def test_map_like_graph_is_one_record_with_columns():
    graph = {f"inc-{i:08x}": Task(f"inc-{i:08x}", inc, i) for i in range(1000)}
    wire = graph_wire.encode(graph)
    assert len(wire["templates"]) == 1 and wire["nodes"] is None
    template = wire["templates"][0]
    assert template["n"] == 1000 and template["args"][0][0] == "ints"
    assert_same_graph(through_wire(graph), graph)


def test_tuple_keys_and_references_become_index_arrays():
    n = 200
    graph = {("x", i, j): Task(("x", i, j), inc, i * 10 + j) for i in range(n) for j in range(2)}
    graph.update({("y", i): Task(("y", i), add, Ref(("x", i, 0)), Ref(("x", i, 1))) for i in range(n)})
    wire = graph_wire.encode(graph)
    kinds = sorted(t["keys"][0] for t in wire["templates"])
    assert kinds == ["tuple", "tuple"]
    y = next(t for t in wire["templates"] if t["keys"][1] == "y")
    assert [c[0] for c in y["args"]] == ["ref", "ref"]
    assert isinstance(y["args"][0][1][2], np.ndarray)
    back = through_wire(graph)
    assert_same_graph(back, graph)
    assert back[("y", 3)]({("x", 3, 0): 5, ("x", 3, 1): 7}) == 12


def test_kwargs_constants_and_mixed_literals():
    graph = {}
    for i in range(50):
        graph[("s", i)] = Task(("s", i), record, i, factor=2, offset=[0.5, "a", None, True][i % 4])
    back = through_wire(graph)
    assert_same_graph(back, graph)
    assert back[("s", 3)]({}) == (3, 2, True)


def test_what_fits_no_template_travels_as_nodes():
    graph = {
        "data": DataNode("data", np.arange(5)),
        "alias": Alias("alias", "data"),
        "nested": Task("nested", sum, [Ref("data"), 1]),
        "one": Task("one", inc, 1),
    }
    wire = graph_wire.encode(graph)
    assert wire["templates"] == [] and wire["nodes"] is not None  # too few of each shape for a template
    back = through_wire(graph)
    assert set(back) == set(graph)
    assert back["nested"].dependencies == {"data"}
    assert back["alias"]({"data": 3}) == 3
    assert back["data"]({}).tolist() == [0, 1, 2, 3, 4]


def test_fused_chains_and_lists_of_references_share_shaped_templates():
    n = 40
    graph = {("a", i): DataNode(("a", i), np.arange(3) + i) for i in range(n)}
    for i in range(n):  # a chain fused into one node per block, as blockwise fusion makes
        inner = [Task(("b", i), scale, Ref(("a", i)), factor=2),
                 Task(("c", i), add, Ref(("b", i)), Task(("d", i), inc, i))]
        graph[("c", i)] = Fused(("c", i), inner)
    for j in range(n // 4):  # a reduction layer: each task reads a list of four blocks
        graph[("s", j)] = Task(("s", j), sum, [Ref(("c", 4 * j + k)) for k in range(4)], {"start": 0}["start"])
    wire = graph_wire.encode(graph)
    assert wire["nodes"] is None and len(wire["templates"]) == 3
    back = through_wire(graph)
    assert set(back) == set(graph)
    for key, node in graph.items():
        assert type(back[key]) is type(node) and back[key].dependencies == node.dependencies, key
    values: dict = {}
    for key in _toposorted(graph):
        values[key] = graph[key](values)
        got = back[key](values)
        assert np.array_equal(got, values[key]), key


def test_big_integers_and_odd_keys_fall_back_to_pickles():
    graph = {("k", i, "s"): Task(("k", i, "s"), inc, 2**70 + i) for i in range(10)}
    back = through_wire(graph)
    assert_same_graph(back, graph)


keys_strategy = st.one_of(
    st.integers(0, 30).map(lambda i: f"t-{i}"),
    st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 30)),
    st.tuples(st.just("c"), st.integers(-3, 3), st.integers(0, 3)),
)
literal_strategy = st.one_of(
    st.integers(-(2**65), 2**65), st.floats(allow_nan=False), st.text(max_size=3), st.booleans(), st.none(),
    st.lists(st.integers(0, 3), max_size=2),
)


@st.composite
def random_graphs(draw):
    """Layers of tasks (same function, same argument structure) over earlier keys, plus odd nodes."""
    keys = draw(st.lists(keys_strategy, min_size=1, max_size=60, unique=True))
    graph: dict = {}
    funcs = [inc, add, scale]
    for key in keys:
        earlier = list(graph)
        kind = draw(st.integers(0, 5))
        if kind == 0:
            graph[key] = DataNode(key, draw(literal_strategy))
        elif kind == 1 and earlier:
            graph[key] = Alias(key, draw(st.sampled_from(earlier)))
        elif kind == 2 and earlier:
            graph[key] = Task(key, sum, [Ref(draw(st.sampled_from(earlier))), 1])
        else:
            func = draw(st.sampled_from(funcs))
            n_args = {inc: 1, add: 2, scale: 1}[func]
            args = [Ref(draw(st.sampled_from(earlier))) if earlier and draw(st.booleans()) else
                    draw(st.integers(-5, 5)) for _ in range(n_args)]
            kwargs = {"factor": draw(st.integers(0, 2))} if func is scale and draw(st.booleans()) else {}
            graph[key] = Task(key, func, *args, **kwargs)
    return graph


@settings(max_examples=60, deadline=None)
@given(random_graphs())
def test_random_graphs_round_trip(graph):
    back = through_wire(graph)
    assert set(back) == set(graph)
    for key, node in graph.items():
        other = back[key]
        assert type(other) is type(node) and other.dependencies == node.dependencies
        if isinstance(node, Task):
            assert other.args == node.args and other.kwargs == node.kwargs and other._mode == node._mode
        elif isinstance(node, DataNode):
            assert other.value == node.value
        else:
            assert other.target == node.target


@settings(max_examples=30, deadline=None)
@given(st.lists(literal_strategy, min_size=4, max_size=40))
def test_random_literal_columns_round_trip(values):
    graph = {("v", i): Task(("v", i), record, v, factor=v) for i, v in enumerate(values)}
    back = through_wire(graph)
    for key, node in graph.items():
        assert back[key].args == node.args and back[key].kwargs == node.kwargs
        assert [type(a) for a in back[key].args] == [type(a) for a in node.args]


# ---------------------------------------------------------------- errors
def test_unpicklable_argument_error_names_the_key():
    lock = threading.Lock()
    graph = {("x", i): Task(("x", i), scale, i, factor=1) for i in range(10)}
    graph[("x", 7)] = Task(("x", 7), scale, lock, factor=1)
    with pytest.raises(SerializationError, match=r"\('x', 7\).*argument 0.*lock"):
        graph_wire.encode(graph)


def test_unpicklable_function_error_names_the_key():
    lock = threading.Lock()

    class Holder:
        def __call__(self, x):
            return lock

    holder = Holder()
    graph = {f"h-{i}": Task(f"h-{i}", holder, i) for i in range(10)}
    with pytest.raises(SerializationError, match=r"'h-0'.*its function"):
        graph_wire.encode(graph)


def test_unpicklable_leftover_node_error_names_the_key():
    graph = {"ok": DataNode("ok", 1), "bad": DataNode("bad", threading.Lock())}
    with pytest.raises(SerializationError, match=r"'bad'.*cannot be pickled"):
        graph_wire.encode(graph)


def test_decode_refuses_what_is_not_a_wire_graph():
    with pytest.raises(ValueError, match="wire form"):
        graph_wire.decode({"x": 1})


# ---------------------------------------------------------------- end to end
@pytest.fixture
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False) as cluster, Client(cluster) as c:
        yield c


def test_large_map_through_the_client(client):
    n = 50_000
    futures = client.map(inc, range(n))
    assert client.gather(futures) == [i + 1 for i in range(n)]


def test_array_sum_of_many_chunks_through_the_client(client):
    import shoal.array as sa

    data = np.arange(20_000, dtype=np.int64)
    x = sa.from_array(data, chunks=10)
    assert client.compute((x + 1).sum(), sync=True) == int((data + 1).sum())


def test_unpicklable_argument_in_a_large_graph_on_an_inproc_cluster_still_runs(client):
    # In-process, the scheduler needs no pickling: the graph goes as it is.
    lock = threading.Lock()
    futures = client.map(lambda i, lk: i, range(100), [lock] * 100)
    assert client.gather(futures) == list(range(100))


def test_client_sends_large_graphs_in_wire_form_and_small_ones_as_they_are():
    small = {f"t-{i}": Task(f"t-{i}", inc, i) for i in range(3)}
    large = {f"t-{i}": Task(f"t-{i}", inc, i) for i in range(1000)}
    assert Client._graph_for_wire(small) is small
    wire = Client._graph_for_wire(large)
    assert graph_wire.is_wire_graph(wire) and wire["templates"][0]["n"] == 1000


def test_unpicklable_argument_on_a_pickling_cluster_fails_the_futures_naming_the_key():
    import shoal

    lock = threading.Lock()
    with shoal.config.set({"distributed.comm.inproc.serialize": True}):
        with LocalCluster(n_workers=1, threads_per_worker=1, processes=False) as cluster, Client(cluster) as c:
            args = list(range(100))
            args[42] = lock
            futures = c.map(record, args, key=[f"rec-{i}" for i in range(100)])
            with pytest.raises(SerializationError, match=r"'rec-42'.*argument 0.*lock"):
                futures[0].result(timeout=20)
