"""The graph model: nodes, their dependencies, running them, pickling them."""

from __future__ import annotations

import pickle
from operator import add, mul

import cloudpickle
import pytest

from shoal.taskgraph import Alias, DataNode, Fused, Ref, Task, is_valid_key, key_prefix
from shoal.taskgraph.core import dependents_of


def collect(*args, **kwargs):
    """Return exactly what it was given, so tests can see substituted arguments."""
    return args, kwargs


# --- keys ------------------------------------------------------------------


def test_valid_keys():
    assert is_valid_key("x")
    assert is_valid_key(("x", 0, 1))
    assert not is_valid_key(())
    assert not is_valid_key((1, 2))
    assert not is_valid_key(3)


def test_key_prefix_strips_only_tokens():
    assert key_prefix(("sum-0123456789abcdef", 3)) == "sum"
    assert key_prefix("read-csv-0123456789abcdef") == "read-csv"
    # Too short or not hexadecimal: part of the name, not a token.
    assert key_prefix("x-12") == "x-12"
    assert key_prefix("my-data") == "my-data"


# --- construction and dependencies -------------------------------------------


def test_ref_equality_and_hash():
    assert Ref("a") == Ref("a")
    assert Ref("a") != Ref("b")
    assert Ref(("a", 1)) != ("a", 1)
    assert len({Ref("a"), Ref("a"), Ref(("a", 0))}) == 2


def test_datanode():
    node = DataNode("x", [1, 2])
    assert node.dependencies == frozenset()
    assert node({}) == [1, 2]


def test_alias():
    node = Alias("y", "x")
    assert node.dependencies == {"x"}
    assert node({"x": 5}) == 5


def test_task_without_references():
    task = Task("t", add, 1, 2)
    assert task.dependencies == frozenset()
    assert task({}) == 3


def test_task_top_level_refs_and_kwargs():
    task = Task("t", collect, Ref("a"), 2, key=Ref("b"), other="plain")
    assert task.dependencies == {"a", "b"}
    assert task({"a": 1, "b": 10}) == ((1, 2), {"key": 10, "other": "plain"})


def test_task_nested_refs_in_every_container():
    task = Task(
        "t", collect,
        [Ref("a"), (Ref("b"), 1)],
        {"k": Ref("c"), "deep": [{"x": Ref("d")}]},
        {Ref("e")},
        frozenset({Ref("f")}),
    )
    assert task.dependencies == {"a", "b", "c", "d", "e", "f"}
    data = {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6}
    args, kwargs = task(data)
    assert args == ([1, (2, 1)], {"k": 3, "deep": [{"x": 4}]}, {5}, frozenset({6}))
    assert kwargs == {}
    # Container types survive substitution.
    assert type(args[0]) is list and type(args[0][1]) is tuple and type(args[3]) is frozenset


def test_task_inline_task_dependencies_and_execution():
    inner = Task(None, mul, Ref("a"), 3)
    outer = Task("t", add, inner, [Task(None, add, Ref("b"), 1)][0])
    assert outer.dependencies == {"a", "b"}
    assert outer({"a": 2, "b": 10}) == 2 * 3 + (10 + 1)


def test_task_inline_task_inside_container():
    task = Task("t", sum, [Task(None, mul, Ref("a"), 2), Ref("b"), 5])
    assert task.dependencies == {"a", "b"}
    assert task({"a": 3, "b": 4}) == 3 * 2 + 4 + 5


def test_task_leaves_other_objects_alone():
    class Box:
        def __init__(self):
            self.ref = Ref("hidden")  # inside an opaque object: not a dependency

    box = Box()
    task = Task("t", collect, box)
    assert task.dependencies == frozenset()
    assert task({})[0][0] is box


def test_task_rejects_non_callable():
    with pytest.raises(TypeError, match="'t'.*callable"):
        Task("t", 42)


def test_task_deeply_nested_literal_does_not_recurse_at_construction():
    value: list = []
    for _ in range(5_000):
        value = [value]
    task = Task("t", len, value)
    assert task.dependencies == frozenset()


def test_dependents_of():
    graph = {
        "a": DataNode("a", 1),
        "b": Task("b", add, Ref("a"), 1),
        "c": Task("c", add, Ref("a"), Ref("b")),
    }
    assert dependents_of(graph) == {"a": {"b", "c"}, "b": {"c"}, "c": set()}


# --- Fused -----------------------------------------------------------------


def test_fused_runs_a_chain_and_reports_outer_dependencies():
    nodes = [
        Task("b", add, Ref("a"), 1),
        Task("c", mul, Ref("b"), 10),
        Task("d", add, Ref("c"), Ref("b")),
    ]
    fused = Fused("d", nodes)
    assert fused.dependencies == {"a"}
    b = 5 + 1
    assert fused({"a": 5}) == b * 10 + b


def test_fused_needs_nodes():
    with pytest.raises(ValueError, match="'x'.*at least one"):
        Fused("x", [])


def test_fused_long_chain_runs_without_recursion():
    n = 20_000
    nodes = [DataNode(("c", 0), 0)] + [Task(("c", i), add, Ref(("c", i - 1)), 1) for i in range(1, n)]
    assert Fused(("c", n - 1), nodes)({}) == n - 1


# --- pickling ---------------------------------------------------------------


def _round_trips(node):
    return [pickle.loads(pickle.dumps(node)), cloudpickle.loads(cloudpickle.dumps(node))]


@pytest.mark.parametrize(
    "node, data",
    [
        (DataNode("x", {"a": [1, 2]}), {}),
        (Alias(("y", 1), "x"), {"x": 3}),
        (Task("t", add, Ref("a"), 2), {"a": 40}),
        (Task("t", collect, [Ref("a"), {"k": Ref("b")}], opt=Ref("a")), {"a": 1, "b": 2}),
        (Task("t", add, Task(None, mul, Ref("a"), 2), 1), {"a": 4}),
        (Fused("c", [Task("b", add, Ref("a"), 1), Task("c", mul, Ref("b"), 3)]), {"a": 1}),
    ],
    ids=["datanode", "alias", "task", "nested-task", "inline-task", "fused"],
)
def test_pickle_round_trip(node, data):
    for copy in _round_trips(node):
        assert type(copy) is type(node)
        assert copy.key == node.key
        assert copy.dependencies == node.dependencies
        assert copy(data) == node(data)


def test_cloudpickle_round_trip_of_a_lambda_task():
    offset = 7
    node = Task("t", lambda x: x + offset, Ref("a"))
    copy = cloudpickle.loads(cloudpickle.dumps(node))
    assert copy({"a": 1}) == 1 + offset


# --- substitute -------------------------------------------------------------


def test_substitute_with_a_ref_renames_the_dependency():
    task = Task("t", add, Ref("a"), [Ref("a")][0])
    new = task.substitute({"a": Ref("z")})
    assert new.dependencies == {"z"}
    assert new({"z": 2}) == 4
    assert task.dependencies == {"a"}  # the original is unchanged


def test_substitute_with_a_datanode_inlines_the_literal():
    task = Task("t", collect, Ref("a"), [Ref("a"), Ref("b")])
    new = task.substitute({"a": DataNode("a", 10)})
    assert new.dependencies == {"b"}
    assert new({"b": 1}) == ((10, [10, 1]), {})


def test_substitute_with_a_task_inlines_the_call():
    task = Task("t", add, Ref("a"), 1)
    new = task.substitute({"a": Task("a", mul, Ref("x"), 3)})
    assert new.dependencies == {"x"}
    assert new({"x": 2}) == 2 * 3 + 1


def test_substitute_changes_the_key():
    task = Task("t", add, Ref("a"), 1)
    new = task.substitute({}, key="u")
    assert new.key == "u" and task.key == "t"
    assert new({"a": 1}) == 2
    assert DataNode("x", 1).with_key("y").key == "y"


def test_substitute_untouched_returns_the_same_node():
    task = Task("t", add, Ref("a"), 1)
    assert task.substitute({"other": Ref("z")}) is task


def test_substitute_alias():
    alias = Alias("y", "x")
    assert alias.substitute({"x": Ref("z")}).dependencies == {"z"}
    as_data = alias.substitute({"x": DataNode("x", 5)})
    assert as_data.key == "y" and as_data({}) == 5
    as_task = alias.substitute({"x": Task("x", add, Ref("w"), 1)})
    assert as_task.key == "y" and as_task({"w": 1}) == 2


def test_substitute_fused_keeps_inner_references():
    fused = Fused("c", [Task("b", add, Ref("a"), 1), Task("c", mul, Ref("b"), 3)])
    # "b" is inner: a replacement for it must not reach inside.
    new = fused.substitute({"a": DataNode("a", 4), "b": DataNode("b", 1000)})
    assert new.dependencies == frozenset()
    assert new({}) == (4 + 1) * 3
