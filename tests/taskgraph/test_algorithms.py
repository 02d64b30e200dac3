"""toposort, cull, fuse, inline and order: fixed cases and hypothesis properties.

The random graphs are DAGs of ``n`` nodes where node ``i`` depends on a
random subset of the nodes before it and computes the sum of its
dependencies plus its own constant; ``expected_values`` evaluates the same
DAG in plain Python, independently of shoal.
"""

from __future__ import annotations

import sys
from operator import add

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.schedulers.registry import get_scheduler
from shoal.taskgraph import (
    CycleError,
    DataNode,
    Fused,
    MissingDependencyError,
    MissingKeyError,
    Ref,
    Task,
    cull,
    fuse,
    inline,
    order,
    toposort,
)

PROPERTY_SETTINGS = settings(max_examples=50, deadline=None)


def key_of(i: int):
    # Mix string and tuple keys, as real graphs do.
    return ("node", i) if i % 2 else f"node-{i}"


def add_all(constant, *values):
    return constant + sum(values)


@st.composite
def random_dags(draw, max_nodes=25):
    """``(edges, constants)``: ``edges[i]`` is the sorted list of ``j < i`` node i reads."""
    n = draw(st.integers(min_value=1, max_value=max_nodes))
    edges = [sorted(draw(st.sets(st.integers(0, i - 1), max_size=4))) if i else [] for i in range(n)]
    constants = draw(st.lists(st.integers(-100, 100), min_size=n, max_size=n))
    return edges, constants


def build_graph(edges, constants) -> dict:
    graph = {}
    for i, deps in enumerate(edges):
        k = key_of(i)
        if deps:
            graph[k] = Task(k, add_all, constants[i], *[Ref(key_of(j)) for j in deps])
        else:
            graph[k] = DataNode(k, constants[i])
    return graph


def expected_values(edges, constants) -> list:
    values = []
    for i, deps in enumerate(edges):
        values.append(constants[i] + sum(values[j] for j in deps))
    return values


def ancestors(edges, roots) -> set:
    """Indices of ``roots`` and everything they depend on, by plain graph search."""
    found, stack = set(), list(roots)
    while stack:
        i = stack.pop()
        if i not in found:
            found.add(i)
            stack.extend(edges[i])
    return found


@st.composite
def dags_with_requests(draw):
    edges, constants = draw(random_dags())
    n = len(edges)
    requested = sorted(draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=min(n, 5))))
    return edges, constants, requested


def run_sync(graph, keys):
    return get_scheduler("sync")(graph, keys)


# --- properties ---------------------------------------------------------------


@PROPERTY_SETTINGS
@given(random_dags())
def test_toposort_lists_each_key_once_after_its_dependencies(dag):
    edges, constants = dag
    graph = build_graph(edges, constants)
    result = toposort(graph)
    assert len(result) == len(set(result)) == len(graph)
    assert set(result) == set(graph)
    position = {k: p for p, k in enumerate(result)}
    for i, deps in enumerate(edges):
        for j in deps:
            assert position[key_of(j)] < position[key_of(i)]


@PROPERTY_SETTINGS
@given(dags_with_requests())
def test_toposort_of_keys_lists_exactly_their_ancestors(case):
    edges, constants, requested = case
    graph = build_graph(edges, constants)
    result = toposort(graph, [key_of(i) for i in requested])
    assert sorted(map(str, result)) == sorted(str(key_of(i)) for i in ancestors(edges, requested))
    assert len(result) == len(set(result))


@PROPERTY_SETTINGS
@given(dags_with_requests())
def test_cull_keeps_exactly_the_ancestors(case):
    edges, constants, requested = case
    graph = build_graph(edges, constants)
    culled = cull(graph, [key_of(i) for i in requested])
    assert set(culled) == {key_of(i) for i in ancestors(edges, requested)}
    assert all(culled[k] is graph[k] for k in culled)


@PROPERTY_SETTINGS
@given(dags_with_requests())
def test_fuse_never_changes_results(case):
    edges, constants, requested = case
    graph = build_graph(edges, constants)
    keys = [key_of(i) for i in requested]
    fused = fuse(graph, keys=keys)
    values = expected_values(edges, constants)
    assert run_sync(graph, keys) == [values[i] for i in requested]
    assert run_sync(fused, keys) == [values[i] for i in requested]
    # Requested keys survive, and fusing only ever removes nodes.
    assert set(keys) <= set(fused) <= set(graph)


@PROPERTY_SETTINGS
@given(dags_with_requests())
def test_fuse_only_absorbs_tasks_with_a_single_dependent(case):
    edges, constants, requested = case
    graph = build_graph(edges, constants)
    fused = fuse(graph, keys=[key_of(i) for i in requested])
    dependents = {key_of(i): 0 for i in range(len(edges))}
    for deps in edges:
        for j in deps:
            dependents[key_of(j)] += 1
    for node in fused.values():
        if type(node) is Fused:
            for inner in node.nodes[:-1]:
                assert dependents[inner.key] == 1, "fusing a shared task would lose parallelism"


@PROPERTY_SETTINGS
@given(dags_with_requests(), st.data())
def test_inline_never_changes_results(case, data):
    edges, constants, requested = case
    graph = build_graph(edges, constants)
    keys = [key_of(i) for i in requested]
    targets = data.draw(st.sets(st.sampled_from(sorted(graph, key=str))), label="inlined keys")
    values = expected_values(edges, constants)
    expected = [values[i] for i in requested]
    inlined = inline(graph, keys=targets, output=keys)
    assert run_sync(inlined, keys) == expected
    assert not (set(inlined) & (targets - set(keys)))
    # The default inlines every DataNode.
    assert run_sync(inline(graph, output=keys), keys) == expected


@PROPERTY_SETTINGS
@given(random_dags())
def test_order_gives_distinct_priorities_after_dependencies(dag):
    edges, constants = dag
    graph = build_graph(edges, constants)
    priority = order(graph)
    assert set(priority) == set(graph)
    assert len(set(priority.values())) == len(graph)
    for i, deps in enumerate(edges):
        for j in deps:
            assert priority[key_of(i)] > priority[key_of(j)]


@PROPERTY_SETTINGS
@given(dags_with_requests())
def test_order_of_requested_keys_covers_the_whole_graph(case):
    edges, constants, requested = case
    graph = build_graph(edges, constants)
    priority = order(graph, [key_of(i) for i in requested])
    assert set(priority) == set(graph)
    assert len(set(priority.values())) == len(graph)
    for i, deps in enumerate(edges):
        for j in deps:
            assert priority[key_of(i)] > priority[key_of(j)]


# --- fixed cases ----------------------------------------------------------------


def chain(n: int) -> dict:
    graph = {("c", 0): DataNode(("c", 0), 0)}
    for i in range(1, n):
        graph[("c", i)] = Task(("c", i), add, Ref(("c", i - 1)), 1)
    return graph


def test_fuse_of_a_long_chain_is_one_node_and_runs():
    n = 20_000
    assert n > sys.getrecursionlimit()
    fused = fuse(chain(n), keys=[("c", n - 1)])
    assert list(fused) == [("c", n - 1)]
    assert type(fused[("c", n - 1)]) is Fused
    assert fused[("c", n - 1)]({}) == n - 1
    assert run_sync(fused, ("c", n - 1)) == n - 1


def test_long_chain_algorithms_do_not_recurse():
    n = 20_000
    graph = chain(n)
    assert toposort(graph)[-1] == ("c", n - 1)
    assert len(cull(graph, [("c", n - 1)])) == n
    assert order(graph)[("c", n - 1)] == n - 1
    assert list(inline(graph, keys=[("c", 0)], output=[("c", n - 1)]))[0] == ("c", 1)


def test_fuse_keeps_requested_keys_and_shared_tasks():
    graph = {
        "a": DataNode("a", 1),
        "b": Task("b", add, Ref("a"), 1),  # requested: never fused away
        "c": Task("c", add, Ref("b"), 1),
        "d": Task("d", add, Ref("c"), Ref("c")),
        "shared": Task("shared", add, Ref("a"), 10),
        "e": Task("e", add, Ref("shared"), 1),
        "f": Task("f", add, Ref("shared"), 2),
    }
    # "a" has two dependents ("b" and "shared"), so it stays on its own.
    fused = fuse(graph, keys=["b", "d", "e", "f"])
    assert set(fused) == {"a", "b", "d", "shared", "e", "f"}
    assert run_sync(fused, ["b", "d", "e", "f"]) == [2, 6, 12, 13]


def test_fuse_without_chains_returns_an_equal_graph():
    graph = {"a": DataNode("a", 1), "b": DataNode("b", 2), "c": Task("c", add, Ref("a"), Ref("b"))}
    assert fuse(graph) == graph


def test_inline_datanodes_become_literals():
    graph = {"x": DataNode("x", 5), "y": Task("y", add, Ref("x"), 2), "z": Task("z", add, Ref("y"), Ref("x"))}
    new = inline(graph, output=["z"])
    assert set(new) == {"y", "z"}
    assert new["y"].dependencies == frozenset()
    assert run_sync(new, "z") == (5 + 2) + 5


def test_inline_tasks_become_inline_calls():
    graph = {"x": DataNode("x", 5), "y": Task("y", add, Ref("x"), 2), "z": Task("z", add, Ref("y"), Ref("y"))}
    new = inline(graph, keys=["y"], output=["z"])
    assert set(new) == {"x", "z"}
    assert new["z"].dependencies == {"x"}
    assert run_sync(new, "z") == 14


def test_order_finishes_a_branch_before_opening_the_next():
    # Two independent branches of three steps each, joined at the end.
    graph = {}
    for branch in "ab":
        graph[(branch, 0)] = DataNode((branch, 0), 1)
        for i in (1, 2):
            graph[(branch, i)] = Task((branch, i), add, Ref((branch, i - 1)), 1)
    graph["join"] = Task("join", add, Ref(("a", 2)), Ref(("b", 2)))
    priority = order(graph)
    ranked = sorted(graph, key=priority.get)
    first = ranked[0][0]
    assert [k[0] for k in ranked[:3]] == [first] * 3
    assert ranked[-1] == "join"


def test_order_follows_the_requested_output_order():
    graph = {"a": DataNode("a", 1), "b": DataNode("b", 2)}
    assert order(graph, ["b", "a"]) == {"b": 0, "a": 1}
    assert order(graph, ["a", "b"]) == {"a": 0, "b": 1}


@pytest.mark.parametrize("algorithm", [toposort, order])
def test_cycles_are_named(algorithm):
    graph = {
        "start": DataNode("start", 0),
        "a": Task("a", add, Ref("start"), Ref("c")),
        "b": Task("b", add, Ref("a"), 1),
        "c": Task("c", add, Ref("b"), 1),
        "end": Task("end", add, Ref("c"), 1),
    }
    with pytest.raises(CycleError) as info:
        algorithm(graph)
    assert set(info.value.cycle) == {"a", "b", "c"}
    for k in ("'a'", "'b'", "'c'"):
        assert k in str(info.value)


@pytest.mark.parametrize("algorithm", [toposort, order, cull])
def test_missing_dependency_is_named(algorithm):
    graph = {"a": Task("a", add, Ref("gone"), 1)}
    with pytest.raises(MissingDependencyError) as info:
        algorithm(graph, ["a"])
    assert info.value.missing == "gone" and info.value.needed_by == "a"
    assert "'gone'" in str(info.value) and "'a'" in str(info.value)


@pytest.mark.parametrize("algorithm", [toposort, order, cull])
def test_missing_requested_key_is_named(algorithm):
    graph = {"x": DataNode("x", 1)}
    with pytest.raises(MissingKeyError, match="'nope'") as info:
        algorithm(graph, ["x", "nope"])
    assert info.value.missing == ["nope"]


@pytest.mark.parametrize("algorithm", [toposort, order, cull])
def test_unhashable_requested_key_is_named(algorithm):
    # A dict cannot be a key: the error says which value and what keys look like,
    # rather than Python's bare "unhashable type".
    graph = {"x": DataNode("x", 1)}
    with pytest.raises(TypeError, match=r"Requested key \{'k': 1\} \(dict\) cannot be a key"):
        algorithm(graph, ["x", {"k": 1}])


@pytest.mark.parametrize("requested", [["x"], ["a"], ["x", "y"]])
def test_fuse_reports_a_cycle_instead_of_hiding_it(requested):
    # "a" <-> "b" is a chain that closes on itself; fusing it into one node would
    # drop the edge that makes the cycle and fail later with a bare KeyError.
    graph = {
        "x": Task("x", add, Ref("a"), 1),
        "y": Task("y", add, Ref("a"), 2),
        "a": Task("a", add, Ref("b"), 1),
        "b": Task("b", add, Ref("a"), 1),
    }
    graph = cull(graph, requested)
    with pytest.raises(CycleError) as info:
        fuse(graph, keys=requested)
    assert set(info.value.cycle) == {"a", "b"}


@pytest.mark.parametrize(
    "graph",
    [
        {"a": Task("a", add, Ref("b"), 1), "b": Task("b", add, Ref("a"), 1)},
        {"x": DataNode("x", 1), "a": Task("a", add, Ref("b"), 1), "b": Task("b", add, Ref("a"), 1)},
        {"d": DataNode("d", 1), "a": Task("a", add, Ref("b"), Ref("d")), "b": Task("b", add, Ref("a"), 1)},
    ],
    ids=["only-a-cycle", "cycle-beside-a-dag", "cycle-over-a-dag"],
)
def test_order_without_keys_reports_a_cycle_no_output_reaches(graph):
    # No key of the cycle lacks dependents, so no default output leads to it:
    # order() must still report it rather than return a partial priority map.
    with pytest.raises(CycleError) as info:
        order(graph)
    assert set(info.value.cycle) == {"a", "b"}
