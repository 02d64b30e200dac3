"""``resample`` with calendar rules: weeks, months, quarters, years, business days.

Their bins have unequal lengths ('ME' is 28 to 31 days), so the fixed-step
arithmetic of ``resample.py`` does not apply. The bins of the whole frame are
instead laid out once, at graph-construction time, by pandas itself: the
resample of the frame's first and last timestamps has every label of the
result. Each bin is a run of whole days, and its first instant follows from
its label (pandas' rules: a bin closed on the left starts at midnight of its
anchor; one closed on the right, as 'ME' is by default, starts the day after
the previous anchor). The partitions are moved to first instants, so every
bin lies in one partition, and each partition is resampled by pandas and
given exactly the labels of the bins that start in it (empty bins included,
as in pandas' full-frame result).

>>> import pandas as pd, shoal.dataframe as dd
>>> pdf = pd.DataFrame({"x": range(6)}, index=pd.date_range("2024-01-20", periods=6, freq="9D"))
>>> dd.from_pandas(pdf, npartitions=3).resample("ME").sum().compute(scheduler="sync").x.tolist()
[1, 9, 5]
"""

from __future__ import annotations

import pandas as pd

from ...taskgraph.core import Task, Ref
from .expr import FrameExpr
from .resample_trim import distinct_bounds, trimmed_layer, with_every_bin

__all__ = ["CalendarBins", "CalendarResampled", "is_calendar_rule"]

# pandas closes and labels these on the right by default (a month's total is named by its last day)
_END_ANCHORED = {"W", "ME", "QE", "YE", "BME", "BQE", "BYE"}


def is_calendar_rule(offset) -> bool:
    """True for offsets with no fixed length ('W', 'ME', 'B', ...), which ``pd.Timedelta`` refuses."""
    try:
        pd.Timedelta(offset)
    except (ValueError, TypeError):
        return True
    return False


class CalendarBins:
    """The bins of one calendar ``offset`` over ``[first, last]``: their ``labels`` and ``starts`` (first
    instants), as pandas lays them out for the whole frame."""

    def __init__(self, offset, closed, label, first, last, index_dtype):
        rule = offset.freqstr
        if offset.n != 1:
            # pandas anchors multi-period calendar bins ('2ME') on the data's first row, so one partition's
            # bins would not be the frame's
            raise NotImplementedError(f"resample({rule!r}): calendar rules are supported for one period only "
                                      f"('{rule.lstrip('0123456789')}'); for {offset.n} periods aggregate the "
                                      "one-period result again, or use a fixed-length rule (s, min, h, D)")
        end_anchored = offset.rule_code.split("-")[0] in _END_ANCHORED
        self.closed = closed or ("right" if end_anchored else "left")
        self.label = label or ("right" if end_anchored else "left")
        if self.closed == "right" and not end_anchored:
            # pandas' right-closed bins of start-anchored rules ('MS') end at midnight, not at the end of a
            # day, so they are not runs of whole days as the alignment here assumes
            raise NotImplementedError(f"resample({rule!r}, closed='right') is not supported; closed='right' "
                                      "works for end-anchored rules ('W', 'ME', 'QE', 'YE', 'BME', ...)")
        self.offset = offset
        bounds = pd.Series([0, 0], index=pd.DatetimeIndex([first, last]).astype(index_dtype))
        self.labels = bounds.resample(offset, closed=self.closed, label=self.label).sum().index
        # the anchor at the bin's left (a label named by its end is one period past it); a bin closed on the
        # right holds the anchor's day no more, so it starts one calendar day later (the wall clock's midnight)
        anchors = self.labels
        if self.label == "right":  # each bin's anchor is the previous label; the first one's, a period before
            anchors = anchors[:-1].insert(0, anchors[0] - offset)
        self.starts = anchors + pd.DateOffset(days=1) if self.closed == "right" else anchors

    def bin_of(self, timestamp) -> int:
        """The position of the bin ``timestamp`` falls in."""
        return max(int(self.starts.searchsorted(pd.Timestamp(timestamp), side="right")) - 1, 0)

    def aligned(self, divisions):
        """``divisions`` moved to the first instants of their bins (the last bound stays), duplicates merged."""
        return distinct_bounds([self.starts[self.bin_of(d)] for d in divisions[:-1]] + [pd.Timestamp(divisions[-1])])

    def labels_per_partition(self, divisions):
        """For each partition of the aligned ``divisions``: the labels of the bins starting in it."""
        firsts = [self.bin_of(d) for d in divisions[:-1]] + [len(self.labels)]
        return [self.labels[a:b] for a, b in zip(firsts[:-1], firsts[1:])]


def _bin_label(value, offset, closed, label):
    """The label of the calendar bin ``value`` falls in (pandas' own, from a one-row series)."""
    return pd.Series([0], index=pd.DatetimeIndex([value])).resample(offset, closed=closed, label=label).size().index[0]


def _resample_calendar_partition(part, offset, closed, label, method, args, kwargs, labels):
    result = getattr(part.resample(offset, closed=closed, label=label), method)(*args, **kwargs)
    return with_every_bin(result, labels.rename(result.index.name), method, args)


class CalendarResampled(FrameExpr):
    """Every partition (whose bounds are first instants of calendar bins) resampled, with all its bins."""

    _parameters = ["frame", "offset", "closed", "label", "method", "args", "kwargs", "meta", "labels_", "divisions_"]

    def _compute_meta(self):
        return self.meta

    def _compute_divisions(self):
        return self.divisions_

    def _layer(self):
        return trimmed_layer(self, self._resample_task, _bin_label, self.offset, self.closed, self.label)

    def _resample_task(self, key, index):
        return Task(key, _resample_calendar_partition, Ref(self.frame._key(index)), self.offset, self.closed,
                    self.label, self.method, self.args, self.kwargs, self.labels_[index])

    def _explain_args(self):
        return {"rule": self.offset.freqstr, "method": self.method}
