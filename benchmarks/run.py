"""Run benchmark cases on shoal and Dask and print how they compare.

    python -m benchmarks.run                        # every case, 5 pairs each
    python -m benchmarks.run --case chain --repeat 3
    python -m benchmarks.run --quick                # small sizes, 1 pair (tests)
    python -m benchmarks.run --json results.json

Every measurement runs in a fresh interpreter, started as
``python -m benchmarks.run --child CASE LIB --size N``; the two libraries
alternate (shoal, dask, shoal, dask, ...) so that the noise of a shared
machine falls on both, and the ratio reported is the median of the per-pair
ratios shoal/dask (< 1: shoal is faster). Without Dask, shoal's times are
printed alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
from pathlib import Path

from . import child
from .cases import select
from .report import NOT_INSTALLED, CaseResult, format_table

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SIZE = 20_000
QUICK_SIZE = 2_000
DEFAULT_REPEAT = 5


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--case", action="append", metavar="PATTERN",
                   help="run cases whose name contains PATTERN (or matches it as a glob: 'delayed-*-sync'); "
                        "repeatable; default: every case")
    p.add_argument("--repeat", type=int, default=None, metavar="N",
                   help=f"shoal/dask pairs per case (default {DEFAULT_REPEAT}; 1 with --quick)")
    p.add_argument("--size", type=int, default=None, metavar="N",
                   help=f"workload size, e.g. number of delayed tasks (default {DEFAULT_SIZE:,}; "
                        f"{QUICK_SIZE:,} with --quick)")
    p.add_argument("--quick", action="store_true", help="small sizes and one pair: a smoke test, not a measurement")
    p.add_argument("--json", metavar="FILE", help="also write every measurement to FILE as JSON")
    p.add_argument("--timeout", type=float, default=900.0, metavar="SECONDS",
                   help="give up on one measurement after this long (default 900)")
    p.add_argument("--list", action="store_true", help="list the selected cases and exit")
    p.add_argument("--child", nargs=2, metavar=("CASE", "LIB"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.repeat is None:
        args.repeat = 1 if args.quick else DEFAULT_REPEAT
    if args.size is None:
        args.size = QUICK_SIZE if args.quick else DEFAULT_SIZE
    if args.repeat < 1:
        p.error(f"--repeat must be at least 1, got {args.repeat}")
    if args.size < 1:
        p.error(f"--size must be at least 1, got {args.size}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        case_name, lib = args.child
        return child.main(case_name, lib, args.size)

    cases = select(args.case)
    if not cases:
        print(f"No benchmark case matches {args.case}; run with --list to see them.", file=sys.stderr)
        return 2
    if args.list:
        print("\n".join(c.name for c in cases))
        return 0

    dask_version = installed_dask_version()
    libs = ("shoal", "dask") if dask_version else ("shoal",)
    print(describe_environment(dask_version, args), flush=True)

    results = []
    for case in cases:
        result = CaseResult(case.name, tasks=case.task_count(args.size))
        for rep in range(args.repeat):
            runs = {}
            for lib in libs:  # alternating: shoal, dask, shoal, dask, ...
                record = runs[lib] = run_child(case.name, lib, args.size, args.timeout)
                progress(case.name, lib, rep, args.repeat, record)
                if "error" in record:
                    result.errors.append(f"{lib}, repetition {rep + 1}: {record['error']}")
            if "dask" in runs and "digest" in runs["shoal"] and "digest" in runs["dask"] \
                    and runs["shoal"]["digest"] != runs["dask"]["digest"]:
                result.errors.append(f"repetition {rep + 1}: shoal's result differs from Dask's")
            result.add_pair(runs["shoal"].get("seconds"), runs.get("dask", {}).get("seconds"))
        results.append(result)

    print()
    print(format_table(results, dask_available=bool(dask_version)))
    print()
    print("shoal/dask: median over repetitions of the ratio within each pair; < 1 means shoal is faster.")
    print("Times are medians of build + compute, each run in a fresh process; µs/task = time / tasks.")
    failed = [r for r in results if r.errors]
    for r in failed:
        for error in r.errors:
            print(f"ERROR {r.name}: {error}")
    if args.json:
        save_json(args.json, results, dask_version, args)
    return 1 if failed else 0


def installed_dask_version() -> str | None:
    """Dask's version if it imports here, else ``None`` (then only shoal runs)."""
    try:
        import dask
    except Exception:  # not installed, or installed but broken: either way, skip it
        return None
    return getattr(dask, "__version__", "unknown")


def run_child(case_name: str, lib: str, size: int, timeout: float) -> dict:
    """One measurement in a fresh interpreter; the child's record, or an error."""
    cmd = [sys.executable, "-m", "benchmarks.run", "--child", case_name, lib, "--size", str(size)]
    # Its own session, so a timeout can stop the child's worker processes too.
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"error": f"timed out after {timeout:g} s (raise --timeout or lower --size)"}
    for line in reversed(out.splitlines()):
        if line.startswith(child.MARKER):
            record = json.loads(line[len(child.MARKER):])
            if "traceback" in record:
                sys.stderr.write(record["traceback"])
            return record
    tail = "\n".join(err.strip().splitlines()[-5:])
    return {"error": f"child exited with code {proc.returncode} without a result: {tail}"}


def progress(case_name: str, lib: str, rep: int, repeat: int, record: dict) -> None:
    outcome = f"{record['seconds']:.3f} s" if "seconds" in record else "failed"
    print(f"  {case_name} {lib:5} {rep + 1}/{repeat}: {outcome}", file=sys.stderr, flush=True)


def describe_environment(dask_version: str | None, args: argparse.Namespace) -> str:
    import shoal

    dask = f"dask {dask_version}" if dask_version else NOT_INSTALLED
    return (f"shoal {shoal.__version__}, {dask}, Python {platform.python_version()}, "
            f"{os.cpu_count()} CPUs; size {args.size:,}, {args.repeat} pair(s) per case")


def save_json(path: str, results: list[CaseResult], dask_version: str | None, args: argparse.Namespace) -> None:
    import shoal

    payload = {
        "shoal_version": shoal.__version__,
        "dask_version": dask_version,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "size": args.size,
        "repeat": args.repeat,
        "cases": [r.as_json() for r in results],
    }
    with open(path, "w") as f:
        json.dump(payload, f, indent=2)


if __name__ == "__main__":  # required: Dask's processes scheduler spawns workers that re-import __main__
    sys.exit(main())
