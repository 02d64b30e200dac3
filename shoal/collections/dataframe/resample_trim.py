"""Completing and trimming a partition-wise ``resample``.

Each partition's result gets every bin of its range (``with_every_bin``):
pandas' full-frame result has the bins no row falls in, holding what each
aggregation gives for no rows (0 for ``sum``/``count``/``size``/``nunique``, 1
for ``prod``, null otherwise), column by column for ``agg`` of a list or dict.

Then the result is trimmed to the rows the frame really has. Both resample
paths (fixed and calendar rules) also move partition bounds onto bin starts
through ``distinct_bounds``.

pandas' result runs from the bin of the frame's first row to the bin of its
last one. Each partition is given every bin of its division range, but
divisions only bound the rows: after a filter the first rows may be gone, and
the first partition would then start with empty bins pandas does not have.
So every partition also reports the index of its first and last row (a tiny
task beside the resample, so the partition itself is not held any longer),
and every resampled partition drops the bins outside the overall span.
"""

from __future__ import annotations

import pandas as pd

from ...taskgraph.core import Ref, Task

#: what an aggregation of no rows gives, where pandas gives a value rather than null
_EMPTY_VALUE = {"sum": 0, "count": 0, "size": 0, "nunique": 0, "prod": 1}
_COUNTS = {"count", "size", "nunique"}


def distinct_bounds(bounds) -> tuple:
    """Partition bounds moved onto bin starts, with the repeats merged (a partition left empty by the move
    goes); the last bound, the frame's last row, always stays."""
    kept = [bounds[0]]
    for bound in bounds[1:-1]:
        if bound > kept[-1]:
            kept.append(bound)
    if bounds[-1] > kept[-1] or len(kept) == 1:
        kept.append(bounds[-1])
    return tuple(kept)


def _reindexed(values, bins, aggregation):
    """``values`` (one column) on ``bins``, the new bins holding what ``aggregation`` gives for no rows."""
    empty = _EMPTY_VALUE.get(aggregation) if isinstance(aggregation, str) else None
    filled = values.reindex(bins, fill_value=empty)
    if aggregation in _COUNTS and len(values) == 0 and len(filled):
        filled = filled.astype("int64")  # counts of an empty partition: integers, as pandas gives
    return filled


def _aggregations(result, method, args):
    """The aggregation that made each column of a DataFrame ``result`` (None where unknown)."""
    spec = args[0] if method == "agg" and args else method
    columns = result.columns
    if isinstance(columns, pd.MultiIndex):  # agg([...]) of a frame or agg({col: [...]}): (column, aggregation)
        return list(columns.get_level_values(-1))
    if isinstance(spec, dict):
        return [spec.get(c) if isinstance(spec.get(c), str) else None for c in columns]
    if isinstance(spec, (list, tuple)):  # agg([...]) of a Series: one column per aggregation
        return list(columns)
    return [spec] * len(columns)


def with_every_bin(result, bins, method, args):
    """A partition's resample ``result`` on all ``bins`` of its range (see the module docstring)."""
    if isinstance(result, pd.Series):
        return _reindexed(result, bins, args[0] if method == "agg" and args else method)
    if result.shape[1] == 0:
        return result.reindex(bins)
    columns = [_reindexed(result.iloc[:, i], bins, aggregation)
               for i, aggregation in enumerate(_aggregations(result, method, args))]
    filled = pd.concat(columns, axis=1)
    filled.columns = result.columns
    return filled


def _index_span(part):
    """``(first, last)`` index values of a sorted partition, ``None`` when it has no rows."""
    return (part.index[0], part.index[-1]) if len(part) else None


def _overall_span(*spans):
    spans = [s for s in spans if s is not None]
    return (spans[0][0], spans[-1][1]) if spans else None


def _trim(resampled, span, bin_label, *args):
    if span is None:
        return resampled.iloc[:0]
    first, last = bin_label(span[0], *args), bin_label(span[1], *args)
    index = resampled.index
    if len(index) == 0 or (index[0] >= first and index[-1] <= last):
        return resampled
    return resampled[(index >= first) & (index <= last)]


def trimmed_layer(expr, resample_task, bin_label, *args) -> dict:
    """The layer of ``expr``: ``resample_task(key, index)`` for every partition of ``expr.frame``, trimmed to
    the bins from ``bin_label(first row, *args)`` to ``bin_label(last row, *args)``."""
    frame, name = expr.frame, expr._name
    layer, spans = {}, []
    for i in range(frame.npartitions):
        span, raw = (f"{name}-span", i), (f"{name}-untrimmed", i)
        layer[span] = Task(span, _index_span, Ref(frame._key(i)))
        layer[raw] = resample_task(raw, i)
        spans.append(Ref(span))
    overall = f"{name}-rows"
    layer[overall] = Task(overall, _overall_span, *spans)
    for i in range(frame.npartitions):
        layer[expr._key(i)] = Task(expr._key(i), _trim, Ref((f"{name}-untrimmed", i)), Ref(overall), bin_label,
                                   *args)
    return layer
