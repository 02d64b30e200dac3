"""A newcomer's first minutes: the README's install-and-demo command in a clean virtual environment.

The command is read from README.md (never copied here), run verbatim by a
shell whose ``python3`` is a fresh ``venv`` without system site-packages,
in a copy of this working tree. The demo must finish within two minutes on
this machine, and the dashboard link it prints must answer HTTP 200 while it
runs. The install needs the package index (as a newcomer's does); pip's
cache is kept so repeated runs are quick.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_demo import LINK, StreamedProcess, http_status

REPO = Path(__file__).resolve().parents[1]
DEMO_SECONDS = 120  # the promise to a newcomer on 2 cores
INSTALL_SECONDS = 240  # a cold pip cache downloads numpy, pandas, pyarrow, bokeh


def readme_command(marker: str) -> str:
    """The one line in a ```bash block of README.md that contains ``marker``."""
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"^```bash\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    lines = [line.strip() for block in blocks for line in block.splitlines() if marker in line]
    assert len(lines) == 1, f"README.md should show exactly one command with {marker!r}, found {lines}"
    return lines[0]


def test_readme_command_is_found_and_installs_then_runs_the_demo():
    command = readme_command("-m shoal demo")
    assert "pip install" in command and command.index("pip install") < command.index("-m shoal demo")


def copy_working_tree(destination: Path) -> Path:
    """The repository as a newcomer's clone would have it (no build products, no git metadata)."""
    ignore = shutil.ignore_patterns(".git", "__pycache__", "*.egg-info", "build", "dist", ".hypothesis",
                                    ".pytest_cache", ".benchmarks", "*.pyc")
    shutil.copytree(REPO, destination, ignore=ignore)
    return destination


def clean_environment(venv: Path) -> dict:
    """This process's environment with the venv first on PATH and nothing leaking our packages in."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    env["PYTHONUNBUFFERED"] = "1"  # progress and the link appear as they happen
    return env


@pytest.mark.timeout(INSTALL_SECONDS + DEMO_SECONDS + 60)
def test_readme_install_and_demo_in_a_clean_venv(tmp_path):
    command = readme_command("-m shoal demo")
    clone = copy_working_tree(tmp_path / "shoal")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = clean_environment(venv)
    # The venv really is clean: its python3 sees no shoal and no numpy before the README's command.
    probe = subprocess.run(["python3", "-c", "import sys; print(sys.prefix)\nimport numpy"], env=env, cwd=clone,
                           capture_output=True, text=True, timeout=60)
    assert probe.stdout.strip() == str(venv) and "ModuleNotFoundError" in probe.stderr, probe

    started = time.monotonic()
    run = StreamedProcess(command, shell=True, cwd=clone, env=env, executable="/bin/bash")
    try:
        run.wait_for(r"Successfully installed|Obtaining|Requirement already satisfied", INSTALL_SECONDS)
        link = run.wait_for(LINK, INSTALL_SECONDS).group(1)
        demo_started = time.monotonic()  # the demo has printed its first line: pip is done
        assert http_status(link) == 200, f"the dashboard {link} did not answer while the demo ran"
        still_running = run.proc.poll() is None
        code = run.finish(timeout=DEMO_SECONDS)
        demo_seconds = time.monotonic() - demo_started
    finally:
        run.stop()
    assert code == 0, run.output
    assert still_running, "the demo ended before its dashboard was checked; the check proves nothing"
    assert demo_seconds < DEMO_SECONDS, f"the demo took {demo_seconds:.0f} s"
    assert "equal to pandas: True" in run.output and "equal to NumPy: True" in run.output
    assert "what ran where" in run.output
    print(f"install {demo_started - started:.1f} s, demo {demo_seconds:.1f} s")
