"""Leaf expressions of shoal.dataframe: where partitions come from.

- ``FromPandas``: a pandas object cut into partitions at row positions;
- ``FromValues``: partitions already computed (what ``persist`` returns);
- ``FromDelayed``: partitions computed by ``Delayed`` objects;
- ``FromMap``: partition ``i`` is a function of the ``i``-th items of iterables.

Readers (these and the file readers in ``io/``) narrow the columns they read
to the union their parents need, through ``_narrow_reader_columns``.
"""

from __future__ import annotations

import pandas as pd

from ...taskgraph.core import Alias, DataNode, Ref, Task
from ...taskgraph.expr import Expr
from ..delayed_pieces import piece_graph
from .blockwise import Projection, _funcname
from .expr import FrameExpr
from .meta import check_meta, make_meta

__all__ = ["FromPandas", "FromValues", "FromDelayed", "FromMap"]


# ----------------------------------------------------------------- leaves


class FromPandas(FrameExpr):
    """A pandas object cut into partitions at ``bounds`` (row positions)."""

    _parameters = ["frame", "bounds", "divisions_", "columns_"]
    _defaults = {"columns_": None}
    _is_blockwise = True

    def _compute_meta(self):
        meta = make_meta(self.frame)
        if self.columns_ is not None:
            meta = meta[list(self.columns_)]
        return meta

    def _compute_divisions(self):
        return self.divisions_

    def _task(self, index):
        start, stop = self.bounds[index], self.bounds[index + 1]
        part = self.frame.iloc[start:stop]
        if self.columns_ is not None:
            part = part[list(self.columns_)]
        return DataNode(self._key(index), part)

    def _explain_args(self):
        return {"columns": self.columns_} if self.columns_ is not None else {}

    def _simplify_up(self, parent, dependents):
        return _narrow_reader_columns(self, parent, dependents, "columns_")


class FromValues(FrameExpr):
    """Partitions already computed (what ``persist`` returns): one DataNode each."""

    _parameters = ["values", "divisions_", "meta"]

    def _compute_meta(self):
        return self.meta

    def _compute_divisions(self):
        return self.divisions_

    def _task(self, index):
        return DataNode(self._key(index), self.values[index])

    def _explain_args(self):
        return {}


class FromDelayed(FrameExpr):
    """Partitions computed by ``Delayed`` objects (or held by Futures); each is checked against the meta."""

    _parameters = ["delayeds", "meta", "divisions_", "verify_meta"]
    _defaults = {"verify_meta": True}

    def _compute_meta(self):
        return self.meta

    def _compute_divisions(self):
        return self.divisions_

    def _layer(self):
        layer = {}
        for i, d in enumerate(self.delayeds):
            layer.update(piece_graph(d))
            if self.verify_meta:
                layer[self._key(i)] = Task(self._key(i), check_meta, Ref(d.key), self.meta, "from_delayed", f"partition {i}")
            else:
                layer[self._key(i)] = Alias(self._key(i), d.key)
        return layer

    def _explain_args(self):
        return {"n": len(self.delayeds)}


def _call_checked(func, meta, funcname, where, *args, **kwargs):
    return check_meta(func(*args, **kwargs), meta, funcname, where)


class FromMap(FrameExpr):
    """Partition ``i`` is ``func(*(it[i] for it in iterables), **kwargs)``."""

    _parameters = ["func", "iterables", "kwargs", "meta", "divisions_"]
    _is_blockwise = True

    def _compute_meta(self):
        return self.meta

    def _compute_divisions(self):
        return self.divisions_

    def _task(self, index):
        args = [it[index] for it in self.iterables]
        return Task(self._key(index), _call_checked, self.func, self.meta, _funcname(self.func),
                    f"partition {index}", *args, **self.kwargs)

    def _explain_args(self):
        return {"func": _funcname(self.func)}


# ------------------------------------------------------------ projection pushdown into readers


def _columns_needed_by(parent: Expr, child: FrameExpr) -> list | None:
    """The columns of ``child`` that ``parent`` reads, or None for all of them."""
    if isinstance(parent, Projection) and parent.frame._name == child._name:
        cols = parent.columns_
        return list(cols) if isinstance(cols, list) else [cols]
    return None


def _narrow_reader_columns(reader: FrameExpr, parent: Expr, dependents, operand: str) -> Expr | None:
    """``parent`` reading a narrower ``reader``: only the union of columns its readers use."""
    if not isinstance(reader._meta, pd.DataFrame):
        return None
    needed: set = set()
    for dependent in dependents.get(reader._name, ()) or [parent]:
        cols = _columns_needed_by(dependent, reader)
        if cols is None:
            return None
        needed.update(cols)
    current = list(reader._meta.columns)
    if not needed < set(current):
        return None
    narrowed = reader.replace(**{operand: [c for c in current if c in needed]})
    return parent.substitute_operands({reader: narrowed})
