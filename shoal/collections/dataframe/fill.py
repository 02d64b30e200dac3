"""``ffill`` and ``bfill`` carried across partitions.

Each partition is filled on its own (in parallel). What is still missing at
its start (``ffill``) or its end (``bfill``) is then filled from the nearest
value seen in the partitions before (after) it: a *carry*, the edge row of
every filled partition folded along a chain of small tasks, as
``cumulative.py`` carries its totals. Rows keep their partitions, so the
result lines up with the frame it came from.

>>> import pandas as pd
>>> from shoal.collections.dataframe.io.pandas import from_pandas
>>> s = pd.Series([1.0, None, None, 4.0, None, None])
>>> from_pandas(s, npartitions=3).ffill().compute(scheduler="sync").tolist()
[1.0, 1.0, 1.0, 4.0, 4.0, 4.0]
"""

from __future__ import annotations

import pandas as pd

from ...taskgraph.core import Ref, Task
from .expr import SameRowsExpr
from .meta import make_meta, meta_nonempty

__all__ = ["Fill"]


def _missing(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or array held in an object column
        return False


def _edge(part, method: str):
    """The values this partition hands on: its last filled row (ffill) or its first (bfill); None if empty."""
    if len(part) == 0:
        return None
    filled = getattr(part, method)()
    return filled.iloc[-1] if method == "ffill" else filled.iloc[0]


def _fold(carry, edge):
    """The nearest known value of each column: the newer partition's edge, else what was carried."""
    if edge is None:
        return carry
    if carry is None:
        return edge
    if isinstance(edge, pd.Series):
        return pd.Series([c if _missing(e) else e for e, c in zip(edge, carry)], index=edge.index, dtype=object)
    return carry if _missing(edge) else edge


def _fill(part, carry, method: str):
    filled = getattr(part, method)()
    if carry is None or len(part) == 0:
        return filled
    if isinstance(filled, pd.DataFrame):
        out = filled.copy()
        for i in range(filled.shape[1]):
            if not _missing(carry.iloc[i]):
                out.isetitem(i, filled.iloc[:, i].fillna(carry.iloc[i]))
        return out
    return filled if _missing(carry) else filled.fillna(carry)


class Fill(SameRowsExpr):
    """``frame.ffill()`` or ``frame.bfill()`` over the whole collection."""

    _parameters = ["frame", "method"]

    def _compute_meta(self):
        return make_meta(getattr(meta_nonempty(self.frame._meta), self.method)())

    def _layer(self):
        n = self.frame.npartitions
        # ffill carries from the first partition on, bfill from the last one back
        order = range(n) if self.method == "ffill" else range(n - 1, -1, -1)
        layer, carry = {}, None
        for i in order:
            part = Ref(self.frame._key(i))
            carry_ref = Ref(carry) if carry is not None else None
            layer[self._key(i)] = Task(self._key(i), _fill, part, carry_ref, self.method)
            edge = (f"{self._name}-edge", i)
            layer[edge] = Task(edge, _edge, part, self.method)
            new_carry = (f"{self._name}-carry", i)
            layer[new_carry] = Task(new_carry, _fold, carry_ref, Ref(edge))
            carry = new_carry
        return layer

    def _explain_args(self):
        return {"method": self.method}
