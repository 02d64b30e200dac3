"""Expressions: the logical plans collections hold before they become graphs.

A collection holds an immutable ``Expr`` tree. ``optimize()`` rewrites it
(``simplify`` runs the classes' pushdown hooks, ``lower_completely`` turns
logical nodes into physical ones), ``__shoal_graph__()`` on the optimized
plan emits its tasks, and ``explain()`` prints it split into stages at every
shuffle. A collection wrapping an expression speaks the collection protocol
in a few lines::

    class Bag:
        def __init__(self, expr):
            self.expr = expr

        def __shoal_graph__(self):
            return self.expr.optimize().__shoal_graph__()

        def __shoal_keys__(self):
            return self.expr.optimize().__shoal_keys__()

        def __shoal_postcompute__(self):
            return concat_partitions, ()

(``optimize()`` is cached on the expression, so both calls share one plan.)
"""

from .core import Expr
from .explain import explain_text
from .rewrite import (
    RewriteDidNotConverge,
    collect_dependents,
    lower_completely,
    lower_once,
    optimize,
    rewrite,
    rewrite_pass,
    simplify,
)

__all__ = [
    "Expr", "explain_text", "RewriteDidNotConverge", "collect_dependents", "lower_completely",
    "lower_once", "optimize", "rewrite", "rewrite_pass", "simplify",
]
