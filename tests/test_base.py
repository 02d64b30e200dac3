"""The top-level verbs: compute, persist, get, visualize; and shoal.testing.assert_eq."""

from __future__ import annotations

import os
import re
import shutil
import threading
from operator import add, mul

import numpy as np
import pandas as pd
import pytest

import shoal
import shoal.array
import shoal.bag
import shoal.dataframe
from shoal import config, delayed
from shoal.schedulers import register_scheduler, unregister_scheduler
from shoal.schedulers.sync import get as sync_get
from shoal.taskgraph import DataNode, Ref, Task
from shoal.testing import assert_eq


def inc(x):
    return x + 1


class CallCounter:
    """A pure function that counts its calls (thread-safe)."""

    def __init__(self):
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, x):
        with self._lock:
            self.calls += 1
        return x * 2


# --- compute -------------------------------------------------------------------------


CALLS: list = []


def expensive_double(x):
    """Pure, and it records each call so tests can count executions."""
    CALLS.append(x)
    return x * 2


def test_compute_shares_common_work():
    CALLS.clear()
    shared = delayed(expensive_double, pure=True)(21)
    a = shared + 1
    b = delayed(expensive_double, pure=True)(21) * 3  # built separately, same key
    assert shoal.compute(a, b, scheduler="sync") == (21 * 2 + 1, 21 * 2 * 3)
    assert CALLS == [21]
    # Impure calls are separate work.
    CALLS.clear()
    assert shoal.compute(delayed(expensive_double)(1), delayed(expensive_double)(1), scheduler="sync") == (2, 2)
    assert CALLS == [1, 1]


def test_compute_traverses_containers_and_passes_other_values_through():
    a, b = delayed(inc)(1), delayed(inc)(2)
    result = shoal.compute([a, b], {"first": a, "n": 5}, (b,), "text", 7, scheduler="sync")
    assert result == ([2, 3], {"first": 2, "n": 5}, (3,), "text", 7)
    kept = shoal.compute([a], a, traverse=False, scheduler="sync")
    assert kept[0] == [a] and kept[1] == 2
    assert shoal.compute(1, "x") == (1, "x")


def test_compute_with_and_without_optimization(scheduler):
    chain = delayed(0)
    for _ in range(50):
        chain = delayed(inc)(chain)
    side = delayed(mul)(chain, 2)
    for optimize in (True, False):
        assert shoal.compute(chain, side, scheduler=scheduler, optimize_graph=optimize) == (50, 100)


def test_compute_passes_scheduler_keywords():
    ids = set()
    callback = shoal.schedulers.Callback(posttask=lambda key, result, graph, state, worker_id: ids.add(worker_id))
    values = [delayed(inc)(i) for i in range(20)]
    assert shoal.compute(values, scheduler="threads", num_workers=2, callbacks=[callback]) == (
        [i + 1 for i in range(20)],
    )
    assert ids and ids <= {0, 1}


def test_config_scheduler_is_honoured():
    used = []

    def recording_get(graph, keys, **kwargs):
        used.append(keys)
        return sync_get(graph, keys, **kwargs)

    register_scheduler("recording-for-test-base", recording_get)
    try:
        value = delayed(inc)(1)
        with config.set(scheduler="recording-for-test-base"):
            assert value.compute() == 2
            assert shoal.compute(value)[0] == 2
            # An explicit argument still wins over the setting.
            assert value.compute(scheduler="sync") == 2
        assert value.compute() == 2  # back to the default outside the block
    finally:
        unregister_scheduler("recording-for-test-base")
    assert len(used) == 2


# --- persist ---------------------------------------------------------------------------


def test_persist_many_and_non_collections():
    counter = CallCounter()
    a = delayed(counter)(5)
    b = a + 1
    pa, pb, other = shoal.persist(a, b, "other", scheduler="sync")
    assert other == "other"
    assert (pa.key, pb.key) == (a.key, b.key)
    assert counter.calls == 1
    for persisted, expected in ((pa, 10), (pb, 11)):
        graph = persisted.__shoal_graph__()
        assert list(graph) == [persisted.key]
        assert type(graph[persisted.key]) is DataNode and graph[persisted.key].value == expected
    assert shoal.compute(pa, pb, scheduler="sync") == (10, 11)
    assert counter.calls == 1


def test_persist_traverses_lists_and_dicts_like_compute():
    counter = CallCounter()
    a = delayed(counter)(5)
    b = a + 1
    pair, mapping, other = shoal.persist([a, b], {"k": b}, "other", scheduler="sync")
    assert other == "other"
    assert counter.calls == 1
    for persisted, expected in ((pair[0], 10), (pair[1], 11), (mapping["k"], 11)):
        graph = persisted.__shoal_graph__()
        assert type(graph[persisted.key]) is DataNode and graph[persisted.key].value == expected
    assert pair[1] is mapping["k"]  # one object in, one persisted object out
    # traverse=False hands containers back as they were, unpersisted
    (kept,) = shoal.persist([b], traverse=False)
    assert kept[0] is b
    assert counter.calls == 1


def test_persist_rejects_collections_without_postpersist():
    class NoPersist:
        def __shoal_graph__(self):
            return {"x": DataNode("x", 1)}

        def __shoal_keys__(self):
            return "x"

        def __shoal_postcompute__(self):
            return (lambda r: r), ()

    with pytest.raises(TypeError, match="NoPersist"):
        shoal.persist(NoPersist())


# --- get on raw graphs ---------------------------------------------------------------------


def test_get_task_graphs(scheduler):
    graph = {
        "x": DataNode("x", 3),
        "y": Task("y", mul, Ref("x"), 4),
        ("z", 0): Task(("z", 0), add, Ref("x"), Ref("y")),
    }
    x = 3
    y = x * 4
    assert shoal.get(graph, ("z", 0), scheduler=scheduler) == x + y
    assert shoal.get(graph, [["x"], [("z", 0), "y"]], scheduler=scheduler) == [[x], [x + y, y]]


def test_get_dask_style_graphs(scheduler):
    graph = {
        "a": 1,
        "b": (inc, "a"),
        "c": (add, "b", (inc, "a")),
        "d": (sum, ["a", "b", "c"]),
        "e": "d",
        ("f", 1): (mul, "e", 10),
    }
    a = 1
    b = a + 1
    c = b + (a + 1)
    d = a + b + c
    assert shoal.get(graph, "e", scheduler=scheduler) == d
    assert shoal.get(graph, [("f", 1), ["a", ["c"]]], scheduler=scheduler) == [d * 10, [a, [c]]]


# --- visualize -------------------------------------------------------------------------------


def test_visualize_writes_dot_with_a_node_per_task_and_the_edges(tmp_path):
    a = delayed(inc, pure=True)(1)
    b = delayed(mul, pure=True)(a, 2)
    c = delayed(inc, pure=True)(a)
    d = delayed(add, pure=True)(b, c)
    filename = tmp_path / "g.dot"
    assert shoal.visualize(d, filename=str(filename)) == str(filename)
    text = filename.read_text()
    assert text.startswith("digraph {") and text.rstrip().endswith("}")
    nodes = re.findall(r"^\s*(n\d+) \[label=\"([^\"]*)\"", text, flags=re.M)
    edges = re.findall(r"^\s*(n\d+) -> (n\d+);", text, flags=re.M)
    assert len(nodes) == 4  # a, b, c, d
    assert len(edges) == 4  # a->b, a->c, b->d, c->d
    labels = {node: label for node, label in nodes}
    by_edge = sorted((labels[src].split("\\n")[0], labels[dst].split("\\n")[0]) for src, dst in edges)
    assert by_edge == sorted([("inc", "mul"), ("inc", "inc"), ("mul", "add"), ("inc", "add")])


def test_visualize_source_and_method(tmp_path):
    value = delayed(inc)(1)
    source = shoal.visualize(value, filename=None)
    assert source.startswith("digraph")
    path = tmp_path / "method.dot"
    assert value.visualize(filename=str(path)) == str(path)
    assert path.read_text() == source


def test_visualize_without_graphviz_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, *args, **kwargs: None)
    target = tmp_path / "g.png"
    with pytest.raises(RuntimeError) as info:
        shoal.visualize(delayed(inc)(1), filename=str(target))
    message = str(info.value)
    assert "Graphviz" in message and "install" in message.lower()
    assert ".dot" in message  # and the way around it
    assert not target.exists()


@pytest.fixture
def fake_graphviz(tmp_path, monkeypatch):
    """A stand-in ``dot`` on PATH: copies the DOT source to the -o file and
    records the -T format beside it; fails, as Graphviz does, on format 'nope'."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "dot"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "-Tnope" ]; then echo \'Format: "nope" not recognized.\' >&2; exit 1; fi\n'
        'cat > "$3"; echo "$1" > "$3.format"\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


def test_visualize_format_keyword_and_extension(fake_graphviz):
    value = delayed(inc)(1)
    source = shoal.visualize(value, filename=None)
    # an extension chooses the format
    out = fake_graphviz / "by-extension.png"
    assert shoal.visualize(value, filename=str(out)) == str(out)
    assert out.read_text() == source and (fake_graphviz / "by-extension.png.format").read_text().strip() == "-Tpng"
    # format= without an extension: appended, as in Dask
    stem = fake_graphviz / "by-keyword"
    written = value.visualize(filename=str(stem), format="pdf")
    assert written == f"{stem}.pdf"
    assert (fake_graphviz / "by-keyword.pdf.format").read_text().strip() == "-Tpdf"
    # format="dot" writes the source itself, no Graphviz needed
    assert shoal.visualize(value, filename=str(fake_graphviz / "src"), format="dot") == str(fake_graphviz / "src.dot")
    assert (fake_graphviz / "src.dot").read_text() == source


def test_visualize_reports_what_graphviz_refused(fake_graphviz):
    with pytest.raises(RuntimeError, match="not recognized"):
        shoal.visualize(delayed(inc)(1), filename=str(fake_graphviz / "g"), format="nope")


def test_visualize_needs_a_collection():
    with pytest.raises(TypeError, match="collection"):
        shoal.visualize(1, 2)


# --- the verbs as methods: shoal.base.CollectionMethods ------------------------------------


def one_collection_of_each_kind(kind: str):
    """``(lazy collection, the same value computed eagerly, its visualize() default file)``."""
    grid = np.arange(12).reshape(3, 4)
    pdf = pd.DataFrame({"x": [3, 1, 2, 5], "y": [0.5, 1.5, 2.5, 3.5]})
    df = shoal.dataframe.from_pandas(pdf, npartitions=2)
    bag = shoal.bag.from_sequence(list(range(7)), npartitions=3)
    if kind == "Array":
        return shoal.array.from_array(grid, chunks=2) * 2, grid * 2, "myarray.svg"
    if kind == "Bag":
        return bag.map(inc), [inc(v) for v in range(7)], "mybag.svg"
    if kind == "Item":
        return bag.sum(), sum(range(7)), "mybag.svg"
    if kind == "DataFrame":
        return df[df.x > 1], pdf[pdf.x > 1], "mygraph.svg"
    if kind == "Series":
        return df.y + 1, pdf.y + 1, "mygraph.svg"
    if kind == "Index":
        return df.index, pdf.index, "mygraph.svg"
    if kind == "Scalar":
        return df.x.sum(), pdf.x.sum(), "mygraph.svg"
    assert kind == "Delayed"
    return delayed(add)(delayed(inc)(1), 10), add(inc(1), 10), "mydelayed.svg"


COLLECTION_KINDS = ["Array", "Bag", "Item", "DataFrame", "Series", "Index", "Scalar", "Delayed"]


@pytest.mark.parametrize("kind", COLLECTION_KINDS)
def test_every_collection_computes_and_persists_through_the_shared_methods(kind):
    lazy, eager, _ = one_collection_of_each_kind(kind)
    assert type(lazy).__name__ == kind
    assert isinstance(lazy, shoal.base.CollectionMethods)
    assert_eq(lazy.compute(scheduler="sync"), eager)
    persisted = lazy.persist(scheduler="sync")
    assert type(persisted) is type(lazy)
    assert_eq(persisted.compute(scheduler="sync"), eager)


@pytest.mark.parametrize("kind", COLLECTION_KINDS)
def test_every_collection_draws_its_graph_like_the_top_level_visualize(kind, fake_graphviz, monkeypatch):
    lazy, _, default_file = one_collection_of_each_kind(kind)
    source = shoal.visualize(lazy, filename=None)
    assert lazy.visualize(filename=None) == source
    monkeypatch.chdir(fake_graphviz)
    assert lazy.visualize() == default_file  # each kind keeps its own default file name
    assert (fake_graphviz / default_file).read_text() == source


def test_the_shared_methods_keep_slotted_collections_without_an_instance_dict():
    for kind in ("Array", "Bag", "Item", "Delayed"):
        lazy, _, _ = one_collection_of_each_kind(kind)
        assert not hasattr(lazy, "__dict__"), kind


# --- shoal.testing.assert_eq --------------------------------------------------------------


def test_assert_eq_plain_values():
    assert_eq([1, (2.0, {"k": [3]})], [1, (2.0 + 1e-12, {"k": [3]})])
    assert_eq(float("nan"), float("nan"))
    with pytest.raises(AssertionError):
        assert_eq([1, 2], [1, 3])
    with pytest.raises(AssertionError):
        assert_eq([1, 2], (1, 2))
    with pytest.raises(AssertionError):
        assert_eq({"a": 1}, {"b": 1})
    with pytest.raises(AssertionError):
        assert_eq(1.0, 1.1)


def test_assert_eq_numpy():
    assert_eq(np.array([1.0, np.nan]), np.array([1.0, np.nan]))
    assert_eq(np.arange(3), np.arange(3))
    with pytest.raises(AssertionError, match="dtype"):
        assert_eq(np.arange(3), np.arange(3.0))
    assert_eq(np.arange(3), np.arange(3.0), check_dtype=False)
    with pytest.raises(AssertionError, match="shape"):
        assert_eq(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(AssertionError):
        assert_eq(np.array([1.0, 2.0]), np.array([1.0, 2.5]))


def test_assert_eq_pandas():
    df = pd.DataFrame({"a": [1, 2], "b": [0.5, np.nan]})
    assert_eq(df, df.copy())
    assert_eq(df["a"], df["a"].copy())
    assert_eq(df.index, df.index.copy())
    with pytest.raises(AssertionError):
        assert_eq(df, df.assign(a=[1, 3]))
    with pytest.raises(AssertionError):
        assert_eq(df["a"], df["a"].astype("float64"))
    assert_eq(df["a"], df["a"].astype("float64"), check_dtype=False)
    with pytest.raises(AssertionError):
        assert_eq(df, df["a"])


def test_assert_eq_computes_collections(scheduler):
    value = delayed(np.arange)(4)
    assert_eq(value, np.arange(4), scheduler=scheduler)
    assert_eq(np.arange(4), value, scheduler=scheduler)
    with pytest.raises(AssertionError):
        assert_eq(delayed(inc)(1), 3, scheduler=scheduler)


def test_tokenize_and_is_collection_at_the_top_level_and_in_base():
    # Where Dask users look for them (dask.base.tokenize, dask.is_dask_collection).
    from shoal.taskgraph.tokenize import tokenize

    assert shoal.tokenize is tokenize and shoal.base.tokenize is tokenize
    assert shoal.tokenize([1, "a"], k=np.arange(3)) == tokenize([1, "a"], k=np.arange(3))
    assert shoal.is_collection(delayed(inc)(1)) and not shoal.is_collection([delayed(inc)(1)])
    assert {"tokenize", "is_collection"} <= set(shoal.__all__)
