"""Rewriting plans: rules applied leaves-first until nothing changes.

Theory of operation:

- A *pass* visits every node of the plan once (by name, so a shared sub-plan
  is rewritten once and stays shared), leaves first. Each node is rebuilt on
  its already-rewritten children, then offered to ``visit(node)``, which
  returns a replacement or None. Passes use an explicit stack: deep plans are
  fine.
- A *fixed point* runs passes until one leaves the plan's name unchanged.
  A rule that keeps changing the plan (it undoes another rule, or grows the
  plan forever) is stopped after ``max_passes`` with ``RewriteDidNotConverge``
  naming the rule and its last change.
- Three drivers share that machinery: ``rewrite(expr, rule)`` for one
  function; ``simplify(expr)`` for the per-class hooks ``_simplify_down``
  (a node replaces itself) and ``_simplify_up`` (a child replaces its parent,
  which is how pushdown is written: ``Projection(Read)`` asks the reader to
  absorb the columns); and ``lower_completely(expr)`` for ``_lower`` (a
  logical node becomes physical ones). ``optimize`` is simplify then lower.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Callable

from .core import Expr

__all__ = ["RewriteDidNotConverge", "rewrite", "simplify", "lower_once", "lower_completely", "optimize"]

Rule = Callable[[Expr], "Expr | None"]

DEFAULT_MAX_PASSES = 100


class RewriteDidNotConverge(RuntimeError):
    """A rewrite kept changing the plan for ``max_passes`` passes."""

    def __init__(self, rule: str, max_passes: int, last_change: tuple[str, str] | None):
        self.rule = rule
        self.max_passes = max_passes
        change = f" Its last change turned {last_change[0]!r} into {last_change[1]!r}." if last_change else ""
        super().__init__(
            f"Rewrite rule {rule} did not reach a fixed point after {max_passes} passes over the plan: "
            f"every pass changed it.{change} A rule must return None (or an equal expression) once it "
            "has nothing left to change; check that it does not undo another rule or grow the plan forever."
        )


class _ChangeLog:
    """Which rule changed the plan last, for the non-convergence error."""

    def __init__(self, default_rule: str):
        self.rule = default_rule
        self.before: Expr | None = None
        self.after: Expr | None = None

    def record(self, rule: str, before: Expr, after: Expr) -> None:
        # Labels are formatted only if the error is raised: most rewrites converge.
        self.rule, self.before, self.after = rule, before, after

    @property
    def last(self) -> tuple[str, str] | None:
        if self.before is None:
            return None
        return (self.before._label(partitions=False), self.after._label(partitions=False))


def rewrite_pass(root: Expr, visit: Rule, on_replace: Callable[[Expr, Expr], None] | None = None) -> Expr:
    """One leaves-first pass of ``visit`` over every node of ``root`` (each once by name)."""
    memo: dict[str, Expr] = {}
    stack: list[tuple[Expr, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        name = node._name
        if name in memo:
            continue
        deps = node.dependencies()
        if not children_done:
            stack.append((node, True))
            stack.extend((dep, False) for dep in reversed(deps) if dep._name not in memo)
            continue
        changed = {dep: memo[dep._name] for dep in deps if memo[dep._name] is not dep}
        rebuilt = node.substitute_operands(changed)
        replacement = visit(rebuilt)
        result = rebuilt if replacement is None else replacement
        memo[name] = result
        if on_replace is not None and result._name != name:
            on_replace(node, result)
    return memo[root._name]


def _fixed_point(expr: Expr, make_visit: Callable[[Expr, _ChangeLog], tuple[Rule, Callable | None]],
                 log: _ChangeLog, max_passes: int) -> Expr:
    if max_passes < 1:
        raise ValueError(f"max_passes must be at least 1, got {max_passes}")
    for _ in range(max_passes):
        visit, on_replace = make_visit(expr, log)
        new = rewrite_pass(expr, visit, on_replace)
        if new._name == expr._name:
            return expr
        expr = new
    raise RewriteDidNotConverge(log.rule, max_passes, log.last)


def _checked(result: object, who: str, node: Expr) -> Expr | None:
    if result is None or isinstance(result, Expr):
        return result
    raise TypeError(
        f"{who} returned {type(result).__name__} for {node._label(partitions=False)!r}; "
        "it must return an Expr, or None to leave the node unchanged."
    )


def _replacement(result: object, rule: str, node: Expr, log: _ChangeLog, who: str | None = None) -> Expr | None:
    """What ``rule`` returned for ``node`` if it changes the plan, else None.

    The result must be an Expr or None (else a TypeError names ``who``, by
    default the rule); an expression equal to ``node`` (the same name) is no
    change. A real change is recorded in ``log`` for the non-convergence error.
    """
    out = _checked(result, who or rule, node)
    if out is None or out._name == node._name:
        return None
    log.record(rule, node, out)
    return out


def _rule_name(rule: Callable) -> str:
    return getattr(rule, "__qualname__", None) or getattr(rule, "__name__", None) or repr(rule)


def rewrite(expr: Expr, rule: Rule, max_passes: int = DEFAULT_MAX_PASSES, fixed_point: bool = True) -> Expr:
    """Apply ``rule(node) -> Expr | None`` to every node, leaves first, until the plan stops changing.

    With ``fixed_point=False`` exactly one pass is made.

    >>> class Num(Expr):
    ...     _parameters = ["value"]
    >>> class Neg(Expr):
    ...     _parameters = ["arg"]
    >>> def drop_double_negation(node):
    ...     if isinstance(node, Neg) and isinstance(node.arg, Neg):
    ...         return node.arg.arg
    >>> rewrite(Neg(Neg(Neg(Neg(Num(1))))), drop_double_negation) == Num(1)
    True
    """
    name = _rule_name(rule)

    def make_visit(current: Expr, log: _ChangeLog):
        def visit(node: Expr) -> Expr | None:
            return _replacement(rule(node), name, node, log, who=f"Rewrite rule {name}")

        return visit, None

    log = _ChangeLog(name)
    if not fixed_point:
        return rewrite_pass(expr, make_visit(expr, log)[0])
    return _fixed_point(expr, make_visit, log, max_passes)


def collect_dependents(expr: Expr) -> defaultdict[str, list[Expr]]:
    """``{name: [nodes that read it]}`` over the plan; unknown names give ``[]``."""
    dependents: defaultdict[str, list[Expr]] = defaultdict(list)
    for node in expr.walk():
        for dep in node.dependencies():
            dependents[dep._name].append(node)
    return dependents


def simplify(expr: Expr, max_passes: int = DEFAULT_MAX_PASSES) -> Expr:
    """Run the ``_simplify_down`` and ``_simplify_up`` hooks of every node to a fixed point.

    For each node (leaves first): its own ``_simplify_down()`` may replace it;
    otherwise each child's ``_simplify_up(node, dependents)`` may replace it.
    ``dependents`` is collected at the start of each pass; a node replaced
    during the pass inherits the readers of the node it replaced.
    """

    def make_visit(current: Expr, log: _ChangeLog):
        dependents = collect_dependents(current)

        def visit(node: Expr) -> Expr | None:
            out = _replacement(node._simplify_down(), f"{type(node).__name__}._simplify_down", node, log)
            if out is not None:
                return out
            for child in node.dependencies():
                who = f"{type(child).__name__}._simplify_up"
                out = _replacement(child._simplify_up(node, dependents), who, node, log)
                if out is not None:
                    return out
            return None

        def on_replace(old: Expr, new: Expr) -> None:
            if new._name not in dependents:
                dependents[new._name] = list(dependents.get(old._name, ()))

        return visit, on_replace

    return _fixed_point(expr, make_visit, _ChangeLog("simplify"), max_passes)


def _make_lower_visit(current: Expr, log: _ChangeLog):
    def visit(node: Expr) -> Expr | None:
        return _replacement(node._lower(), f"{type(node).__name__}._lower", node, log)

    return visit, None


def lower_once(expr: Expr) -> Expr:
    """One pass of every node's ``_lower`` hook."""
    return rewrite_pass(expr, _make_lower_visit(expr, _ChangeLog("lower"))[0])


def lower_completely(expr: Expr, max_passes: int = DEFAULT_MAX_PASSES) -> Expr:
    """Lower until no node changes: every node is then physical (``_lower`` returns None)."""
    return _fixed_point(expr, _make_lower_visit, _ChangeLog("lower"), max_passes)


def optimize(expr: Expr) -> Expr:
    """``simplify`` then ``lower_completely``; remembered on ``expr``, which is immutable."""
    cached = expr.__dict__.get("_optimized")
    if cached is None:
        cached = lower_completely(simplify(expr))
        expr.__dict__["_optimized"] = cached
    return cached
