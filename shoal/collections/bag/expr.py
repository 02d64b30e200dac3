"""The expression nodes of bags: logical plans that emit one task per partition.

Rules this file keeps:

- Every node's output partitions are keyed ``(node._name, i)``; a partition
  is a list. A node read as an *item* (a single value such as a sum) has one
  partition whose value is the item itself.
- Element-wise work is ``Elementwise(bag, stages, finish)``: a tuple of
  stages (see ``partition.py``) run lazily over one partition. Simplify
  merges an ``Elementwise`` into the ``Elementwise`` or ``Reduction`` that
  alone reads it, so ``b.map(f).filter(g).map(h).sum()`` runs one pipeline per
  partition without building intermediate lists (and the graph-level fuse
  then makes the reading of the partition and that pipeline one task).
- ``Reduction`` is logical: it lowers to per-partition partials
  (``Elementwise`` with a ``finish``) and a ``TreeReduce`` that combines them
  ``split_every`` at a time.
"""

from __future__ import annotations

from typing import Any, Callable

from ...taskgraph.core import Alias, DataNode, Ref, Task
from ...taskgraph.expr import Expr
from .partition import AlignedMap, call_partition, funcname, run_stages

__all__ = [
    "FromSequence", "FromGraph", "GraphHolder", "Elementwise", "MapPartitions", "MapAligned",
    "Reduction", "TreeReduce", "Concat", "SelectPartitions", "Accumulate",
]


class FromSequence(Expr):
    """Literal partitions: ``parts`` is a tuple of lists."""

    _parameters = ["parts"]

    @property
    def npartitions(self) -> int:
        return len(self.parts)

    def _task(self, index: int):
        return DataNode(self._key(index), self.parts[index])

    def _explain_args(self) -> dict:
        return {}


class GraphHolder:
    """Tasks built elsewhere (delayed values, persisted results) with a unique name.

    Tokenized by its name, so the graph itself is never hashed.
    """

    def __init__(self, name: str, graph: dict):
        self.name = name
        self.graph = graph

    def __shoal_tokenize__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"GraphHolder({self.name!r}, {len(self.graph)} tasks)"


class FromGraph(Expr):
    """Partitions that are the outputs ``keys`` of tasks in ``holder.graph``."""

    _parameters = ["holder", "keys"]

    @property
    def npartitions(self) -> int:
        return len(self.keys)

    def _layer(self) -> dict:
        layer = dict(self.holder.graph)
        for i, key in enumerate(self.keys):
            own = self._key(i)
            if own != key:
                layer[own] = Alias(own, key)
        return layer

    def _explain_args(self) -> dict:
        return {}


class Elementwise(Expr):
    """``stages`` over each partition of ``bag``, then ``finish`` (default: a list)."""

    _parameters = ["bag", "stages", "finish", "label"]
    _defaults = {"finish": None, "label": None}

    @property
    def _funcname(self) -> str:
        if self.label:
            return self.label
        if self.finish is not None:
            return funcname(self.finish).replace("_", "-")
        if self.stages:
            return self.stages[-1].describe().split("(")[0]
        return "elementwise"

    def _task(self, index: int):
        return Task(self._key(index), run_stages, Ref(self.bag._key(index)), self.stages, self.finish, index,
                    self.label)

    def _simplify_down(self):
        if not self.stages and self.finish is None:
            return self.bag  # nothing to do: read the input directly
        return None

    def _simplify_up(self, parent: Expr, dependents) -> Expr | None:
        # Merge into the one reader that continues the pipeline (our output
        # must be a plain list, i.e. no finish of our own).
        if self.finish is not None or len(dependents.get(self._name, ())) != 1:
            return None
        if isinstance(parent, (Elementwise, Reduction)) and parent.bag is self:
            return parent.replace(bag=self.bag, stages=self.stages + parent.stages)
        if isinstance(parent, SelectPartitions):
            # Select first, work after: ``take`` then runs the pipeline lazily
            # over the selected partitions only, and stops after k elements.
            return self.replace(bag=SelectPartitions(self.bag, parent.indices))
        return None

    def _explain_args(self) -> dict:
        shown = {"stages": " -> ".join(s.describe() for s in self.stages)} if self.stages else {}
        if self.finish is not None:
            shown["finish"] = self.label or funcname(self.finish)
        return shown


def _task_argument(value: Any, index: int, aligned: bool) -> Any:
    if isinstance(value, Expr):
        return Ref(value._key(index if aligned else 0))
    return value


class _CallPerPartition(Expr):
    """Base of the nodes that call ``func`` once per output partition.

    ``args`` and the values of ``kwargs`` (a tuple of pairs) may hold bag
    expressions or item expressions; ``aligned`` flags ``args`` then the
    values of ``kwargs``: an aligned bag is read partition by partition, any
    other expression gives the same value to every partition.
    """

    _parameters = ["func", "args", "kwargs", "aligned", "npartitions"]

    @property
    def _funcname(self) -> str:
        return funcname(self.func).strip("_").replace("_", "-")

    def _flags(self) -> tuple[tuple, tuple]:
        """The ``aligned`` flags of ``args`` and of the values of ``kwargs``."""
        n = len(self.args)
        return self.aligned[:n], self.aligned[n:]

    def _task_arguments(self, index: int) -> tuple[list, dict]:
        """``args`` and ``kwargs`` as they go into partition ``index``'s task."""
        arg_flags, kw_flags = self._flags()
        args = [_task_argument(a, index, al) for a, al in zip(self.args, arg_flags)]
        kwargs = {k: _task_argument(v, index, al) for (k, v), al in zip(self.kwargs, kw_flags)}
        return args, kwargs

    def _explain_args(self) -> dict:
        return {"func": funcname(self.func)}


class MapPartitions(_CallPerPartition):
    """``func(partition_i of each aligned bag, broadcast values..., **kwargs)`` per partition."""

    def _task(self, index: int):
        args, kwargs = self._task_arguments(index)
        return Task(self._key(index), call_partition, self.func, index, *args, **kwargs)


class MapAligned(_CallPerPartition):
    """Element-wise ``func`` over several bags zipped partition by partition (``map(f, a, b)``)."""

    def _task(self, index: int):
        args, kwargs = self._task_arguments(index)
        arg_flags, kw_flags = self._flags()
        return Task(self._key(index), call_partition, AlignedMap(self.func), index, args, arg_flags, kwargs,
                    kw_flags)


class _ToOneValue(Expr):
    """Base of the reductions to one value (one partition), named by ``label``
    or else by their ``aggregate`` function."""

    @property
    def npartitions(self) -> int:
        return 1

    @property
    def _funcname(self) -> str:
        return self.label or funcname(self.aggregate).replace("_", "-")


class Reduction(_ToOneValue):
    """``aggregate(combine(...(perpartition(stages(p)) for every p)))``: one value.

    Logical: lowers to ``Elementwise(bag, stages, perpartition)`` partials and
    a ``TreeReduce`` over them.
    """

    _parameters = ["bag", "stages", "perpartition", "combine", "aggregate", "split_every", "label"]
    _defaults = {"stages": (), "split_every": 8, "label": None}

    def _lower(self):
        label = self._funcname
        partials = Elementwise(self.bag, self.stages, self.perpartition, f"{label}-partial")
        return TreeReduce(partials, self.combine, self.aggregate, self.split_every, label)

    def _explain_args(self) -> dict:
        return {"stages": " -> ".join(s.describe() for s in self.stages)} if self.stages else {}


def _combine_group(func: Callable, *partials: Any) -> Any:
    return func(list(partials))


class TreeReduce(_ToOneValue):
    """Combine the partitions of ``partials`` ``split_every`` at a time, then ``aggregate``."""

    _parameters = ["partials", "combine", "aggregate", "split_every", "label"]
    _defaults = {"label": None}
    _is_shuffle = True  # reads every partition of its input

    def _layer(self) -> dict:
        split_every = self.split_every
        if not isinstance(split_every, int) or split_every < 2:
            raise ValueError(f"split_every must be an integer of at least 2, got {split_every!r}")
        layer: dict = {}
        level = [self.partials._key(i) for i in range(self.partials.npartitions)]
        depth = 0
        while len(level) > split_every:
            name = f"{self._name}-combine{depth}"
            next_level = []
            for j, start in enumerate(range(0, len(level), split_every)):
                group = level[start:start + split_every]
                key = (name, j)
                layer[key] = Task(key, _combine_group, self.combine, *[Ref(k) for k in group])
                next_level.append(key)
            level = next_level
            depth += 1
        key = self._key(0)
        layer[key] = Task(key, _combine_group, self.aggregate, *[Ref(k) for k in level])
        return layer

    def _explain_args(self) -> dict:
        return {"split_every": self.split_every}


class Concat(Expr):
    """The partitions of several bags, one after another."""

    _parameters = ["bags"]

    @property
    def npartitions(self) -> int:
        return sum(b.npartitions for b in self.bags)

    def _layer(self) -> dict:
        layer = {}
        i = 0
        for bag in self.bags:
            for j in range(bag.npartitions):
                key = self._key(i)
                layer[key] = Alias(key, bag._key(j))
                i += 1
        return layer


class SelectPartitions(Expr):
    """Some partitions of ``bag``, by index (e.g. the first ones, for ``take``)."""

    _parameters = ["bag", "indices"]

    @property
    def npartitions(self) -> int:
        return len(self.indices)

    def _task(self, index: int):
        return Alias(self._key(index), self.bag._key(self.indices[index]))


def _accumulate_partition(binop: Callable, carry: tuple, partition: list, index: int = 0) -> tuple:
    """``(accumulated partition, carry for the next)``; ``carry`` is ``(has_value, value)``."""
    has, total = carry
    out = []
    try:
        for x in partition:
            total = binop(total, x) if has else x
            has = True
            out.append(total)
    except Exception as exc:
        exc.add_note(f"(in partition {index} of the bag, during accumulate({funcname(binop)}))")
        raise
    return out, (has, total)


def _first(pair: tuple) -> Any:
    return pair[0]


def _first_after(initial: Any, pair: tuple) -> list:
    return [initial, *pair[0]]


class Accumulate(Expr):
    """Running ``binop`` over the whole bag: each partition starts from the previous one's last value."""

    _parameters = ["bag", "binop", "initial"]  # initial: (has_value, value)

    def _layer(self) -> dict:
        layer = {}
        step = f"{self._name}-step"
        carry: Any = self.initial
        for i in range(self.bag.npartitions):
            key = (step, i)
            layer[key] = Task(key, _accumulate_partition, self.binop, carry, Ref(self.bag._key(i)), i)
            out = self._key(i)
            if i == 0 and self.initial[0]:  # like itertools.accumulate(..., initial=x): x comes first
                layer[out] = Task(out, _first_after, self.initial[1], Ref(key))
            else:
                layer[out] = Task(out, _first, Ref(key))
            carry = Task((step, "carry", i), _second, Ref(key))
        return layer


def _second(pair: tuple) -> Any:
    return pair[1]
