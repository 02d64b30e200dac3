"""Predicate pushdown: comparisons in a boolean filter become the reader's ``filters=``.

``Filter(frame, predicate)`` where ``frame`` reads (through projections)
from a reader that accepts filters (``_with_filters``, e.g. parquet) and the
predicate is a conjunction of ``column <op> constant`` comparisons (or
``column.isin([...])``) on that same reader: the comparisons are handed to
the reader, which then skips hive directories and row groups whose
statistics rule them out. The ``Filter`` itself stays (it is cheap and keeps
the result exact); conjuncts that cannot be pushed (anything else) are
simply left to it.

``!=`` is never pushed: pandas keeps missing values for ``x != c`` (NaN
differs from everything) while a parquet filter drops nulls.
"""

from __future__ import annotations

import datetime
import numbers
import operator

import numpy as np
import pandas as pd

from .expr import Elemwise, Filter, FrameExpr, Method, Projection

__all__ = ["push_filter_into_reader", "pushable_terms"]

_OPS = {operator.gt: ">", operator.ge: ">=", operator.lt: "<", operator.le: "<=", operator.eq: "=="}
_FLIPPED = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "==": "=="}


def _base(expr: FrameExpr) -> FrameExpr:
    while isinstance(expr, Projection):
        expr = expr.frame
    return expr


def _is_constant(value) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return True
    if isinstance(value, float) and np.isnan(value):
        return False
    return isinstance(value, (numbers.Number, str, pd.Timestamp, datetime.date)) and not isinstance(value, FrameExpr)


def _column_of(expr, reader_name: str):
    """The column a Series expression reads straight from the reader, else None."""
    if isinstance(expr, Projection) and not isinstance(expr.columns_, list) and _base(expr.frame)._name == reader_name:
        return expr.columns_
    return None


def pushable_terms(predicate, reader_name: str) -> list[tuple]:
    """``(column, op, value)`` conjuncts of ``predicate`` that a reader can apply."""
    if isinstance(predicate, Elemwise) and predicate.op is operator.and_ and len(predicate.args) == 2:
        return pushable_terms(predicate.args[0], reader_name) + pushable_terms(predicate.args[1], reader_name)
    if isinstance(predicate, Elemwise) and predicate.op in _OPS and len(predicate.args) == 2:
        left, right = predicate.args
        op = _OPS[predicate.op]
        column = _column_of(left, reader_name)
        if column is not None and _is_constant(right):
            return [(column, op, right)]
        column = _column_of(right, reader_name)
        if column is not None and _is_constant(left):
            return [(column, _FLIPPED[op], left)]
        return []
    if isinstance(predicate, Method) and predicate.method == "isin" and predicate.accessor is None:
        column = _column_of(predicate.frame, reader_name)
        values = predicate.args[0] if predicate.args else None
        if column is not None and isinstance(values, list) and values and all(_is_constant(v) for v in values):
            return [(column, "in", list(values))]
    return []


def push_filter_into_reader(node: Filter):
    reader = _base(node.frame)
    absorb = getattr(reader, "_with_filters", None)
    if absorb is None:
        return None
    terms = pushable_terms(node.predicate, reader._name)
    if not terms:
        return None
    narrowed = absorb(terms)
    if narrowed is None:
        return None
    return node.substitute(reader, narrowed)
