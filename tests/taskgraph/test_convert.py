"""Dask-style dict-of-tuples graphs, converted once into nodes."""

from __future__ import annotations

from operator import add, mul

import numpy as np

from shoal.schedulers.registry import get_scheduler
from shoal.taskgraph import Alias, DataNode, Fused, Ref, Task, convert_legacy_graph, ensure_graph


def inc(x):
    return x + 1


def run(graph, keys):
    return get_scheduler("sync")(graph, keys)


def test_literals_become_datanodes():
    values = {"i": 1, "s": "not a key", "t": (1, 2), "d": {"a": 1}, "l": [1, 2], "n": None}
    graph = convert_legacy_graph(values)
    for key, value in values.items():
        node = graph[key]
        assert type(node) is DataNode and node.key == key and node.value == value


def test_a_key_equal_to_its_own_value_is_a_literal():
    graph = convert_legacy_graph({"x": "x"})
    assert type(graph["x"]) is DataNode
    assert run(graph, "x") == "x"


def test_task_with_key_and_literal_arguments():
    graph = convert_legacy_graph({"x": 1, "y": (add, "x", 10), "z": (add, "y", "not-a-key")})
    assert type(graph["y"]) is Task
    assert graph["y"].dependencies == {"x"}
    assert graph["z"].dependencies == {"y"}
    assert run(graph, "y") == 1 + 10


def test_nested_tasks():
    graph = convert_legacy_graph({"x": 3, "y": (add, (mul, "x", (inc, "x")), 1)})
    assert graph["y"].dependencies == {"x"}
    assert run(graph, "y") == 3 * (3 + 1) + 1


def test_lists_of_keys_and_tasks_as_arguments():
    graph = convert_legacy_graph({"a": 1, "b": 2, "s": (sum, ["a", "b", (inc, "a"), 100])})
    assert graph["s"].dependencies == {"a", "b"}
    assert run(graph, "s") == 1 + 2 + (1 + 1) + 100


def test_nested_lists_of_keys():
    graph = convert_legacy_graph({"a": 1, "b": 2, "s": (lambda rows: [sum(r) for r in rows], [["a", "b"], ["b"]])})
    assert run(graph, "s") == [3, 2]


def test_top_level_list_of_keys_is_a_task():
    graph = convert_legacy_graph({"a": 1, "b": 2, "l": ["a", "b", 3], "m": [(inc, "a")]})
    assert graph["l"].dependencies == {"a", "b"}
    assert run(graph, ["l", "m"]) == [[1, 2, 3], [2]]


def test_aliases():
    graph = convert_legacy_graph({"a": 5, "b": "a", "c": "b"})
    assert type(graph["b"]) is Alias and graph["b"].target == "a"
    assert graph["c"].dependencies == {"b"}
    assert run(graph, ["a", "b", "c"]) == [5, 5, 5]


def test_tuple_keys():
    graph = convert_legacy_graph({
        ("x", 0): 1,
        ("x", 1): 2,
        ("y", 0): (inc, ("x", 0)),
        ("total", 0): (sum, [("x", 0), ("x", 1), ("y", 0)]),
        "alias": ("total", 0),
        "literal-tuple": ("x", 99),  # looks like a key but is not one in this graph
    })
    assert graph[("y", 0)].dependencies == {("x", 0)}
    assert type(graph["alias"]) is Alias
    assert type(graph["literal-tuple"]) is DataNode
    assert run(graph, ["alias", "literal-tuple"]) == [1 + 2 + (1 + 1), ("x", 99)]


def echo(*args):
    return args


def test_tuples_and_sets_are_searched_for_keys_and_tasks_but_dicts_are_not():
    # As current Dask does: a tuple that is neither a task nor a key, a set and
    # a frozenset have their keys replaced and their tasks run; a dict is literal.
    x, y = 3, 4
    graph = convert_legacy_graph({
        "x": x,
        "y": y,
        ("p", 0): ("x", 2),
        ("p", 1): ["x", ("y", "x")],
        ("p", 2): {"x", 10},
        ("p", 3): (echo, ("x", (add, "x", "y")), frozenset(["y"])),
        ("p", 4): (echo, (("x",),), {"x": "y"}),
        ("p", 5): (echo, ()),
    })
    assert graph[("p", 0)].dependencies == {"x"}
    assert graph[("p", 3)].dependencies == {"x", "y"}
    assert graph[("p", 4)].dependencies == {"x"}
    assert run(graph, [("p", i) for i in range(6)]) == [
        (x, 2),
        [x, (y, x)],
        {x, 10},
        echo((x, add(x, y)), frozenset([y])),
        echo(((x,),), {"x": "y"}),
        echo(()),
    ]


def test_unhashable_arguments_are_literals():
    arr = np.arange(3)
    graph = convert_legacy_graph({"a": (add, arr, 1), "d": (len, {"k": "v"})})
    assert graph["a"].dependencies == frozenset()
    np.testing.assert_array_equal(run(graph, "a"), arr + 1)
    assert run(graph, "d") == 1


def test_nodes_are_kept_and_rekeyed():
    existing = Task("x", add, 1, 2)
    other = DataNode("somewhere-else", 7)
    graph = convert_legacy_graph({"x": existing, "y": other, "z": (inc, "x")})
    assert graph["x"] is existing
    assert graph["y"].key == "y" and graph["y"]({}) == 7
    assert run(graph, ["z", "y"]) == [4, 7]


def test_ensure_graph_keeps_a_node_graph_and_converts_a_mixed_one():
    nodes = {"a": DataNode("a", 1), "b": Task("b", inc, Ref("a"))}
    assert ensure_graph(nodes) is nodes
    mixed = {"a": DataNode("a", 1), "b": (inc, "a")}
    converted = ensure_graph(mixed)
    assert converted is not mixed
    assert all(hasattr(node, "dependencies") for node in converted.values())
    assert run(mixed, "b") == 2


def test_fused_values_pass_through():
    fused = Fused("c", [Task("b", inc, Ref("a")), Task("c", inc, Ref("b"))])
    graph = convert_legacy_graph({"a": 1, "c": fused})
    assert graph["c"] is fused
    assert run(graph, "c") == 3
