"""``python -m benchmarks.chaos`` at a small size: worker processes killed mid-computation,
every result still arrives and is right."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.timeout(90)

REPO = Path(__file__).resolve().parents[2]


def test_chaos_script_survives_two_kills_with_correct_results():
    tasks, rows, partitions, seed = 2000, 20_000, 8, 3
    argv = [sys.executable, "-m", "benchmarks.chaos", "--kills", "2", "--interval", "1", "--tasks", str(tasks),
            "--rows", str(rows), "--partitions", str(partitions), "--seed", str(seed), "--json"]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONUNBUFFERED="1"))
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    report = json.loads(done.stdout.strip().splitlines()[-1])

    assert report["ok"] and report["error"] is None, output
    assert report["kills"] == 2 and len(report["kill_times"]) == 2, output
    # Each killed process was noticed and removed by the scheduler.
    assert report["removed_workers"] >= 2, output
    assert report["rounds"] >= 1
    # The values themselves, checked here without shoal: the graph sums i + 1 over its
    # tasks // 2 leaves; the shuffle only moves rows of the frame the script generated.
    assert report["graph_total"] == sum(i + 1 for i in range(tasks // 2))
    from benchmarks.chaos import shuffle_frame

    pdf = pd.DataFrame(shuffle_frame(rows, partitions, seed)[0])
    assert report["frame_rows"] == len(pdf) == rows
    assert report["frame_x_sum"] == pytest.approx(float(pdf["x"].sum()), rel=1e-12)
