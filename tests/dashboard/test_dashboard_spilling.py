"""A real spilling cluster seen by the dashboard: memory per worker managed/spilled as the
workers report it, and spill bars on the task stream."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from bokeh.document import Document

import shoal.array as sa
from shoal.dashboard.pages import KIND_COLOURS, status_document
from shoal.distributed import Client, Scheduler, Worker

pytestmark = pytest.mark.timeout(60)

MB = 10**6


def test_spilling_workers_show_spilled_memory_and_spill_bars(tmp_path):
    values = np.random.default_rng(0).random(24 * MB // 8)  # 24 MB onto two workers of 8 MB

    async def main():
        async with Scheduler("inproc://", dashboard_address="127.0.0.1:0") as s:
            workers = [Worker(s.address, nthreads=1, memory_limit="8MB", heartbeat_interval=0.05,
                              local_directory=str(tmp_path)) for _ in range(2)]
            for w in workers:
                # RSS as if the process held only this worker's results plus 1 MB (the
                # test process's real RSS would say nothing about this worker).
                w.rss_reader = (lambda w=w: MB + w.data.memory)
                await w.start()
            try:
                async with Client(s.address, asynchronous=True) as c:
                    x = sa.from_array(values, chunks=values.size // 48)
                    persisted = c.persist(x + 1)
                    assert np.isclose(await c.compute(persisted.sum()), (values + 1).sum())
                    plugin = s.dashboard.plugin
                    # Heartbeats every 0.05 s carry the figures and the spill bars. The memory monitor
                    # may still spill after the computation (RSS past the spill line, on a thread):
                    # wait until it has nothing left to do, so the figures compared below stay put.
                    deadline = time.monotonic() + 20
                    while time.monotonic() < deadline:
                        counts = [plugin.workers[w.address] for w in workers]
                        spills = {e[1] for e in plugin.task_stream if e[5] == "spill"}
                        if all((wc.spilled_bytes, wc.managed) == (w.data.spilled, w.data.memory)
                               and w.rss_reader() <= 0.7 * 8 * MB for wc, w in zip(counts, workers)) \
                                and spills == {w.address for w in workers}:
                            break
                        await asyncio.sleep(0.02)
                    for wc, w in zip(counts, workers):
                        assert wc.spilled_bytes == w.data.spilled > 0
                        assert wc.managed == w.data.memory
                        assert wc.unmanaged_bytes == MB
                    assert spills == {w.address for w in workers}, "each worker spilled: a bar on each row"

                    doc = Document()
                    status_document(plugin, 500)(doc)
                    memory = doc.select_one({"name": "memory-figure"}).renderers[0].data_source.data
                    row = {a: i for i, a in enumerate(memory["address"])}
                    for w in workers:
                        i = row[w.address]
                        assert memory["spilled"][i] == w.data.spilled
                        assert memory["managed"][i] == w.data.memory
                        assert memory["limit_marker"][i] == 8 * MB
                    stream = doc.select_one({"name": "task-stream-figure"}).renderers[0].data_source.data
                    assert KIND_COLOURS["spill"] in stream["colour"]
            finally:
                for w in workers:
                    await w.close()

    asyncio.run(asyncio.wait_for(main(), 45))
