"""The README's demo command works: ``python -m shoal demo`` (cluster) and ``--local``."""

import subprocess
import sys


def run_demo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "shoal", "demo", *args], capture_output=True, text=True, timeout=150
    )


def test_cluster_demo_checks_results_against_numpy_and_pandas():
    done = run_demo()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "LocalCluster with 2 worker processes" in done.stdout
    assert "equal to NumPy: True" in done.stdout
    assert "equal to pandas: True" in done.stdout
    assert "100% Completed" in done.stdout


def test_local_demo_runs_with_a_progress_bar():
    done = run_demo("--local", "--chunks", "8", "--chunk-size", "10000", "--scheduler", "processes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "100% Completed" in done.stdout
    assert "identical" in done.stdout
