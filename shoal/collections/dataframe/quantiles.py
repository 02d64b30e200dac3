"""Approximate quantiles and ``describe``.

Each partition keeps a *summary* of its sorted non-null values: all of them
when it has at most ``SUMMARY_SIZE`` (1,000), else 1,000 values at evenly
spaced ranks, each standing for ``n / 1000`` rows. Summaries are merged by
concatenation; the quantile is read off the merged, weighted order
statistics with pandas' linear interpolation between ranks.

Error bound: each partition's summary places every value within
``n_i / 1000`` ranks of its true rank, so the returned value lies between
the exact order statistics at ranks ``q (N - 1) ± N / 1000``: within 0.1% of
the rows of the exact answer. When no partition has more than 1,000
non-null values, the result equals pandas' exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...taskgraph.core import Ref, Task
from .expr import FrameExpr

__all__ = ["SUMMARY_SIZE", "quantile_chunk", "quantile_combine", "quantile_aggregate", "Gather"]

SUMMARY_SIZE = 1_000


def _summary(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values = np.sort(values)
    n = len(values)
    if n <= SUMMARY_SIZE:
        return values, np.ones(n)
    picks = ((np.arange(SUMMARY_SIZE) + 0.5) * n / SUMMARY_SIZE).astype(np.int64)
    return values[picks], np.full(SUMMARY_SIZE, n / SUMMARY_SIZE)


def _numeric_values(series: pd.Series) -> np.ndarray:
    return series.dropna().to_numpy(dtype="float64", na_value=np.nan)


def quantile_chunk(part, q=0.5):
    if isinstance(part, pd.DataFrame):
        return {c: _summary(_numeric_values(part[c])) for c in part.columns}
    return _summary(_numeric_values(part))


def _merge(summaries: list) -> tuple[np.ndarray, np.ndarray]:
    values = np.concatenate([s[0] for s in summaries])
    weights = np.concatenate([s[1] for s in summaries])
    order = np.argsort(values, kind="stable")
    return values[order], weights[order]


def quantile_combine(partials: list, q=0.5):
    if isinstance(partials[0], dict):
        return {c: _merge([p[c] for p in partials]) for c in partials[0]}
    return _merge(partials)


def _read_quantiles(summary, qs: list) -> list:
    values, weights = summary
    if len(values) == 0:
        return [np.nan] * len(qs)
    total = weights.sum()
    ranks = np.cumsum(weights) - weights / 2 - 0.5  # the rank each kept value stands at (exact when weights are 1)
    return [float(np.interp(q * (total - 1), ranks, values)) for q in qs]


def quantile_aggregate(partials: list, q=0.5):
    merged = quantile_combine(partials)
    qs = list(q) if isinstance(q, (list, tuple)) else [q]
    if isinstance(merged, dict):
        table = {c: _read_quantiles(s, qs) for c, s in merged.items()}
        if isinstance(q, (list, tuple)):
            return pd.DataFrame(table, index=pd.Index(qs, dtype="float64"))
        return pd.Series({c: v[0] for c, v in table.items()}, dtype="float64", name=q)
    out = _read_quantiles(merged, qs)
    if isinstance(q, (list, tuple)):
        return pd.Series(out, index=pd.Index(qs, dtype="float64"))
    return out[0]


def _call(func, *values):
    return func(*values)


class Gather(FrameExpr):
    """``func(value_0, value_1, ...)`` of several one-partition results, in one task."""

    _parameters = ["inputs", "func", "meta"]

    def _compute_meta(self):
        return self.meta

    def _compute_divisions(self):
        return (None, None)

    @property
    def _is_scalar(self):
        return not isinstance(self.meta, (pd.DataFrame, pd.Series, pd.Index))

    def _task(self, index):
        return Task(self._key(0), _call, self.func, *[Ref(e._key(0)) for e in self.inputs])

    def _explain_args(self):
        return {"func": getattr(self.func, "__name__", "gather")}


DESCRIBE_ROWS = ["count", "mean", "std", "min", "25%", "50%", "75%", "max"]


def assemble_describe(count, mean, std, minimum, quartiles, maximum, rows=DESCRIBE_ROWS, name=None,
                      dtypes="float64"):
    """pandas' ``describe`` table from its parts; ``rows`` are its labels (count, mean, std, min, the
    percentiles, max), ``name`` the name of a Series' result and ``dtypes`` pandas' (Float64 for nullable)."""
    if isinstance(count, pd.Series):
        values = [count.astype("float64"), mean, std, minimum.astype("float64")]
        values += [quartiles.iloc[i] for i in range(len(quartiles))] + [maximum.astype("float64")]
        frame = pd.DataFrame([r.to_numpy(dtype="float64", na_value=np.nan) for r in values], index=rows,
                             columns=count.index)
        return frame.astype(dtypes)
    values = [float(count), mean, std, float(minimum), *quartiles.to_numpy(), float(maximum)]
    return pd.Series(values, index=rows, dtype="float64", name=name).astype(dtypes)
