"""The base of shoal.dataframe's expression nodes: ``FrameExpr`` with its metadata and partitioning.

This module holds what every node shares: ``FrameExpr`` (meta, divisions,
origin, hash layout), ``Partitioning`` and ``HashLayout``, and the bases of
two common shapes (``SameRowsExpr``, ``SameSchemaBlockwise``). The nodes
themselves live next to it, each idea in its module:

- ``sources``: leaves (``FromPandas``, ``FromValues``, ``FromDelayed``,
  ``FromMap``) and readers narrowing the columns they read;
- ``blockwise``: partition-by-partition nodes (``Blockwise``,
  ``MapPartitions``, ``Method``, ``Elemwise``, ``Projection``, ``Filter``,
  ``Assign``, ``IndexOf``), ``Partitions``, and projection pushdown below them;
- ``fusion``: ``Roots`` and blockwise fusion at graph emission
  (``blockwise_groups``, ``fused_graph``).

Rules the expression modules keep:

- Every node is a ``FrameExpr``: besides its operands it knows its ``_meta``
  (the empty pandas object its partitions look like, or a scalar for a
  reduction to one value) and its ``divisions`` (``npartitions + 1`` index
  bounds, all ``None`` when unknown). Both are derived from the operands and
  cached on the node.
- A *blockwise* node computes output partition ``i`` from partition ``i`` of
  each of its frame inputs only (``_is_blockwise``). Its ``operation`` is a
  plain function (never a bound method, so tasks pickle without dragging the
  plan along) applied to ``_blockwise_args()``; its meta is the same function
  run on the inputs' ``meta_nonempty``.
- ``_origin`` names the node that decided how rows are split into partitions.
  Blockwise nodes keep their input's origin; two frames with the same origin
  (or equal known divisions) can be combined partition by partition. Part 2
  (shuffles, joins) extends ``partitioning`` with hash-partitioned layouts.
- Pushdown of column projections is written as ``_simplify_up`` hooks:
  a ``Projection`` moves below column-wise nodes, and readers narrow the
  columns they read to the union their parents need.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ...taskgraph.expr import Expr

__all__ = ["FrameExpr", "Partitioning", "HashLayout", "SameSchemaBlockwise", "label_with_reason", "is_scalar_expr",
           "MetaInferenceError"]


class MetaInferenceError(ValueError):
    """An ``AttributeError`` raised while computing an expression's meta (e.g. by a user's function).

    Raised unchanged inside the ``_meta`` property, Python would take it for a
    missing attribute and fall back to ``__getattr__``, which then reported a
    confusing "expression has no attribute '_meta'" instead of the real error.
    """


class HashLayout:
    """Rows placed by ``hash(keys as dtypes) % npartitions``: what a shuffle leaves behind.

    Two frames with equal layouts (same key names, dtypes and partition
    count) hold every key in the same partition number.
    """

    __slots__ = ("on", "dtypes", "npartitions")

    def __init__(self, on: tuple, dtypes: tuple, npartitions: int):
        self.on, self.dtypes, self.npartitions = tuple(on), tuple(dtypes), npartitions

    def __eq__(self, other):
        return isinstance(other, HashLayout) and (self.on, self.dtypes, self.npartitions) == (
            other.on, other.dtypes, other.npartitions)

    def __hash__(self):
        return hash((self.on, self.dtypes, self.npartitions))

    def same_placement(self, other: "HashLayout") -> bool:
        """True when a key goes to the same partition number in both, whatever the columns are called."""
        return self.dtypes == other.dtypes and self.npartitions == other.npartitions

    def __repr__(self) -> str:
        return f"HashLayout(on={self.on!r}, dtypes={self.dtypes!r}, npartitions={self.npartitions})"


class Partitioning:
    """How a frame's rows are split into partitions, as far as the plan knows.

    ``divisions``: index bounds (all ``None`` when unknown); ``origin``: the
    name of the node that decided the split (frames with the same origin have
    their rows in matching partitions); ``hashed_on``: columns the rows were
    hash-partitioned on (set by part 2's shuffles; ``None`` here).
    """

    __slots__ = ("divisions", "origin", "hashed_on", "hash_layout")

    def __init__(self, divisions: tuple, origin: str, hashed_on: tuple | None = None,
                 hash_layout: "HashLayout | None" = None):
        self.divisions = divisions
        self.origin = origin
        self.hashed_on = hashed_on
        self.hash_layout = hash_layout

    @property
    def known_divisions(self) -> bool:
        return len(self.divisions) > 0 and self.divisions[0] is not None

    def aligns_with(self, other: "Partitioning") -> bool:
        """True when partition ``i`` of both holds the same rows' index range."""
        if len(self.divisions) != len(other.divisions):
            return False
        if self.origin == other.origin:
            return True
        return self.known_divisions and other.known_divisions and tuple(self.divisions) == tuple(other.divisions)

    def __repr__(self) -> str:
        return f"Partitioning(divisions={self.divisions!r}, origin={self.origin!r}, hashed_on={self.hashed_on!r})"


class FrameExpr(Expr):
    """Base of every dataframe expression; see the module docstring."""

    _is_blockwise = False

    # ------------------------------------------------------------- metadata
    @property
    def _meta(self) -> Any:
        cached = self.__dict__.get("_cached_meta", _MISSING)
        if cached is _MISSING:
            try:
                cached = self._compute_meta()
            except AttributeError as error:
                raise MetaInferenceError(f"{type(error).__name__}: {error}") from error
            self.__dict__["_cached_meta"] = cached
        return cached

    def _compute_meta(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define _compute_meta")

    @property
    def divisions(self) -> tuple:
        cached = self.__dict__.get("_cached_divisions")
        if cached is None:
            cached = tuple(self._compute_divisions())
            self.__dict__["_cached_divisions"] = cached
        return cached

    def _compute_divisions(self) -> tuple:
        frames = self._frame_inputs()
        if not frames:
            if any(is_scalar_expr(d) for d in self.dependencies()):
                return (None, None)  # arithmetic on one-value results is itself one value
            raise NotImplementedError(f"{type(self).__name__} must define _compute_divisions")
        return frames[0].divisions

    @property
    def npartitions(self) -> int:
        return len(self.divisions) - 1

    @property
    def _origin(self) -> str:
        frames = self._frame_inputs()
        if self._is_blockwise and frames:
            return frames[0]._origin
        return self._name

    #: a blockwise node that keeps every row where it is (and the key columns as they are) keeps its input's hash layout
    _keeps_rows = False

    @property
    def _hashed_on(self) -> "HashLayout | None":
        """How a shuffle placed these rows (see ``HashLayout``), when they still are where it put them."""
        frames = self._frame_inputs()
        if not (self._is_blockwise and self._keeps_rows and frames):
            return None
        layout = frames[0]._hashed_on
        if layout is None:
            return None
        if layout.on != ("__index__",) and not set(layout.on) <= set(self.columns):
            return None
        return layout

    @property
    def partitioning(self) -> Partitioning:
        layout = self._hashed_on
        return Partitioning(self.divisions, self._origin, layout.on if layout is not None else None, layout)

    @property
    def columns(self) -> list:
        meta = self._meta
        if isinstance(meta, pd.DataFrame):
            return list(meta.columns)
        if isinstance(meta, pd.Series):
            return [meta.name]
        return []

    def _frame_inputs(self) -> list["FrameExpr"]:
        """Dependencies that are partitioned frames (not one-value reductions)."""
        return [d for d in self.dependencies() if isinstance(d, FrameExpr) and not is_scalar_expr(d)]

    def _explain_args(self) -> dict:
        shown = super()._explain_args()
        for name in ("meta", "_meta_override"):
            shown.pop(name, None)
        return shown


_MISSING = object()


class SameRowsExpr(FrameExpr):
    """A node whose partition ``i`` holds the rows of partition ``i`` of its ``frame`` operand, in
    place (cumulative operations, fills, windows, ewm, group transforms): same divisions, same origin."""

    def _compute_divisions(self):
        return self.frame.divisions

    @property
    def _origin(self):
        return self.frame._origin


class SameSchemaBlockwise(FrameExpr):
    """A blockwise node whose partition ``i`` is made from partition ``i`` of its ``frame`` operand alone, with
    its columns and dtypes, its rows reordered or some dropped (sorting every partition, sampling): the same
    meta, and the same divisions, as no row leaves its partition. Subclasses say how in ``_task``."""

    _is_blockwise = True

    def _compute_meta(self):
        return self.frame._meta

    def _compute_divisions(self):
        return self.frame.divisions


def label_with_reason(node: Expr, partitions: bool = True) -> str:
    """``node``'s one-line label with its ``why`` operand written out in full (``explain`` shortens operands)."""
    from ...taskgraph.expr.display import node_label

    text = node_label(node, partitions)
    reason = node._explain_reason()
    return f"{text}  [{reason}]" if reason else text


def is_scalar_expr(expr: Any) -> bool:
    """True for an expression whose result is one value (one partition, not a pandas object)."""
    return isinstance(expr, FrameExpr) and getattr(expr, "_is_scalar", False)
