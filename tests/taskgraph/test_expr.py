"""The expression layer, exercised through toy collections of Python records.

The toy classes below are the smallest plausible subclasses: a reader of
in-memory records that can read a subset of columns, elementwise maps and
filters, a projection, a hash shuffle, and reductions. Every computed result
is compared with the same computation done in plain Python.
"""

from __future__ import annotations

import functools
import os
import pickle
import subprocess
import sys
import textwrap

import pytest

from shoal.schedulers import get_scheduler
from shoal.taskgraph import DataNode, Ref, Task
from shoal.taskgraph.expr import Expr, RewriteDidNotConverge, optimize
from shoal.taskgraph.protocol import collections_to_graph, finalize, is_collection

# ------------------------------------------------------------------ partition functions


def split(data, n):
    """``data`` cut into ``n`` contiguous chunks (the first ones one longer)."""
    size, extra = divmod(len(data), n)
    chunks, start = [], 0
    for i in range(n):
        stop = start + size + (1 if i < extra else 0)
        chunks.append(list(data[start:stop]))
        start = stop
    return chunks


def map_partition(func, part):
    return [func(x) for x in part]


def filter_partition(predicate, part):
    return [x for x in part if predicate(x)]


def read_records(rows, columns):
    # The toy "file format": a reader asked for fewer columns returns less.
    return [{c: row[c] for c in columns} for row in rows]


def project_partition(columns, part):
    return [{c: row[c] for c in columns} for row in part]


def shuffle_select(parts, on, index, n):
    return [row for part in parts for row in part if row[on] % n == index]


def group_sum_partition(on, value, part):
    out = {}
    for row in part:
        out[row[on]] = out.get(row[on], 0) + row[value]
    return out


def sum_partitions(parts):
    return sum(x for part in parts for x in part)


def apply_in_order(funcs, x):
    for func in funcs:
        x = func(x)
    return x


def inc(x):
    return x + 1


def double(x):
    return 2 * x


def dec(x):
    return x - 1


def is_even(x):
    return x % 2 == 0


def is_odd(x):
    return x % 2 == 1


# ------------------------------------------------------------------ toy expressions


class FromSequence(Expr):
    _parameters = ["data", "npartitions"]
    _defaults = {"npartitions": 1}

    def _explain_args(self):
        return {}

    def _task(self, index):
        return DataNode(self._key(index), split(self.data, self.npartitions)[index])


class ReadRecords(Expr):
    """Reads ``rows`` (a tuple of dicts); ``columns=None`` reads every column."""

    _parameters = ["rows", "columns", "npartitions"]
    _defaults = {"columns": None, "npartitions": 2}

    def _explain_args(self):
        return {"columns": self.read_columns}

    @property
    def read_columns(self):
        return list(self.columns) if self.columns is not None else sorted(self.rows[0])

    def _task(self, index):
        rows = split(self.rows, self.npartitions)[index]
        return Task(self._key(index), read_records, rows, self.read_columns)

    def _simplify_up(self, parent, dependents):
        # Projection pushdown: read only the columns that the projections
        # above need. When several projections share this reader, it reads
        # the union of their columns, and each keeps its own projection.
        if not isinstance(parent, Projection):
            return None
        readers = dependents[self._name] or [parent]
        if not all(isinstance(p, Projection) for p in readers):
            return None
        needed = [c for c in self.read_columns if any(c in p.columns for p in readers)]
        reader = self.replace(columns=needed)
        if list(parent.columns) == needed:
            return reader
        return Projection(reader, parent.columns)


class Map(Expr):
    _parameters = ["frame", "func"]

    def _task(self, index):
        return Task(self._key(index), map_partition, self.func, Ref(self.frame._key(index)))


class Filter(Expr):
    _parameters = ["frame", "predicate"]

    def _task(self, index):
        return Task(self._key(index), filter_partition, self.predicate, Ref(self.frame._key(index)))


class Projection(Expr):
    _parameters = ["frame", "columns"]

    def _simplify_down(self):
        if isinstance(self.frame, Projection):  # the outer projection wins
            return Projection(self.frame.frame, self.columns)
        return None

    def _task(self, index):
        return Task(self._key(index), project_partition, list(self.columns), Ref(self.frame._key(index)))


class Shuffle(Expr):
    """Rows moved so that partition ``i`` holds the rows whose ``on`` value is ``i`` mod n."""

    _parameters = ["frame", "on", "npartitions"]
    _is_shuffle = True

    def _simplify_down(self):
        # Shuffling data already shuffled the same way changes nothing.
        inner = self.frame
        if isinstance(inner, Shuffle) and (inner.on, inner.npartitions) == (self.on, self.npartitions):
            return inner
        return None

    def _task(self, index):
        parts = [Ref(k) for k in self.frame._keys()]
        return Task(self._key(index), shuffle_select, parts, self.on, index, self.npartitions)


class Repartition(Expr):
    """Logical: "partition by ``on``"; lowers to a Shuffle."""

    _parameters = ["frame", "on", "npartitions"]

    def _lower(self):
        return Shuffle(self.frame, self.on, self.npartitions)


class GroupSum(Expr):
    """Logical: ``{key: sum of value}`` per key; lowers to a partial sum per shuffled partition."""

    _parameters = ["frame", "on", "value", "npartitions"]
    _defaults = {"npartitions": 4}

    def _lower(self):
        # Lowers to another logical node (Repartition), which lowers again:
        # lowering must run until nothing changes.
        return PartitionGroupSum(Repartition(self.frame, self.on, self.npartitions), self.on, self.value)


class PartitionGroupSum(Expr):
    _parameters = ["frame", "on", "value"]

    def _task(self, index):
        return Task(self._key(index), group_sum_partition, self.on, self.value, Ref(self.frame._key(index)))


class Sum(Expr):
    _parameters = ["frame"]

    @property
    def npartitions(self):
        return 1

    def _task(self, index):
        return Task(self._key(index), sum_partitions, [Ref(k) for k in self.frame._keys()])


def run(expr):
    """Every partition of ``expr``, computed from its emitted graph on the sync scheduler."""
    graph = expr.__shoal_graph__()
    return get_scheduler("sync")(graph, expr._keys())


def flat(parts):
    return [x for part in parts for x in part]


# ------------------------------------------------------------------ construction and identity


def test_operands_by_position_name_and_default():
    data = [1, 2, 3]
    a = FromSequence(data, 2)
    assert a.data is data and a.npartitions == 2
    assert a.operands == (data, 2)
    assert FromSequence(data).npartitions == 1  # from _defaults
    assert FromSequence(data, npartitions=2) == a
    m = Map(a, inc)
    assert m.frame is a and m.func is inc and m.operand("func") is inc
    assert m.npartitions == 2  # inherited from the first dependency


def test_construction_errors_name_the_operand():
    with pytest.raises(TypeError, match="missing the operand 'func'"):
        Map(FromSequence([1]))
    with pytest.raises(TypeError, match="'fn' is not a parameter"):
        Map(FromSequence([1]), fn=inc)
    with pytest.raises(TypeError, match="at most 2 operands"):
        Map(FromSequence([1]), inc, double)
    with pytest.raises(AttributeError, match="no attribute 'colums'.*'frame', 'columns'"):
        Projection(FromSequence([1]), ["a"]).colums


def test_a_parameter_may_not_shadow_an_expr_method():
    with pytest.raises(TypeError, match=r"\['walk'\] clash"):
        type("Bad", (Expr,), {"_parameters": ["frame", "walk"]})
    with pytest.raises(TypeError, match="_defaults names"):
        type("Bad", (Expr,), {"_parameters": ["frame"], "_defaults": {"x": 1}})


def test_expressions_are_immutable():
    m = Map(FromSequence([1, 2]), inc)
    with pytest.raises(AttributeError, match=r"immutable.*replace\(func=\.\.\.\)"):
        m.func = double
    with pytest.raises(AttributeError, match="immutable"):
        m.anything = 1
    with pytest.raises(AttributeError, match="immutable"):
        del m.operands
    name = m._name
    changed = m.replace(func=double)
    assert changed.func is double and m.func is inc and m._name == name
    assert m.replace(func=inc) is m  # nothing changed: the same node


def test_name_is_deterministic_and_distinguishes_operands():
    data = [1, 2, 3]
    a, b = Map(FromSequence(data, 2), inc), Map(FromSequence(list(data), 2), inc)
    assert a is not b and a._name == b._name and a == b and hash(a) == hash(b)
    assert a._name.startswith("map-")
    assert FromSequence(data, 2)._name.startswith("from-sequence-")
    different = [
        Map(FromSequence(data, 2), double),  # another function
        Map(FromSequence(data, 3), inc),  # another partitioning below
        Map(FromSequence([1, 2, 4], 2), inc),  # other data below
        Filter(FromSequence(data, 2), inc),  # another class, same operands
    ]
    names = {a._name} | {e._name for e in different}
    assert len(names) == 1 + len(different)
    assert a._name == a._name  # cached: the same string object each time
    assert a.__dict__["_cached_name"] is a._name


def test_name_is_the_same_in_another_process():
    # Names are graph keys, so two processes that build the same plan must
    # agree on them whatever their hash seeds.
    program = textwrap.dedent(
        """
        from shoal.taskgraph.expr import Expr
        class Scale(Expr):
            _parameters = ["frame", "factor"]
        class Source(Expr):
            _parameters = ["values", "npartitions"]
        print(Scale(Source({"b": [1.5, None], "a": (2, "x")}, 3), 10)._name)
        """
    )
    names = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        names.add(out.stdout.strip())
    assert len(names) == 1 and names.pop().startswith("scale-")


def test_pickle_round_trip_keeps_the_name():
    m = Map(FromSequence([1, 2, 3], 2), inc)
    again = pickle.loads(pickle.dumps(m))
    assert again == m and again.func is inc


# ------------------------------------------------------------------ structure and traversal


def test_dependencies_include_expressions_inside_lists_and_tuples_once():
    a, b = FromSequence([1], 1), FromSequence([2], 1)

    class Concat(Expr):
        _parameters = ["frames", "label"]

    c = Concat([a, (b, [a]), "not an expr"], "x")
    assert c.dependencies() == [a, b]
    assert Map(a, inc).dependencies() == [a]
    assert a.dependencies() == []


def test_walk_visits_shared_nodes_once_parents_first():
    source = FromSequence([1, 2, 3, 4], 2)
    left, right = Map(source, inc), Map(source, double)

    class Zip(Expr):
        _parameters = ["left", "right"]

    root = Zip(left, right)
    order = list(root.walk())
    assert [type(n).__name__ for n in order] == ["Zip", "Map", "FromSequence", "Map"]
    assert len(order) == len({n._name for n in order}) == 4
    assert order.index(source) > order.index(left)
    # The same holds when the shared node is two different (equal) objects.
    root2 = Zip(Map(FromSequence([1, 2, 3, 4], 2), inc), Map(FromSequence([1, 2, 3, 4], 2), double))
    assert len(list(root2.walk())) == 4
    assert list(root2.find_operations(Map)) == [left, right]


def deep_chain(depth, data=(1, 2, 3, 4, 5), npartitions=2):
    expr = FromSequence(list(data), npartitions)
    for i in range(depth):
        expr = Map(expr, inc if i % 2 == 0 else double)
    return expr


def test_deep_chains_need_no_recursion():
    depth = 5_000
    expr = deep_chain(depth)
    assert depth > sys.getrecursionlimit()
    nodes = list(expr.walk())
    assert len(nodes) == depth + 1
    assert len({n._name for n in nodes}) == depth + 1
    assert expr.tree_repr().count("\n") == depth
    graph = expr.__shoal_graph__()
    assert len(graph) == (depth + 1) * expr.npartitions
    assert expr.simplify() is expr  # no hook changes anything: the same plan back


def test_tree_repr_shows_operands_and_shared_nodes_once():
    source = FromSequence([1, 2], 2)

    class Zip(Expr):
        _parameters = ["left", "right"]

    text = repr(Zip(Map(source, inc), Filter(source, is_even)))
    assert text.splitlines() == [
        "Zip",
        "  Map func=inc",
        "    FromSequence",
        "  Filter predicate=is_even",
        "    FromSequence (shared, shown above)",
    ]


def test_substitute_operands_and_substitute():
    a, b = FromSequence([1, 2], 2), FromSequence([3, 4], 2)
    m = Map(Map(a, inc), double)
    assert m.frame.substitute_operands({a: b}) == Map(b, inc)
    assert m.substitute_operands({a: b}) is m  # only direct operands are looked at
    assert m.substitute(a, b) == Map(Map(b, inc), double)
    assert m.substitute(Map(a, inc), a) == Map(a, double)
    assert m.substitute(FromSequence([9], 1), b) is m


# ------------------------------------------------------------------ rewriting


def pipeline(func):
    """The functions ``func`` applies, in order (a fused map's, or just ``func``)."""
    if isinstance(func, functools.partial) and func.func is apply_in_order:
        return func.args[0]
    return (func,)


def fuse_maps(node):
    # A flat tuple of functions rather than nested compositions, so that a
    # fused chain of thousands of maps is still shallow to tokenize and call.
    if isinstance(node, Map) and isinstance(node.frame, Map):
        inner = node.frame
        funcs = pipeline(inner.func) + pipeline(node.func)
        return Map(inner.frame, functools.partial(apply_in_order, funcs))
    return None


def test_rewrite_fuses_maps_and_the_graph_computes_the_same_values():
    data = list(range(10))
    expr = Map(Map(FromSequence(data, 3), inc), double)
    fused = expr.rewrite(fuse_maps)
    assert [type(n).__name__ for n in fused.walk()] == ["Map", "FromSequence"]
    assert flat(run(fused)) == [double(inc(x)) for x in data]
    assert flat(run(expr)) == [double(inc(x)) for x in data]
    assert fused.rewrite(fuse_maps) is fused  # already at the fixed point


def test_rewrite_of_a_deep_chain_needs_no_recursion():
    data = [1, 2, 3, 4, 5]
    depth = 5_000

    def inc_to_dec(node):
        return node.replace(func=dec) if isinstance(node, Map) and node.func is inc else None

    out = deep_chain(depth, data).rewrite(inc_to_dec)
    funcs = [node.func for node in out.find_operations(Map)]
    assert len(funcs) == depth and set(funcs) == {dec, double}
    expected = []
    for x in data:
        for i in range(depth):
            x = dec(x) if i % 2 == 0 else double(x)
        expected.append(x)
    assert flat(run(out)) == expected


def test_fusing_a_long_chain_leaves_one_map():
    data = [1, 2, 3, 4, 5]
    # Each fused Map tokenizes all its functions, so fusing n maps costs
    # O(n**2) in tokenizing: keep n moderate.
    depth = 1_000
    fused = deep_chain(depth, data).rewrite(fuse_maps)
    assert len(list(fused.walk())) == 2
    assert len(pipeline(fused.func)) == depth
    expected = []
    for x in data:
        for i in range(depth):
            x = inc(x) if i % 2 == 0 else double(x)
        expected.append(x)
    assert flat(run(fused)) == expected


def test_rewrite_handles_shared_subtrees_once():
    calls = []
    source = FromSequence([1, 2, 3], 1)
    shared = Map(Map(source, inc), inc)

    class Zip(Expr):
        _parameters = ["left", "right"]

    def counting_fuse(node):
        calls.append(type(node).__name__)
        return fuse_maps(node)

    out = Zip(Filter(shared, is_even), Filter(shared, is_odd)).rewrite(counting_fuse, max_passes=10)
    fused = out.left.frame
    assert fused == out.right.frame and isinstance(fused.frame, FromSequence)
    # Each pass offers each distinct node to the rule once: Zip, two Filters,
    # two Maps, FromSequence in the first; four nodes in the second (no change).
    assert sorted(calls) == sorted(["Zip", "Filter", "Filter", "Map", "Map", "FromSequence"]
                                   + ["Zip", "Filter", "Filter", "Map", "FromSequence"])
    assert flat(run(out.left)) == [x for x in (3, 4, 5) if is_even(x)]


def test_non_converging_rule_raises_a_clear_error():
    def flip_flop(node):
        if isinstance(node, Map):
            return Map(node.frame, dec if node.func is inc else inc)
        return None

    expr = Map(FromSequence([1], 1), inc)
    with pytest.raises(RewriteDidNotConverge, match="flip_flop did not reach a fixed point after 7 passes") as info:
        expr.rewrite(flip_flop, max_passes=7)
    assert info.value.rule.endswith("flip_flop")
    assert "func=dec" in str(info.value) or "func=inc" in str(info.value)

    def grow(node):
        return Map(node, inc) if isinstance(node, FromSequence) else None

    with pytest.raises(RewriteDidNotConverge, match="grow"):
        expr.rewrite(grow, max_passes=5)


def test_a_rule_returning_something_else_is_an_error():
    with pytest.raises(TypeError, match="returned int.*must return an Expr, or None"):
        FromSequence([1]).rewrite(lambda node: 3)


# ------------------------------------------------------------------ simplify, lower, optimize

ROWS = tuple({"a": i, "b": 10 * i, "c": -i} for i in range(7))


def test_projection_pushdown_makes_the_reader_read_fewer_columns():
    expr = Projection(ReadRecords(ROWS), ["a"])
    assert expr.frame.read_columns == ["a", "b", "c"]
    simplified = expr.simplify()
    assert isinstance(simplified, ReadRecords)  # the projection was absorbed
    assert simplified.read_columns == ["a"]
    # The emitted tasks themselves ask for one column.
    tasks = simplified.__shoal_graph__().values()
    assert [t.args[1] for t in tasks] == [["a"], ["a"]]
    expected = [{"a": row["a"]} for row in ROWS]
    assert flat(run(simplified)) == expected == flat(run(expr))


def test_projection_pushdown_reads_the_union_for_shared_readers():
    reader = ReadRecords(ROWS, npartitions=3)

    class Zip(Expr):
        _parameters = ["left", "right"]

    expr = Zip(Projection(reader, ["a"]), Projection(reader, ["b"]))
    out = expr.simplify()
    readers = list(out.find_operations(ReadRecords))
    assert len(readers) == 1 and readers[0].read_columns == ["a", "b"]  # "c" is never read
    assert out.left.columns == ["a"] and out.right.columns == ["b"]
    assert flat(run(out.left)) == [{"a": r["a"]} for r in ROWS]
    assert flat(run(out.right)) == [{"b": r["b"]} for r in ROWS]


def test_simplify_down_merges_projections_then_pushes_them_down():
    expr = Projection(Projection(ReadRecords(ROWS), ["a", "b"]), ["b"])
    out = expr.simplify()
    assert out == ReadRecords(ROWS, ["b"])
    assert flat(run(out)) == [{"b": r["b"]} for r in ROWS]


def test_simplify_removes_a_redundant_shuffle():
    source = ReadRecords(ROWS)
    expr = Shuffle(Shuffle(source, "a", 3), "a", 3)
    assert expr.simplify() == Shuffle(source, "a", 3)
    assert Shuffle(Shuffle(source, "a", 3), "b", 3).simplify().frame.on == "a"  # a different key stays


def test_lowering_runs_until_every_node_is_physical():
    expr = GroupSum(ReadRecords(ROWS, npartitions=3), "a", "b", npartitions=2)
    once = expr.lower_once()
    assert isinstance(once, PartitionGroupSum) and isinstance(once.frame, Repartition)
    lowered = expr.lower_completely()
    assert [type(n).__name__ for n in lowered.walk()] == ["PartitionGroupSum", "Shuffle", "ReadRecords"]
    partials = run(lowered)
    combined = {}
    for part in partials:
        assert not combined.keys() & part.keys()  # the shuffle put each key in one partition
        combined.update(part)
    expected = {}
    for row in ROWS:
        expected[row["a"]] = expected.get(row["a"], 0) + row["b"]
    assert combined == expected


def test_optimize_is_simplify_then_lower_and_is_cached():
    expr = GroupSum(Projection(ReadRecords(ROWS), ["a", "b"]), "a", "b")
    out = optimize(expr)
    assert out is expr.optimize()
    reader = next(out.find_operations(ReadRecords))
    assert reader.read_columns == ["a", "b"]
    assert not list(out.find_operations(Projection, GroupSum, Repartition))


def test_npartitions_and_keys():
    expr = Map(FromSequence([1, 2, 3], 3), inc)
    assert expr.npartitions == 3
    assert expr._keys() == [(expr._name, i) for i in range(3)]
    assert Sum(expr)._keys() == [(Sum(expr)._name, 0)]
    with pytest.raises(NotImplementedError, match="npartitions"):
        type("Leaf", (Expr,), {"_parameters": ["x"]})(1).npartitions
    with pytest.raises(NotImplementedError, match="define _task"):
        GroupSum(expr, "a", "b").__shoal_graph__()


# ------------------------------------------------------------------ the collection protocol


class Bag:
    """A collection in a few lines: it holds an expression and speaks the protocol."""

    def __init__(self, expr):
        self.expr = expr

    def __shoal_graph__(self):
        return self.expr.optimize().__shoal_graph__()

    def __shoal_keys__(self):
        return self.expr.optimize().__shoal_keys__()

    def __shoal_postcompute__(self):
        return flat, ()


def test_a_thin_collection_computes_through_the_protocol():
    data = list(range(20))
    bag = Bag(Filter(Map(FromSequence(data, 4), inc), is_even))
    assert is_collection(bag)
    graph, keys = collections_to_graph([bag])
    results = get_scheduler("sync")(graph, keys)
    assert finalize(bag, results[0]) == [x + 1 for x in data if (x + 1) % 2 == 0]


def test_protocol_keys_match_the_optimized_graph():
    bag = Bag(Projection(ReadRecords(ROWS), ["c"]))
    graph, keys = bag.__shoal_graph__(), bag.__shoal_keys__()
    assert set(keys) <= set(graph)
    assert finalize(bag, get_scheduler("sync")(graph, keys)) == [{"c": r["c"]} for r in ROWS]


# ------------------------------------------------------------------ explain


def test_explain_splits_stages_at_the_shuffle():
    data = [{"a": i % 3, "v": i} for i in range(12)]
    expr = Sum(Map(Repartition(Map(FromSequence(data, 4), dict), "a", 4), len))
    text = expr.explain_text()
    assert text.splitlines() == [
        "== Optimized plan: 2 stages ==",
        "Stage 1 (result)",
        "  Sum  partitions=1",
        "    Map func=len  partitions=4",
        "      Shuffle on='a'  partitions=4  <== exchange: reads every partition of Stage 0",
        "Stage 0 (feeds Stage 1 through Shuffle)",
        "  Map func=dict  partitions=4",
        "    FromSequence  partitions=4",
    ]
    assert run(expr.optimize()) == [sum(map(len, data))]


def test_explain_numbers_input_stages_first_and_marks_shared_nodes(capsys):
    reader = ReadRecords(ROWS, npartitions=2)

    class Join(Expr):
        _parameters = ["left", "right"]
        _is_shuffle = True

    expr = Join(Shuffle(reader, "a", 3), Map(reader, len))
    expr.explain()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "== Optimized plan: 4 stages =="
    headers = [line for line in lines if line.startswith("Stage")]
    assert headers == [
        "Stage 3 (result)",
        "Stage 1 (feeds Stage 3 through Join)",
        "Stage 0 (feeds Stage 1 through Shuffle)",
        "Stage 2 (feeds Stage 3 through Join)",
    ]
    assert "    ReadRecords (shared, shown in Stage 0)" in lines
    assert lines[2].endswith("<== exchange: reads every partition of Stage 1, Stage 2")


def test_explain_without_optimizing_shows_the_logical_plan():
    expr = GroupSum(FromSequence([{"a": 1, "b": 2}], 1), "a", "b")
    logical = expr.explain_text(optimize=False)
    assert logical.splitlines()[:3] == [
        "== Plan (not optimized): 1 stage ==",
        "Stage 0 (result)",
        "  GroupSum on='a' value='b'  partitions=4",
    ]
    operations = [line.split()[0] for line in expr.explain_text().splitlines()[1:] if line.startswith("  ")]
    assert operations == ["PartitionGroupSum", "Shuffle", "FromSequence"]
