"""The registry of benchmark cases, and ``--case`` selection.

>>> [c.name for c in select(["delayed-chain-s*"])]
['delayed-chain-sync']
>>> [c.name for c in select(["tree-proc"])]
['delayed-tree-processes']
"""

from __future__ import annotations

import fnmatch
from typing import Iterable

from . import (array_matmul, array_mean, array_random_sum, array_rechunk, bag_wordcount, dataframe_csv,
               dashboard_overhead, dataframe_groupby, dataframe_parquet, dataframe_shuffle, dataframe_wide, delayed_overhead,
               distributed_futures, distributed_million, distributed_shuffle)
from .base import LIBRARIES, BenchmarkCase

__all__ = ["BenchmarkCase", "LIBRARIES", "all_cases", "get_case", "select"]


def all_cases() -> list[BenchmarkCase]:
    """Every case, in the order the table lists them."""
    return [*delayed_overhead.cases(), *bag_wordcount.cases(), *dataframe_groupby.cases(), *dataframe_shuffle.cases(), *dataframe_wide.cases(),
            *dataframe_parquet.cases(), *dataframe_csv.cases(), *array_mean.cases(), *array_matmul.cases(),
            *array_random_sum.cases(), *array_rechunk.cases(),
            *distributed_futures.cases(), *distributed_million.cases(), *distributed_shuffle.cases(), *dashboard_overhead.cases()]


def get_case(name: str) -> BenchmarkCase:
    for case in all_cases():
        if case.name == name:
            return case
    known = ", ".join(c.name for c in all_cases())
    raise KeyError(f"no benchmark case named {name!r}; known cases: {known}")


def select(patterns: Iterable[str] | None) -> list[BenchmarkCase]:
    """Cases whose name matches any pattern: a glob if it has ``*?[``, else a substring.

    No patterns (``None`` or empty) selects every case.
    """
    patterns = list(patterns or [])
    if not patterns:
        return all_cases()
    return [c for c in all_cases() if any(_matches(c.name, p) for p in patterns)]


def _matches(name: str, pattern: str) -> bool:
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return pattern in name
