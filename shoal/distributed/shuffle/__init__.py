"""The worker-to-worker ("p2p") shuffle of dataframes on a distributed cluster.

``shuffle_method="p2p"`` (the default while a distributed ``Client`` is the
default scheduler) moves rows between workers directly instead of through
``O(n log n)`` scheduler tasks:

1. one *transfer* task per input partition, on the worker holding it, splits
   the partition by output partition (``partition_codes``) and sends each
   piece straight to the worker owning that output (``shuffle-receive``), in
   batches of ``distributed.shuffle.batch-bytes``, with at most
   ``distributed.shuffle.bytes-in-flight`` bytes unacknowledged per peer
   (back-pressure: a receiver acknowledges a batch once it has stored it);
2. a receiver keeps shards in memory up to ``distributed.shuffle.memory-budget``
   bytes per shuffle (at most a quarter of the worker's ``memory_limit``),
   past it appends them to files in the worker's local directory
   (``buffer.py``);
3. a *barrier* task, once every transfer is done, has the scheduler check that
   all of them sent to the current run and pin every output task to its
   owner;
4. one *unpack* task per output partition, on its owner, concatenates the
   shards in input order: the same rows, in the same order, as the task-based
   shuffle.

The scheduler sees ``n_in + 1 + n_out`` tasks. The same graph computed by a
local scheduler (``compute(scheduler="sync")`` while a Client is open)
exchanges the pieces in memory through the barrier instead: same result.

Runs and restarts
-----------------
The output-partition -> worker assignment belongs to a *run* of the shuffle,
kept by the scheduler's ``ShuffleSchedulerExtension`` under the shuffle's id
(the ``Shuffle`` expression's name): the first transfer to ask starts a run
with the scheduler's running workers, sorted (a stable assignment). It is
fixed then, not at the barrier, because transfers must know where to send;
the barrier is where the scheduler learns it for placement (it pins output
tasks, found among the barrier's dependents, fused or not). Workers look the
run up by shuffle id. Every shard carries its run id, and a worker holds one
run per shuffle, dropping an older one when a newer one shows up.

When a worker taking part in a run leaves, the run is abandoned (the
extension is a scheduler plugin and hears of it): the results of transfers
(and of the barrier) still needed are declared lost to the state machine
(``handle_missing_data``, and ``free-keys`` to their holders), which computes
them again, recomputing inputs from lineage as for any lost result; the tasks
waiting on them go back to waiting, and re-run transfers start a new run with
the workers still there. Output partitions already computed are kept. Three
places catch what slips between:

- a transfer whose peer is gone, or has moved on to a newer run, asks for the
  current run and sends again (for up to two minutes; then it fails with
  ``ShuffleRestart``);
- the barrier sends back to work every transfer that reported an old run id
  (releasing itself with them; after 50 such rounds it fails for real);
- an unpack whose shards are gone asks the scheduler to abandon the run.

The barrier and the unpack then raise ``ShuffleRestart``, but the scheduler has
released them already, so the error is dropped and they run again later (if
the scheduler hands the task back to the same worker while the failing
attempt still runs, the worker runs it afresh rather than report that
attempt's error; see ``WorkerState.handle_execute_failure``):
shoal's graphs carry no per-task ``retries=``, and this restart by
invalidation replaces them. Workers drop a run's buffers and files once they
have unpacked every partition they own, and when the scheduler says the
shuffle is over, failed or abandoned (``shuffle-forget``).
"""

from __future__ import annotations

import sys

from shoal import config

from ..worker import register_worker_extension
from .errors import ShuffleRestart
from .worker_ext import ShuffleWorkerExtension

__all__ = ["ShuffleRestart", "ShuffleWorkerExtension", "register_with_dataframes", "DEFAULTS"]

DEFAULTS = {
    "distributed": {
        "shuffle": {
            # shards a worker keeps in memory per shuffle before appending them to files
            "memory-budget": "1 GiB",
            # bytes of shards per shuffle-receive request
            "batch-bytes": "16 MiB",
            # unacknowledged bytes a worker may have sent to one peer
            "bytes-in-flight": "64 MiB",
        }
    }
}

config.update_defaults(DEFAULTS)

register_worker_extension("shuffle", ShuffleWorkerExtension)


def register_with_dataframes() -> None:
    """Make ``shuffle_method="p2p"`` known to shoal.dataframe (imports pandas)."""
    from shoal.collections.dataframe.shuffle import register_shuffle_method

    from .graph import p2p_layer

    register_shuffle_method("p2p", p2p_layer)


# Registered now if dataframes are loaded; otherwise when a Client becomes the default scheduler
# (client.py), so that importing shoal.distributed (every worker process does) does not import pandas.
if "shoal.collections.dataframe.shuffle" in sys.modules:
    register_with_dataframes()
