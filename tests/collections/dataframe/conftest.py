"""Fixtures of the dataframe tests: one pandas frame of many dtypes, partitioned three ways."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as dd


def make_pandas(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """Numbers with NaN, nullable ints with NA, strings with None, categoricals, tz-aware datetimes, bools."""
    rng = np.random.default_rng(seed)
    floats = rng.normal(size=n)
    floats[::7] = np.nan
    nullable = pd.array(rng.integers(-5, 5, n), dtype="Int64")
    nullable[::5] = pd.NA
    strings = rng.choice(["apple", "Banana", "cherry", "date"], n).astype(object)
    strings[::6] = None
    return pd.DataFrame(
        {
            "i": rng.integers(0, 100, n),
            "f": floats,
            "n": nullable,
            "s": pd.array(strings, dtype="str"),
            "c": pd.Categorical(rng.choice(["lo", "mid", "hi"], n), categories=["lo", "mid", "hi"]),
            "t": pd.date_range("2021-03-27", periods=n, freq="7h", tz="Europe/Paris"),
            "b": rng.integers(0, 2, n).astype(bool),
            "k": rng.integers(0, 4, n),
        },
        index=pd.Index(np.arange(n) * 2, name="idx"),
    )


def _with_empty_partitions(pdf: pd.DataFrame):
    """Partitions of uneven size, two of them empty (one at the start)."""
    cuts = [0, 0, 10, 25, 25, 40, len(pdf)]
    parts = [pdf.iloc[a:b] for a, b in zip(cuts[:-1], cuts[1:])]
    return dd.from_map(lambda part: part, parts, meta=pdf.iloc[:0])


PARTITIONINGS = ["known", "unknown", "empty-parts"]


def partitioned(pdf: pd.DataFrame, how: str):
    if how == "known":
        return dd.from_pandas(pdf, npartitions=4)
    if how == "unknown":
        return dd.from_pandas(pdf, npartitions=3, sort=False)
    return _with_empty_partitions(pdf)


@pytest.fixture
def pdf() -> pd.DataFrame:
    return make_pandas()


@pytest.fixture(params=PARTITIONINGS)
def frames(request, pdf):
    """``(pandas frame, shoal frame)`` with known divisions, unknown divisions, or empty partitions."""
    return pdf, partitioned(pdf, request.param)


@pytest.fixture(params=["sync", "threads"])
def local_scheduler(request) -> str:
    return request.param
