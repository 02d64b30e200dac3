"""The p2p shuffle's tasks: one transfer per input partition, a barrier, one unpack per output.

``p2p_layer(expr)`` is what ``register_shuffle_method("p2p", ...)`` gets: for
a ``Shuffle`` expression of ``n`` inputs and ``m`` outputs it emits ``n + 1 + m``
tasks (the task-based method emits ``O(n log n)`` of them, all passing through
the scheduler):

- ``(<id>-transfer, i)``: runs where input ``i`` is; splits it by output
  partition (``partition_codes``) and sends the pieces straight to the
  workers owning them; its result is the run id it sent to (a small int);
- ``(<id>-barrier, 0)``: all transfers are done; asks the scheduler to check
  they all sent to the current run and to pin each output task to its owner;
  its result is ``(run id, worker_for)``;
- ``(<id>, p)``, the output keys: assemble partition ``p`` from the shards its
  owner received, in input order: the same rows in the same order as the
  task-based shuffle (same split, same concatenation).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from shoal.taskgraph.core import Ref, Task

from .errors import ShuffleRestart
from .scheduler_ext import barrier_key, pass_barrier, transfer_key

__all__ = ["ShuffleSpec", "p2p_layer", "p2p_transfer", "p2p_barrier", "p2p_unpack"]


class ShuffleSpec(NamedTuple):
    """What every task of one p2p shuffle needs to know."""

    shuffle_id: str  # the Shuffle expression's name: its output keys are (shuffle_id, p)
    n_in: int
    n_out: int
    on: tuple
    hash_dtypes: Any
    ranges: Any
    meta: Any  # an empty frame of the output's columns and dtypes


def _extension():
    """This worker's shuffle extension; ``None`` when not running on a worker (a local scheduler)."""
    from ..worker import get_worker

    try:
        return get_worker().extensions["shuffle"]
    except ValueError:
        return None


class LocalPieces(tuple):
    """A transfer's pieces kept as its result: on a local scheduler (no workers to send them to,
    e.g. ``compute(scheduler="sync")`` while a Client is open) the exchange happens in memory."""


def p2p_transfer(part, spec: ShuffleSpec, index: int):
    """Send input partition ``index`` to the owners of its rows; the run id it went to."""
    from shoal.collections.dataframe.shuffle import _split_direct  # the split the task-based method uses

    pieces = _split_direct(part, spec.on, spec.n_out, spec.hash_dtypes, spec.ranges)
    del part
    extension = _extension()
    if extension is None:
        return LocalPieces((pieces,))
    return extension.transfer(spec, index, pieces)


def p2p_barrier(spec: ShuffleSpec, run_ids: list) -> tuple:
    """All inputs are sent: ``(run id, worker_for)``, or ``ShuffleRestart`` if some went to
    an abandoned run (the scheduler then runs those transfers again and this task with them)."""
    extension = _extension()
    if extension is None:
        return ("local", [pieces for (pieces,) in run_ids])
    passed = extension.call_scheduler(pass_barrier, spec.shuffle_id, list(run_ids))
    if passed is None:
        raise ShuffleRestart(f"p2p shuffle {spec.shuffle_id}: some inputs went to an abandoned run; "
                             "they are being sent again")
    return tuple(passed)


def p2p_unpack(barrier: tuple, spec: ShuffleSpec, partition: int):
    """Output partition ``partition``: its shards concatenated in input order."""
    from shoal.collections.dataframe.shuffle import _finish_direct  # the task-based method's assembly

    run_id, worker_for = barrier
    if run_id == "local":
        frames = [pieces[partition] for pieces in worker_for if partition in pieces]
    else:
        frames = _extension().unpack(spec, run_id, list(worker_for), partition)
    return _finish_direct(spec.meta, frames)


def p2p_layer(expr) -> dict:
    """The tasks of ``expr`` (a ``Shuffle``) for the p2p method (see the module docstring)."""
    from shoal.collections.dataframe.shuffle import _tasks_layer

    n_in, n_out = expr.frame.npartitions, expr.npartitions_out
    if n_in < 2 or n_out < 2:
        # nothing to exchange between workers: one input goes straight to each output, or every
        # input to the one output (and fusion would merge the barrier away)
        return _tasks_layer(expr)
    name = expr._name
    spec = ShuffleSpec(name, n_in, n_out, tuple(expr.on), expr.hash_dtypes, expr.ranges, expr.frame._meta)
    layer: dict = {}
    transfers = []
    for i in range(n_in):
        key = transfer_key(name, i)
        layer[key] = Task(key, p2p_transfer, Ref(expr.frame._key(i)), spec, i)
        transfers.append(Ref(key))
    barrier = barrier_key(name)
    layer[barrier] = Task(barrier, p2p_barrier, spec, transfers)
    for p in range(n_out):
        layer[expr._key(p)] = Task(expr._key(p), p2p_unpack, Ref(barrier), spec, p)
    return layer
