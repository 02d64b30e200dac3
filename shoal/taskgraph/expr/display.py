"""Plans as text: one-line node labels and indented trees.

Only duck typing here (``dependencies()``, ``_explain_args()``,
``npartitions``, ``_name``), so ``core`` can import this module.
"""

from __future__ import annotations

import functools
import reprlib
from typing import Any

__all__ = ["short_repr", "same_value", "node_label", "tree_text"]

_SHORT = reprlib.Repr()  # keyword arguments only arrived in Python 3.12
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother = 2, 30, 30
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = 4


def short_repr(value: Any, width: int = 40) -> str:
    """A short display of an operand: functions by name, long containers elided.

    >>> short_repr(len), short_repr(list(range(100)))
    ('len', '[0, 1, 2, 3, ...]')
    """
    if isinstance(value, functools.partial):
        return f"partial({short_repr(value.func)}, ...)"
    name = getattr(value, "__name__", None)
    if callable(value) and isinstance(name, str):
        return name
    text = _SHORT.repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def same_value(a: Any, b: Any) -> bool:
    """``a == b`` for display purposes: False whenever comparing is not a plain bool."""
    try:
        return bool(a is b or (type(a) is type(b) and a == b))
    except Exception:  # e.g. arrays, whose == is elementwise
        return False


def node_label(node, partitions: bool = True) -> str:
    """``"Map func=inc  partitions=4"``: operation, key arguments, partition count."""
    parts = [type(node).__name__]
    parts += [f"{k}={short_repr(v)}" for k, v in node._explain_args().items()]
    text = " ".join(parts)
    if partitions:
        try:
            text += f"  partitions={node.npartitions}"
        except Exception:  # a display must not fail because one node cannot say
            text += "  partitions=?"
    return text


def tree_text(root) -> str:
    """``root`` and everything below it, two spaces of indent per level.

    A node reached a second time (a shared sub-plan) is shown by name only,
    so a plan that is a DAG prints in size linear in its nodes.
    """
    lines = []
    seen: set[str] = set()
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        indent = "  " * depth
        if node._name in seen:
            lines.append(f"{indent}{type(node).__name__} (shared, shown above)")
            continue
        seen.add(node._name)
        lines.append(indent + node_label(node, partitions=False))
        stack.extend((dep, depth + 1) for dep in reversed(node.dependencies()))
    return "\n".join(lines)
