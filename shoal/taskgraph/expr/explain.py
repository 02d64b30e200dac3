"""``explain``: a plan as text, split into stages at every shuffle.

A *stage* is a part of the plan whose partitions can be computed
independently of one another (narrow dependencies only). Every node whose
class sets ``_is_shuffle = True`` reads *all* partitions of its input (a wide
dependency, Spark's ``Exchange``): the shuffle node belongs to the stage that
reads it, and each of its inputs starts a new stage below.

Stages are numbered so that a stage's inputs have smaller numbers (the order
they must finish in); the result stage has the largest number and is printed
first, each stage followed by the stages that feed it::

    == Optimized plan: 2 stages ==
    Stage 1 (result)
      Sum  partitions=1
        Shuffle on=['a']  partitions=4  <== exchange: reads every partition of Stage 0
    Stage 0 (feeds Stage 1 through Shuffle)
      Map func=inc  partitions=4
        FromSequence  partitions=4
"""

from __future__ import annotations

from .core import Expr

__all__ = ["explain_text"]


class _Stage:
    __slots__ = ("parent", "via", "inputs", "lines", "number")

    def __init__(self, parent: "_Stage | None", via: Expr | None):
        self.parent = parent
        self.via = via  # the shuffle node that reads this stage
        self.inputs: list[_Stage] = []
        # (depth within the stage, node, stage where it was shown first if shared)
        self.lines: list[tuple[int, Expr, "_Stage | None"]] = []
        self.number = -1


def split_stages(expr: Expr) -> tuple[_Stage, dict[str, _Stage]]:
    """The result stage (its ``inputs`` form a tree) and ``{node name: its stage}``."""
    result = _Stage(None, None)
    stage_of: dict[str, _Stage] = {}
    # (node, depth, stage) or, for an input of a shuffle, (node, 0, None, parent, via)
    stack: list[tuple] = [(expr, 0, result)]
    while stack:
        node, depth, stage, *new_stage = stack.pop()
        if node._name in stage_of:
            if stage is not None:  # reached again through a narrow dependency
                stage.lines.append((depth, node, stage_of[node._name]))
            continue
        if stage is None:
            parent, via = new_stage
            stage = _Stage(parent, via)
            parent.inputs.append(stage)
        stage_of[node._name] = stage
        stage.lines.append((depth, node, None))
        for dep in reversed(node.dependencies()):
            if node._is_shuffle:
                stack.append((dep, 0, None, stage, node))
            else:
                stack.append((dep, depth + 1, stage))
    _number_inputs_first(result)
    return result, stage_of


def _number_inputs_first(result: _Stage) -> None:
    counter = 0
    stack = [(result, False)]
    while stack:
        stage, inputs_done = stack.pop()
        if inputs_done:
            stage.number = counter
            counter += 1
        else:
            stack.append((stage, True))
            stack.extend((s, False) for s in reversed(stage.inputs))


def _stages_result_first(result: _Stage) -> list[_Stage]:
    ordered, stack = [], [result]
    while stack:
        stage = stack.pop()
        ordered.append(stage)
        stack.extend(reversed(stage.inputs))
    return ordered


def explain_text(expr: Expr, optimized: bool = True) -> str:
    """``expr`` as text: one line per node (operation, key arguments, partitions), by stage."""
    result, stage_of = split_stages(expr)
    stages = _stages_result_first(result)
    count = len(stages)
    title = "Optimized plan" if optimized else "Plan (not optimized)"
    lines = [f"== {title}: {count} stage{'s' if count != 1 else ''} =="]
    for stage in stages:
        if stage.parent is None:
            lines.append(f"Stage {stage.number} (result)")
        else:
            lines.append(f"Stage {stage.number} (feeds Stage {stage.parent.number} through {type(stage.via).__name__})")
        for depth, node, shown_in in stage.lines:
            indent = "  " * (depth + 1)
            if shown_in is not None:
                lines.append(f"{indent}{type(node).__name__} (shared, shown in Stage {shown_in.number})")
                continue
            text = indent + node._label()
            if node._is_shuffle:
                sources = ", ".join(f"Stage {stage_of[dep._name].number}" for dep in node.dependencies())
                text += f"  <== exchange: reads every partition of {sources}"
            lines.append(text)
    return "\n".join(lines)
