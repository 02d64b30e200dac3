"""Projection and predicate pushdown through a merge (the merge nodes' ``_simplify_up``).

A join reads both sides whole; when what is above it needs less, the sides can
be cut down before the (often shuffled) rows move:

- ``merged[columns]`` becomes a merge of sides narrowed to those columns and
  the keys (``_narrowed_sides``), when no column is renamed by the suffixes;
- ``merged[predicate]`` becomes a merge of one filtered side
  (``_filter_below``), when the predicate reads only that side's columns and
  filtering it first keeps the same rows.

Neither applies when something else reads the merge too (``dependents``),
which would then see other rows or columns than it asked for.
"""

from __future__ import annotations

from .blockwise import Filter, Projection
from .merge_validate import unique_sides

__all__ = ["pushed_below_merge"]


def _narrowed_sides(merge_node, parent, dependents):
    """``parent`` (a projection of ``merge_node``) over a merge of narrower sides, or None.

    Pushed only when no column is renamed by the suffixes (the sides share no column but the keys), so each
    output column names its source; the keys are always kept.
    """
    if not (isinstance(parent, Projection) and parent.frame is merge_node) or merge_node.indicator:
        return None
    if len(dependents.get(merge_node._name, ())) > 1:
        return None
    left, right = merge_node.left, merge_node.right
    shared = (set(left.columns) & set(right.columns)) - (set(merge_node.left_on) & set(merge_node.right_on))
    if shared:
        return None
    wanted = set(parent.columns_ if isinstance(parent.columns_, list) else [parent.columns_])
    keep_left = [c for c in left.columns if c in wanted or c in merge_node.left_on]
    keep_right = [c for c in right.columns if c in wanted or c in merge_node.right_on]
    if len(keep_left) == len(left.columns) and len(keep_right) == len(right.columns):
        return None
    changes = {}
    if len(keep_left) < len(left.columns):
        changes["left"] = Projection(left, keep_left)
    if len(keep_right) < len(right.columns) and not (merge_node.how in ("leftsemi", "leftanti") and not keep_right):
        changes["right"] = Projection(right, keep_right)
    from .merge_skew import SkewMerge  # merge_skew builds on merge.py, which imports this module

    extra = {}
    if isinstance(merge_node, SkewMerge) and "right" in changes:
        extra["right_source"] = Projection(merge_node.right_source, keep_right)
    return Projection(merge_node.replace(**changes, **extra), parent.columns_)


def _filter_below(merge_node, parent, dependents):
    """``merged[predicate]`` as a merge of a filtered side, when the predicate reads only columns of that side
    (not renamed by suffixes) and filtering that side first keeps the same rows: the left side of inner, left,
    leftsemi and leftanti joins, the right side of inner and right joins."""
    from .merge_skew import SkewMerge  # merge_skew builds on merge.py, which imports this module

    if not (isinstance(parent, Filter) and parent.frame is merge_node) or merge_node.indicator:
        return None
    read = []
    for node in parent.predicate.walk():
        if node._name == merge_node._name:
            continue
        if any(dep._name == merge_node._name for dep in node.dependencies()):
            if not (isinstance(node, Projection) and not isinstance(node.columns_, list)):
                return None
            read.append(node)
    if not read:
        return None
    allowed = {parent._name} | {node._name for node in read}
    if any(reader._name not in allowed for reader in dependents.get(merge_node._name, ())):
        return None  # something else reads the merge too: filtering below it would change what that sees
    columns = {node.columns_ for node in read}
    left, right = merge_node.left, merge_node.right
    sides = []
    if merge_node.how in ("inner", "left", "leftsemi", "leftanti"):
        sides.append(("left", left))
    if merge_node.how in ("inner", "right"):
        sides.append(("right", right))
    checked = unique_sides(getattr(merge_node, "validate", None))
    for side, frame in sides:
        other = right if side == "left" else left
        if not columns <= set(frame.columns):
            continue
        if side in checked:
            continue  # validate= checks this side's keys: filtering it first could hide a repeated key
        if columns & set(other.columns) and not columns <= set(merge_node.left_on) & set(merge_node.right_on):
            continue  # a shared column is renamed by the suffixes (or ambiguous)
        predicate = parent.predicate
        for node in read:
            predicate = predicate.substitute(node, Projection(frame, node.columns_))
        changes = {side: Filter(frame, predicate)}
        if isinstance(merge_node, SkewMerge) and side == "right":
            return None  # the heavy right rows are read from the unfiltered source
        return merge_node.replace(**changes)
    return None


def pushed_below_merge(merge_node, parent, dependents):
    """``parent`` rewritten to read narrower or filtered sides of ``merge_node``, or None when it cannot be."""
    return _narrowed_sides(merge_node, parent, dependents) or _filter_below(merge_node, parent, dependents)
