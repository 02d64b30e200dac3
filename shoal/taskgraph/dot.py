"""A task graph as Graphviz DOT source (plain text, no Graphviz needed)."""

from __future__ import annotations

from typing import Hashable, Mapping

from .core import Alias, DataNode, Fused, GraphNode, Task, key_prefix


def node_label(key: Hashable, node: GraphNode) -> str:
    """``'sum (3, 1)'`` for key ``('sum-<token>', 3, 1)`` computed by a Task."""
    index = f" {key[1:] if len(key) > 2 else key[1]}" if type(key) is tuple and len(key) > 1 else ""
    kind = ""
    if isinstance(node, Task):
        kind = getattr(node.func, "__name__", "")
        kind = f"\\n{kind}" if kind and kind != key_prefix(key) else ""
    elif isinstance(node, Fused):
        kind = f"\\n({len(node.nodes)} fused)"
    return f"{key_prefix(key)}{index}{kind}"


def to_dot(graph: Mapping[Hashable, GraphNode], rankdir: str = "BT") -> str:
    """DOT source: a box per data node, an ellipse per task, an edge per dependency.

    >>> from shoal.taskgraph.core import DataNode, Task, Ref
    >>> print(to_dot({"a": DataNode("a", 1), "b": Task("b", abs, Ref("a"))}))  # doctest: +NORMALIZE_WHITESPACE
    digraph {
      rankdir=BT;
      n0 [label="a", shape=box];
      n1 [label="b\\nabs", shape=ellipse];
      n0 -> n1;
    }
    """
    ids = {key: f"n{i}" for i, key in enumerate(graph)}
    lines = ["digraph {", f"  rankdir={rankdir};"]
    for key, node in graph.items():
        shape = "box" if isinstance(node, (DataNode, Alias)) else "ellipse"
        label = node_label(key, node).replace('"', '\\"')
        lines.append(f'  {ids[key]} [label="{label}", shape={shape}];')
    for key, node in graph.items():
        for dep in sorted(node.dependencies, key=str):
            if dep in ids:
                lines.append(f"  {ids[dep]} -> {ids[key]};")
    lines.append("}")
    return "\n".join(lines)
