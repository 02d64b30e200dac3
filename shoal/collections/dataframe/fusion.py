"""From optimized plans to one task graph: ``Roots`` and blockwise fusion.

``Roots`` holds several plans optimized together (``compute(a, b)``);
``blockwise_groups`` finds the connected blockwise nodes that run as one task
per partition, and ``fused_graph`` emits a plan's tasks with those groups fused.
"""

from __future__ import annotations

from ...taskgraph.core import Fused
from ...taskgraph.expr import Expr
from .expr import FrameExpr

__all__ = ["Roots", "blockwise_groups", "fused_graph"]


class Roots(Expr):
    """Several plans optimized together (``compute(a, b)``), so what they share is read once.

    It emits no tasks itself; readers below see every root's columns among
    their dependents, so projection pushdown narrows them to the union.
    """

    _parameters = ["roots"]

    @property
    def npartitions(self) -> int:
        return 0

    def _layer(self) -> dict:
        return {}


# ------------------------------------------------------------ blockwise fusion
#
# Fusion happens when the graph is emitted, not by rewriting the plan: a group
# of connected blockwise nodes becomes one ``Fused`` task per partition keyed
# like the group's head, so every reader outside the group finds the key it
# already refers to.


def _topological_children_first(head: Expr, names: set | None = None) -> list:
    """Nodes below ``head`` (restricted to ``names`` when given), children before parents."""
    order, seen, stack = [], set(), [(head, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if node._name in seen:
            continue
        seen.add(node._name)
        stack.append((node, True))
        for dep in node.dependencies():
            if (names is None or dep._name in names) and dep._name not in seen:
                stack.append((dep, False))
    return order


def blockwise_groups(root: FrameExpr) -> dict[str, list]:
    """``{head name: [members, children first, head last]}`` for groups of two or more nodes.

    A blockwise node joins the group of its readers when all its readers are
    blockwise, in one group, with as many partitions (so no work is done
    twice); otherwise it heads a group of its own.
    """
    from ...taskgraph.expr.rewrite import collect_dependents

    dependents = collect_dependents(root)
    order = list(reversed(_topological_children_first(root)))  # parents first
    group_of: dict[str, str] = {}
    for node in order:
        if not (isinstance(node, FrameExpr) and node._is_blockwise):
            continue
        readers = dependents.get(node._name, [])
        groups = {group_of.get(r._name) for r in readers}
        if (node is root or not readers or None in groups or len(groups) != 1
                or any(r.npartitions != node.npartitions for r in readers)):
            group_of[node._name] = node._name
        else:
            group_of[node._name] = groups.pop()
    members: dict[str, list] = {}
    for node in reversed(order):  # children first
        if node._name in group_of:
            members.setdefault(group_of[node._name], []).append(node)
    return {head: group for head, group in members.items() if len(group) > 1}


def fused_graph(root: FrameExpr) -> dict:
    """The tasks of ``root``'s plan with every blockwise group fused into one task per partition."""
    groups = blockwise_groups(root)
    inner = {n._name for group in groups.values() for n in group[:-1]}
    graph: dict = {}
    for node in root.walk():
        name = node._name
        if name in inner:
            continue
        if name in groups:
            group = groups[name]
            for i in range(node.npartitions):
                graph[node._key(i)] = Fused(node._key(i), [member._task(i) for member in group])
        else:
            graph.update(node._layer())
    return graph