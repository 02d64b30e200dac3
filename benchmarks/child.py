"""One measurement: run one case once, on one library, in this process.

The runner starts a fresh interpreter for every measurement (see ``run.py``)
so that neither library inherits warm caches, pools or garbage from the
other. The measurement comes back as one JSON line on stdout.
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from typing import Any

from .cases import get_case

MARKER = "BENCHMARK-RESULT "  # prefixes the JSON line, so stray prints are ignored


def measure(case_name: str, lib: str, size: int) -> dict:
    """Set up, time ``run_<lib>()`` (build + compute), then check the result.

    Returns a dict with ``seconds`` and the result's ``digest`` (so the runner
    can compare shoal's answer with Dask's), or ``error`` saying what failed.
    """
    record: dict[str, Any] = {"case": case_name, "lib": lib, "size": size}
    try:
        case = get_case(case_name)
        record["tasks"] = case.task_count(size)
        case.setup(lib, size)
        run = getattr(case, f"run_{lib}")
        start = time.perf_counter()
        result = run()
        record["seconds"] = time.perf_counter() - start
        own = case.reported_seconds()
        if own is not None:  # the case timed its parts itself (e.g. a median of round trips)
            record["wall_seconds"], record["seconds"] = record["seconds"], own
    except Exception as exc:  # report any failure as data: the runner shows it per case
        record["error"] = f"{type(exc).__name__}: {exc}"
        record["traceback"] = traceback.format_exc()
        return record
    expected = case.expected(size)
    if result != expected:
        record["error"] = f"wrong result on {lib}: {describe_difference(result, expected)}"
    record["digest"] = digest(result)
    return record


def digest(value: Any) -> str:
    """A short fingerprint of a result, equal for equal plain-Python results.

    >>> digest([1, 2]) == digest([1, 2]) != digest([2, 1])
    True
    """
    return hashlib.sha256(repr(value).encode()).hexdigest()[:16]


def describe_difference(got: Any, expected: Any) -> str:
    """Where two results differ, briefly (results may hold 20,000 items).

    >>> describe_difference([1, 2, 9], [1, 2, 3])
    'item 2 is 9, expected 3'
    """
    if isinstance(got, (list, tuple)) and isinstance(expected, (list, tuple)):
        if len(got) != len(expected):
            return f"{len(got)} items, expected {len(expected)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            if g != e:
                return f"item {i} is {g!r}, expected {e!r}"
    return f"{_short(got)}, expected {_short(expected)}"


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def main(case_name: str, lib: str, size: int) -> int:
    record = measure(case_name, lib, size)
    print(MARKER + json.dumps(record), flush=True)
    return 1 if "error" in record else 0
