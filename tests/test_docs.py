"""Every ```python block of docs/*.md and README.md runs, so the documentation cannot rot.

The blocks of one page run in order in one namespace (like a notebook), in a
fresh Python process whose working directory is a temporary folder; a failing
block is reported with its page and line (tracebacks point into the .md file).
A block fenced ```python no-run is not run: only examples that need a cluster
manager this machine does not have (Slurm, SSH hosts, Kubernetes) may say so.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PAGES = sorted(DOCS.glob("*.md")) + [REPO / "README.md"]
FENCE = re.compile(r"^```python(?P<flags>[^\n]*)\n(?P<code>.*?)^```\s*$", re.MULTILINE | re.DOTALL)
#: What a no-run block must mention: the cluster managers the test machine does not run.
CLUSTER_MANAGERS = ("SlurmCluster", "SSHCluster", "Kubernetes", "kubernetes", "kubectl")
PAGE_TIMEOUT = 120


def code_blocks(page: Path) -> list[dict]:
    """``[{"line": first code line, "code": ..., "run": bool}]`` for each ```python block."""
    text = page.read_text()
    blocks = []
    for match in FENCE.finditer(text):
        flags = match.group("flags").split()
        unknown = [f for f in flags if f != "no-run"]
        assert not unknown, f"{page.name}: unknown flag(s) {unknown} on a ```python fence (only no-run exists)"
        line = text.count("\n", 0, match.start("code")) + 1
        blocks.append({"line": line, "code": match.group("code"), "run": "no-run" not in flags})
    return blocks


def run_page(page: str, blocks: list[dict]) -> None:
    """Run in a child process: each block compiled with its page and line, so tracebacks point at the doc."""
    namespace = {"__name__": "__main__"}
    for block in blocks:
        source = "\n" * (block["line"] - 1) + block["code"]  # line numbers as in the .md file
        exec(compile(source, page, "exec"), namespace)


#: Fence languages a page may use; anything else (```py, ```pycon) would be skipped silently.
KNOWN_FENCES = {"python", "bash", "yaml", "text", ""}


def test_every_page_has_python_examples_and_only_known_fences():
    assert DOCS.is_dir(), "docs/ is missing"
    for page in PAGES:
        if page.name != "README.md":
            assert code_blocks(page), f"{page.name} has no ```python example"
        text = page.read_text()
        fences = re.findall(r"^ *```(\S*)", text, flags=re.MULTILINE)
        opening = fences[::2]  # fences alternate: opening (with a language), closing (bare)
        assert len(fences) % 2 == 0, f"{page.name}: a ``` fence is not closed"
        unknown = sorted(set(opening) - KNOWN_FENCES)
        assert not unknown, f"{page.name}: code fences {unknown} are neither run nor known; use ```python or ```bash"
        assert opening.count("python") == len(code_blocks(page)), (
            f"{page.name}: an indented ```python block would not be run; start python fences at the line's start")


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_no_run_marks_only_examples_that_need_a_cluster_manager(page):
    for block in code_blocks(page):
        if not block["run"]:
            assert any(word in block["code"] for word in CLUSTER_MANAGERS), (
                f"{page.name} line {block['line']}: a ```python no-run block that needs no cluster manager; "
                "make it runnable (small data, a LocalCluster) so the test suite checks it")


@pytest.mark.timeout(PAGE_TIMEOUT + 30)
@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_code_blocks_execute(page, tmp_path):
    blocks = [b for b in code_blocks(page) if b["run"]]
    if not blocks:
        return
    program = (f"import sys, json; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
               f"from test_docs import run_page; run_page({str(page)!r}, json.loads(sys.stdin.read()))")
    done = subprocess.run([sys.executable, "-c", program], input=json.dumps(blocks), cwd=tmp_path,
                          capture_output=True, text=True, timeout=PAGE_TIMEOUT)
    assert done.returncode == 0, f"a code block of {page.name} failed:\n{done.stderr[-6000:]}"


def test_every_config_default_is_documented():
    """docs/configuration.md names every key the defaults hold (after every subpackage registered its own)."""
    import shoal.array  # noqa: F401  (each registers its defaults on import)
    import shoal.bag  # noqa: F401
    import shoal.dashboard  # noqa: F401
    import shoal.dataframe  # noqa: F401
    import shoal.distributed  # noqa: F401
    from shoal import config

    def leaves(tree: dict, prefix: str = ""):
        for key, value in tree.items():
            if isinstance(value, dict) and value:
                yield from leaves(value, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}"

    # Keys read with a literal name anywhere in shoal/ count too, registered or not.
    read = {m for path in (REPO / "shoal").rglob("*.py")
            for m in re.findall(r"config\.get\(\s*[\"']([a-z0-9_.-]+)[\"']", path.read_text())}
    text = (DOCS / "configuration.md").read_text()
    keys = list(leaves(config.defaults)) + sorted(read - set(leaves(config.defaults)))
    missing = [key for key in keys if f"`{key}`" not in text]
    assert not missing, f"docs/configuration.md does not document {missing}"


def shell_commands(program: str) -> list[tuple[str, list[str]]]:
    """``(page, argv)`` of every line of a ```bash block (docs and README) that runs ``program``."""
    found = []
    for page in PAGES:
        for block in re.findall(r"^```bash\n(.*?)^```", page.read_text(), flags=re.MULTILINE | re.DOTALL):
            for line in block.splitlines():
                for command in line.split("&&"):
                    argv = shlex.split(command, comments=True)
                    if program in argv:
                        found.append((page.name, argv[argv.index(program) + 1:]))
    return found


@pytest.mark.parametrize("program", ["shoal-scheduler", "shoal-worker", "shoal"])
def test_command_lines_shown_in_the_docs_parse(program):
    """Every shoal-scheduler / shoal-worker / python -m shoal line in a bash block uses flags that exist."""
    from shoal.__main__ import command_parser
    from shoal.distributed.cli import scheduler_parser, worker_parser

    parser = {"shoal-scheduler": scheduler_parser, "shoal-worker": worker_parser, "shoal": command_parser}[program]()
    commands = shell_commands(program)
    assert commands, f"no {program} command in the docs"
    for page, argv in commands:
        try:
            parser.parse_args(argv)
        except SystemExit as exit:
            raise AssertionError(f"{page}: `{program} {shlex.join(argv)}` does not parse") from exit
