"""benchmarks/simulated_cluster.py: the real SchedulerState against simulated workers on a simulated clock."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:  # `benchmarks` sits beside `shoal`, not inside it
    sys.path.insert(0, str(REPO))

from benchmarks import simulated_cluster as sim  # noqa: E402


def _input_bytes(graph: dict) -> int:
    """Bytes all tasks read: what moves if no input were ever local."""
    return sum(sim.KINDS[dep[0]][1] for node in graph.values() for dep in node.dependencies)


@pytest.mark.parametrize("workload", list(sim.WORKLOADS))
@pytest.mark.parametrize("n_workers", [3, 17])
def test_every_output_completes_and_the_measures_are_consistent(workload, n_workers):
    graph, keys = sim.WORKLOADS[workload](n_workers * 6)
    cluster = sim.SimulatedCluster(n_workers, 2, seed=1)
    makespan = cluster.run(graph, keys)
    assert cluster.completed >= set(keys)
    # no schedule beats all threads busy all the time, nor the longest chain of mean durations (less noise)
    assert makespan >= sum(cluster.busy.values()) / (2 * n_workers)
    assert makespan >= 0.5 * sim._critical_path(graph)
    assert 0 <= cluster.bytes_moved <= _input_bytes(graph)
    if workload == "independent":
        assert cluster.bytes_moved == 0
    # every task ran exactly once: the busy time is the sum of one duration per task
    assert cluster.output_bytes == sum(sim.KINDS[k[0]][1] for k in graph)
    cluster.state.validate_state()


def test_script_writes_its_table_and_page(tmp_path, capsys):
    assert sim.main(["--quick", "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "simulated_cluster.json").read_text())
    assert {r["workload"] for r in rows} == set(sim.WORKLOADS) and all(r["completed"] for r in rows)
    page = (tmp_path / "simulated_cluster.html").read_text()
    assert "Bokeh" in page and "scheduler" in page
    assert "decisions/s" in capsys.readouterr().out
