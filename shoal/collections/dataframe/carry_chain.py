"""The carry chain: per-partition work that needs a summary of every partition before it.

Three kinds of tasks, for partitions ``0 .. n-1`` of a node's ``frame``:

- ``local_i = local(partition_i, *local_args)``: what the partition can
  compute on its own (in parallel for all partitions);
- ``carry_i = carry(carry_{i-1}, local_{i-1}, *carry_args)``: the state at
  the start of partition ``i`` (``carry_1`` gets ``None`` for the state
  before partition 0); a chain of small tasks, the only sequential part;
- ``output_i = finish(local_i, carry_i, *finish_args)`` (``carry_0`` is
  ``None``).

``ewm`` (adjusted sums and moments) and ``ewm_unadjusted`` (the recurrence)
are built on it.
"""

from __future__ import annotations

from ...taskgraph.core import Ref, Task

__all__ = ["carried_layer"]


def carried_layer(node, local, local_args: tuple, carry, carry_args: tuple, finish, finish_args: tuple) -> dict:
    """The tasks of ``node`` (whose operand ``frame`` is the input) as described in the module docstring."""
    name, n = node._name, node.frame.npartitions
    layer, carries = {}, [None] * n
    for i in range(n):
        key = (f"{name}-local", i)
        layer[key] = Task(key, local, Ref(node.frame._key(i)), *local_args)
    for i in range(1, n):
        key = (f"{name}-carry", i)
        layer[key] = Task(key, carry, Ref(carries[i - 1]) if carries[i - 1] else None,
                          Ref((f"{name}-local", i - 1)), *carry_args)
        carries[i] = key
    for i in range(n):
        layer[node._key(i)] = Task(node._key(i), finish, Ref((f"{name}-local", i)),
                                   Ref(carries[i]) if carries[i] else None, *finish_args)
    return layer
