"""Trimming a partition-wise ``resample`` to the rows the frame really has.

pandas' result runs from the bin of the frame's first row to the bin of its
last one. Each partition is given every bin of its division range, but
divisions only bound the rows: after a filter the first rows may be gone, and
the first partition would then start with empty bins pandas does not have.
So every partition also reports the index of its first and last row (a tiny
task beside the resample, so the partition itself is not held any longer),
and every resampled partition drops the bins outside the overall span.
"""

from __future__ import annotations

from ...taskgraph.core import Ref, Task


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
