"""Cheap blocks (random, creation, transposes) shared by a few tasks: made once, in one task, not held."""

from __future__ import annotations

import numpy as np
import pytest

import shoal.array as sa
from shoal.collections.array.random import draw_block
from shoal.testing import assert_eq


def _draw_count(graph: dict) -> int:
    """How many times the graph's tasks call ``draw_block`` (top level, inside Fused, or inline)."""
    count = 0
    stack = list(graph.values())
    while stack:
        node = stack.pop()
        if hasattr(node, "nodes"):
            stack.extend(node.nodes)
            continue
        if getattr(node, "func", None) is draw_block:
            count += 1
        for arg in (*getattr(node, "args", ()), *getattr(node, "kwargs", {}).values()):
            if hasattr(arg, "func") or hasattr(arg, "nodes"):
                stack.append(arg)
            elif isinstance(arg, (list, tuple)):
                stack.extend(a for a in arg if hasattr(a, "func") or hasattr(a, "nodes"))
    return count


@pytest.mark.parametrize("chunks", [2, (3, 1), ((1, 4, 2), (2, 5))])
def test_x_plus_x_t_reduction_draws_every_random_block_once(chunks, sched):
    x = sa.random.default_rng(3).random((7, 7), chunks=chunks)
    data = x.compute(scheduler="sync")
    lazy = (x + x.T).mean(axis=0)
    graph = lazy.__shoal_graph__()
    assert _draw_count(graph) == x.npartitions
    assert_eq(lazy, (data + data.T).mean(axis=0), scheduler=sched)
    assert_eq(lazy.sum(), (data + data.T).mean(axis=0).sum(), scheduler=sched)


def test_grouped_tasks_hand_over_small_results_on_processes():
    x = sa.random.default_rng(5).normal(size=(6, 6), chunks=2)
    data = x.compute(scheduler="sync")
    assert_eq((x * 2 - x.T).sum(axis=1), (data * 2 - data.T).sum(axis=1), scheduler="processes")


def test_outputs_that_share_cheap_blocks_are_still_each_returned(sched):
    x = sa.random.default_rng(1).random((4, 6), chunks=(2, 3))
    data = x.compute(scheduler="sync")
    # the sum blocks are outputs themselves: they are not grouped, the random blocks are made per reader
    assert_eq(x[:, :3] + x[:, 3:], data[:, :3] + data[:, 3:], scheduler=sched)
    ones = sa.ones((4, 4), chunks=2)
    assert_eq((ones + ones.T * 2).sum(axis=0), np.full(4, 12.0), scheduler=sched)


def test_a_reader_of_another_readers_result_is_not_grouped(sched):
    from shoal.collections.array.cheap_blocks import inline_cheap_blocks
    from shoal.taskgraph.core import Ref, Task

    # hand-made graph: b reads the cheap block and a, which reads the cheap block too
    x = sa.random.default_rng(2).random(4, chunks=4)
    name = x.expr.optimize()._name
    block = (name, 0)
    graph = {
        block: x.expr.optimize().__shoal_graph__()[block],
        ("a", 0): Task(("a", 0), np.negative, Ref(block)),
        ("b", 0): Task(("b", 0), np.add, Ref(block), Ref(("a", 0))),
        ("c", 0): Task(("c", 0), np.sum, Ref(("b", 0))),
    }
    new = inline_cheap_blocks(graph, x.expr.optimize(), [("c", 0)])
    assert not any(type(k) is tuple and str(k[0]).startswith("together") for k in new)
    from shoal.schedulers.registry import get_scheduler

    assert get_scheduler(sched)(new, [("c", 0)])[0] == 0.0


def test_grouping_readers_of_a_shared_cheap_block_never_makes_a_cycle(sched):
    """Two readers of one cheap block, where one reads (through other tasks) what the other makes, must
    not be run as one task: that task would wait on itself (this raised CycleError)."""
    data = np.arange(42.0).reshape(6, 7)
    x = sa.from_array(data, chunks=(4, 3))
    template = sa.empty(x.shape, chunks=x.chunks, dtype=bool)

    def spread(mask, like):
        return np.broadcast_to(mask, like.shape)

    rows = sa.map_blocks(spread, (x[:, 0] > 10)[:, None], template, dtype=bool)
    first = sa.where(rows, -1.0, x)
    columns = sa.map_blocks(spread, (first[0] > 3)[None, :], template, dtype=bool)
    second = sa.where(columns, np.arange(6.0)[:, None], first)
    expected = np.where(data[:, :1] > 10, -1.0, data)
    expected = np.where(expected[:1] > 3, np.arange(6.0)[:, None], expected)
    assert_eq(second, expected, scheduler=sched)
