"""Predicate pushdown: comparisons in a boolean filter become the reader's ``filters=``.

``Filter(frame, predicate)`` where ``frame`` reads (through projections)
from a reader that accepts filters (``_with_filters``, e.g. parquet), the
predicate is a conjunction of ``column <op> constant`` comparisons (or
``column.isin([...])``) on that same reader, and nothing else in the plan
reads that reader (else those rows would go missing there): the
comparisons are handed to the reader, which then skips hive directories and row groups whose
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

from .blockwise import Elemwise, Filter, Method, Projection
from .expr import FrameExpr

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


def _sole_filter(reader: FrameExpr, dependents) -> Filter | None:
    """The one ``Filter`` that every reader of ``reader`` feeds (through single-reader chains), else None.

    Pushing a filter into a reader drops rows for everyone who reads it, so
    it is only allowed when nothing outside that filter reads the same data.
    """
    found = None
    for node in dependents.get(reader._name, ()):
        for _ in range(1000):  # a predicate is never this deep; the bound keeps a cycle from looping
            if isinstance(node, Filter):
                break
            readers = dependents.get(node._name, ())
            if len(readers) != 1:
                return None
            node = readers[0]
        else:
            return None
        if found is None:
            found = node
        elif found._name != node._name:
            return None
    if found is None or _base(found.frame)._name != reader._name:
        return None
    return found


def push_filter_into_reader(reader: FrameExpr, parent, dependents):
    """``parent`` reading ``reader`` with the pushable conjuncts of its sole filter applied, or None."""
    absorb = getattr(reader, "_with_filters", None)
    if absorb is None:
        return None
    node = _sole_filter(reader, dependents)
    if node is None:
        return None
    terms = pushable_terms(node.predicate, reader._name)
    if not terms:
        return None
    narrowed = absorb(terms)
    if narrowed is None:
        return None
    return parent.substitute_operands({reader: narrowed})
