"""Medians, per-pair ratios, and the printed table.

>>> r = CaseResult("demo", tasks=1000)
>>> for s, d in [(1.0, 2.0), (3.0, 2.0), (1.0, 4.0)]:
...     r.add_pair(s, d)
>>> r.shoal_median, r.dask_median, r.ratio_median
(1.0, 2.0, 0.5)
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

NOT_INSTALLED = "dask not installed"


@dataclass
class CaseResult:
    """Every measurement of one case: seconds per library and per-pair ratios.

    A ratio is taken only within a pair (the shoal run and the Dask run made
    one after the other), so a slow minute on a shared machine moves both
    sides of a ratio rather than one library's median.
    """

    name: str
    tasks: int | None = None
    shoal: list[float] = field(default_factory=list)
    dask: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add_pair(self, shoal_seconds: float | None, dask_seconds: float | None) -> None:
        if shoal_seconds is not None:
            self.shoal.append(shoal_seconds)
        if dask_seconds is not None:
            self.dask.append(dask_seconds)
        if shoal_seconds is not None and dask_seconds:
            self.ratios.append(shoal_seconds / dask_seconds)

    @property
    def shoal_median(self) -> float | None:
        return _median(self.shoal)

    @property
    def dask_median(self) -> float | None:
        return _median(self.dask)

    @property
    def ratio_median(self) -> float | None:
        return _median(self.ratios)

    def per_task_us(self, seconds: float | None) -> float | None:
        if seconds is None or not self.tasks:
            return None
        return seconds / self.tasks * 1e6

    def as_json(self) -> dict:
        return {
            "case": self.name,
            "tasks": self.tasks,
            "shoal_seconds": self.shoal,
            "dask_seconds": self.dask,
            "ratios": self.ratios,
            "shoal_median": self.shoal_median,
            "dask_median": self.dask_median,
            "ratio_median": self.ratio_median,
            "shoal_us_per_task": self.per_task_us(self.shoal_median),
            "dask_us_per_task": self.per_task_us(self.dask_median),
            "errors": self.errors,
        }


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


HEADERS = ("case", "tasks", "shoal s", "dask s", "shoal/dask", "shoal µs/task", "dask µs/task")


def format_table(results: list[CaseResult], dask_available: bool) -> str:
    """The results as an aligned text table, one row per case.

    >>> r = CaseResult("x", tasks=4, shoal=[0.002])
    >>> print(format_table([r], dask_available=False))  # doctest: +NORMALIZE_WHITESPACE
    case  tasks  shoal s  dask s              shoal/dask  shoal µs/task  dask µs/task
    x         4    0.002  dask not installed           -          500.0             -
    """
    rows = [HEADERS] + [_row(r, dask_available) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    # Names are left-aligned, numbers right-aligned; so is the dask column
    # when it holds the "dask not installed" note instead of numbers.
    left = {0} if dask_available else {0, 3}
    lines = []
    for row in rows:
        cells = [cell.ljust(w) if i in left else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _row(r: CaseResult, dask_available: bool) -> tuple[str, ...]:
    shoal_cell = _seconds(r.shoal_median, failed=bool(r.errors))
    if dask_available:
        dask_cell = _seconds(r.dask_median, failed=bool(r.errors))
        ratio_cell = "-" if r.ratio_median is None else f"{r.ratio_median:.3g}"
    else:
        dask_cell, ratio_cell = NOT_INSTALLED, "-"
    return (
        r.name,
        "-" if r.tasks is None else str(r.tasks),
        shoal_cell,
        dask_cell,
        ratio_cell,
        _micros(r.per_task_us(r.shoal_median)),
        _micros(r.per_task_us(r.dask_median)) if dask_available else "-",
    )


def _seconds(value: float | None, failed: bool) -> str:
    if value is None:
        return "error" if failed else "-"
    return f"{value:.3f}"


def _micros(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
