"""The benchmark runner: it runs, prints its table, and checks results.

These run whether or not Dask is installed; when it is not, the runner must
still succeed and say so in the dask column.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `benchmarks` sits beside `shoal`, not inside it
    sys.path.insert(0, str(REPO))

from benchmarks import child  # noqa: E402
from benchmarks.cases import all_cases, delayed_overhead, get_case, select  # noqa: E402

DASK_AVAILABLE = importlib.util.find_spec("dask") is not None  # looked up, never imported here
QUICK_SIZE = 2000


def run_benchmarks(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.run", *args],
        cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env,
    )


def table_row(stdout: str, case_name: str) -> list[str]:
    """The cells of ``case_name``'s row; the dask note spans three words."""
    rows = [line for line in stdout.splitlines() if line.split()[:1] == [case_name]]
    assert len(rows) == 1, f"expected one row for {case_name} in:\n{stdout}"
    return rows[0].replace("dask not installed", "dask-not-installed").split()


def check_row(stdout: str, saved: dict, case_name: str, tasks: int, dask_expected: bool) -> None:
    """The printed row agrees with the raw seconds saved by ``--json``."""
    [case] = [c for c in saved["cases"] if c["case"] == case_name]
    assert case["errors"] == []
    shoal_median = statistics.median(case["shoal_seconds"])
    assert len(case["shoal_seconds"]) == saved["repeat"] and shoal_median > 0

    name, task_cell, shoal_s, dask_s, ratio, shoal_us, dask_us = table_row(stdout, case_name)
    assert int(task_cell) == tasks == case["tasks"]
    assert float(shoal_s) == pytest.approx(shoal_median, abs=0.0005)
    assert float(shoal_us) == pytest.approx(shoal_median / tasks * 1e6, abs=0.05)
    if dask_expected:
        dask_median = statistics.median(case["dask_seconds"])
        # Per-pair ratios: the i-th shoal run over the i-th Dask run.
        ratios = [s / d for s, d in zip(case["shoal_seconds"], case["dask_seconds"], strict=True)]
        assert float(dask_s) == pytest.approx(dask_median, abs=0.0005)
        assert float(ratio) == pytest.approx(statistics.median(ratios), rel=0.006)
        assert float(dask_us) == pytest.approx(dask_median / tasks * 1e6, abs=0.05)
    else:
        assert case["dask_seconds"] == []
        assert (dask_s, ratio, dask_us) == ("dask-not-installed", "-", "-")


def run_quick(tmp_path: Path, *args: str, env: dict | None = None) -> tuple[str, dict]:
    """Run with ``--quick --json``; the printed output and the saved results."""
    out = tmp_path / "results.json"
    proc = run_benchmarks("--quick", "--json", str(out), *args, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "shoal/dask" in proc.stdout
    return proc.stdout, json.loads(out.read_text())


def test_quick_chain_sync_prints_the_table(tmp_path):
    stdout, saved = run_quick(tmp_path, "--case", "delayed-chain-sync")
    assert saved["size"] == QUICK_SIZE and saved["repeat"] == 1
    assert (saved["dask_version"] is not None) == DASK_AVAILABLE
    check_row(stdout, saved, "delayed-chain-sync", tasks=QUICK_SIZE, dask_expected=DASK_AVAILABLE)
    assert [c["case"] for c in saved["cases"]] == ["delayed-chain-sync"]  # the filter selected one case


def test_quick_processes_case_prints_the_table(tmp_path):
    stdout, saved = run_quick(tmp_path, "--case", "delayed-tree-processes")
    check_row(stdout, saved, "delayed-tree-processes", tasks=QUICK_SIZE - 1, dask_expected=DASK_AVAILABLE)


def test_without_dask_prints_shoal_times_only(tmp_path):
    # A `dask` package that fails to import stands in for an environment without Dask.
    fake = tmp_path / "no_dask" / "dask"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('simulated: dask is not installed')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(fake.parent), os.environ.get("PYTHONPATH")]))}

    stdout, saved = run_quick(tmp_path, "--size", "300", "--repeat", "2", "--case", "delayed-independent-sync", env=env)

    assert "dask not installed" in stdout
    assert saved["dask_version"] is None and saved["repeat"] == 2
    check_row(stdout, saved, "delayed-independent-sync", tasks=300, dask_expected=False)


def test_no_matching_case_is_an_error():
    proc = run_benchmarks("--case", "no-such-case")
    assert proc.returncode == 2
    assert "--list" in proc.stderr


def test_case_selection_by_substring_and_glob():
    names = [c.name for c in all_cases()]
    assert [c.name for c in select(["chain"])] == [n for n in names if "chain" in n]
    assert [c.name for c in select(["delayed-*-sync"])] == [
        "delayed-independent-sync", "delayed-chain-sync", "delayed-tree-sync"]
    assert [c.name for c in select(None)] == names
    assert len(set(names)) == len(names)  # other modules add their cases to the registry
    assert len([n for n in names if n.startswith("delayed-")]) == 9


@pytest.mark.parametrize("n", [1, 2, 3, 7, 64, 101])
@pytest.mark.parametrize("workload", [delayed_overhead.independent, delayed_overhead.chain, delayed_overhead.tree])
def test_workloads_on_shoal_match_plain_python(workload, n):
    import shoal

    expected = {
        delayed_overhead.independent: [i + 1 for i in range(n)],
        delayed_overhead.chain: n,
        delayed_overhead.tree: sum(range(n)),
    }[workload]
    assert workload(shoal, n, "sync") == expected


def test_child_measures_and_checks_the_result():
    record = child.measure("delayed-tree-threads", "shoal", 50)
    assert "error" not in record, record
    assert record["tasks"] == 49 and record["seconds"] > 0
    assert record["digest"] == child.digest(sum(range(50)))


def test_child_reports_a_wrong_result(monkeypatch):
    case_type = type(get_case("delayed-chain-sync"))
    monkeypatch.setattr(case_type, "expected", lambda self, size: size + 1)
    record = child.measure("delayed-chain-sync", "shoal", 20)
    assert record["error"] == "wrong result on shoal: 20, expected 21"


def test_child_reports_an_unknown_case():
    record = child.measure("no-such-case", "shoal", 10)
    assert "no benchmark case named 'no-such-case'" in record["error"]


@pytest.mark.parametrize("module", ["benchmarks.cases", "benchmarks.cases.base",
                                    "benchmarks.cases.delayed_overhead", "benchmarks.child", "benchmarks.report"])
def test_doctests(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_child_reports_the_time_a_case_measured_itself(monkeypatch):
    case_type = type(get_case("delayed-chain-sync"))
    monkeypatch.setattr(case_type, "reported_seconds", lambda self: 0.125)
    record = child.measure("delayed-chain-sync", "shoal", 20)
    assert "error" not in record, record
    assert record["seconds"] == 0.125 and record["wall_seconds"] > 0


def test_round_trip_case_reports_the_median_round_trip():
    from benchmarks.cases import distributed_futures

    class _Done:
        def __init__(self, value):
            self.value = value

        def result(self):
            return self.value

    class _EagerClient:  # stands in for a Client: no cluster needed to check the timing
        def submit(self, func, *args):
            return _Done(func(*args))

    case = distributed_futures.RoundTripCase()
    case.client = _EagerClient()
    assert case.workload(None) == case.expected(0)
    assert len(case.timings) == distributed_futures.ROUND_TRIPS
    assert case.reported_seconds() == distributed_futures.ROUND_TRIPS * statistics.median(case.timings)


@pytest.mark.parametrize("name", [case.name for case in all_cases()])
def test_every_case_computes_the_right_answer_on_shoal_at_a_small_size(name):
    # the result is checked against the case's plain-Python/pandas/NumPy answer. Cases that start a
    # cluster keep it until their process exits (and make it the default scheduler), so they run in a
    # fresh interpreter, as the runner runs every case.
    if name.startswith(("distributed-", "dashboard-")):
        from benchmarks.run import run_child

        record = run_child(name, "shoal", 200, 120)
    else:
        record = child.measure(name, "shoal", 200)
    assert "error" not in record, record["error"]
