"""``Expr``: one immutable node of a logical plan, the base every collection subclasses.

Rules this file keeps:

- An expression is its class plus its *operands*, a tuple in the order of the
  class's ``_parameters``. Nothing else is state: a node never changes after
  construction, and every cached value (its name, its optimized form) is
  derived from the operands.
- ``_name`` is ``"<funcname>-<token>"`` where the token hashes the class name
  and the operands, and an operand that is itself an ``Expr`` contributes its
  ``_name``. Equal names mean equal computations: equality, hashing and the
  memo tables of the rewrite engine all go by name, so a sub-plan shared by
  two branches is handled once.
- Nothing here recurses along the tree. Plans may be thousands of nodes deep
  (a loop that maps a function 5,000 times), so traversals use explicit
  stacks and names are computed from the leaves up.

Subclassing, in short::

    class Map(Expr):
        _parameters = ["frame", "func"]

        def _task(self, index):
            return Task(self._key(index), self.func, Ref(self.frame._key(index)))

A subclass may override ``npartitions`` (default: the ``npartitions``
operand, else the first dependency's), ``_layer`` (all tasks of the node;
default one ``_task(i)`` per partition), ``_simplify_down``,
``_simplify_up``, ``_lower`` (see ``rewrite.py``) and ``_explain_args``.
"""

from __future__ import annotations

import re
from typing import Any, Callable, ClassVar, Iterator, Mapping

from ..core import GraphNode
from ..tokenize import tokenize
from .display import node_label, same_value, tree_text

__all__ = ["Expr"]

_SEQUENCES = (list, tuple)


class Expr:
    """An immutable node of a logical plan; see the module docstring.

    >>> class Leaf(Expr):
    ...     _parameters = ["value", "npartitions"]
    ...     _defaults = {"npartitions": 1}
    >>> a = Leaf(5)
    >>> a.value, a.npartitions, a.operands
    (5, 1, (5, 1))
    >>> a == Leaf(5, npartitions=1), a == Leaf(6)
    (True, False)
    >>> a.replace(value=6).value
    6
    """

    #: operand names, in positional order
    _parameters: ClassVar[list[str]] = []
    #: values for operands not given at construction
    _defaults: ClassVar[dict[str, Any]] = {}
    #: a wide dependency: each output partition reads every input partition.
    #: ``explain`` starts a new stage below every such node.
    _is_shuffle: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        params = list(cls._parameters)
        unknown = set(cls._defaults) - set(params)
        if unknown:
            raise TypeError(
                f"{cls.__name__}._defaults names {sorted(unknown)}, which are not in "
                f"_parameters {params}; add them to _parameters or drop the defaults."
            )
        # An operand with the name of an Expr method or property would be
        # silently shadowed by it (attribute lookup finds the class first).
        clashes = [p for p in params if p == "operands" or (p != "npartitions" and hasattr(Expr, p))]
        if clashes:
            raise TypeError(
                f"{cls.__name__}._parameters {clashes} clash with Expr attributes of the "
                "same name; rename those parameters."
            )

    def __init__(self, *operands: Any, **kwargs: Any):
        cls = type(self)
        params = cls._parameters
        if len(operands) > len(params):
            raise TypeError(
                f"{cls.__name__} takes at most {len(params)} operands {params}, got {len(operands)}"
            )
        unknown = [k for k in kwargs if k not in params]
        if unknown:
            raise TypeError(f"{cls.__name__}(): {unknown[0]!r} is not a parameter; its parameters are {params}")
        twice = [k for k in kwargs if k in params[: len(operands)]]
        if twice:
            raise TypeError(f"{cls.__name__}(): {twice[0]!r} was given both by position and by name")
        values = list(operands)
        for name in params[len(operands):]:
            if name in kwargs:
                values.append(kwargs.pop(name))
            elif name in cls._defaults:
                values.append(cls._defaults[name])
            else:
                raise TypeError(f"{cls.__name__}() is missing the operand {name!r} (parameters: {params})")
        object.__setattr__(self, "operands", tuple(values))

    # ---------------------------------------------------------------- immutability

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(
            f"{type(self).__name__} expressions are immutable (cannot set {name!r}); "
            f"use .replace({name}=...) to get a changed copy."
        )

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} expressions are immutable (cannot delete {name!r})")

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: operands by parameter name.
        params = type(self)._parameters
        if name in params:
            try:
                operands = self.__dict__["operands"]
            except KeyError:  # during unpickling, before operands exist
                raise AttributeError(name) from None
            return operands[params.index(name)]
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(
            f"{type(self).__name__} expression has no attribute {name!r}; its operands are {params}"
        )

    def operand(self, name: str) -> Any:
        """The operand called ``name``."""
        try:
            return self.operands[type(self)._parameters.index(name)]
        except ValueError:
            raise KeyError(f"{type(self).__name__} has no operand {name!r}; its operands are {self._parameters}") from None

    def __reduce__(self):
        return (_rebuild, (type(self), self.operands))

    # ---------------------------------------------------------------- identity

    @property
    def _funcname(self) -> str:
        """The human part of the name: the class name in kebab case (``from-sequence``)."""
        return _kebab(type(self).__name__)

    @property
    def _name(self) -> str:
        cached = self.__dict__.get("_cached_name")
        if cached is None:
            # Name the dependencies leaves-first, so tokenizing this node only
            # reads its children's cached names instead of recursing down.
            _name_dependencies_first(self)
            cached = f"{self._funcname}-{tokenize(type(self).__name__, *self.operands)}"
            self.__dict__["_cached_name"] = cached
        return cached

    def __shoal_tokenize__(self) -> str:
        return self._name

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Expr):
            return NotImplemented
        return self is other or self._name == other._name

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        return hash(self._name)

    # ---------------------------------------------------------------- structure

    def dependencies(self) -> list["Expr"]:
        """The operands that are expressions, also inside (nested) lists and tuples; each once."""
        seen: set[str] = set()
        found: list[Expr] = []
        for expr in _exprs_in(self.operands):
            name = expr._name
            if name not in seen:
                seen.add(name)
                found.append(expr)
        return found

    def walk(self) -> Iterator["Expr"]:
        """Every node of the plan, each once (by name), parents before their children.

        Iterative, so plans of any depth are fine.
        """
        seen = {self._name}
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            for dep in reversed(node.dependencies()):
                name = dep._name
                if name not in seen:
                    seen.add(name)
                    stack.append(dep)

    def find_operations(self, *types: type) -> Iterator["Expr"]:
        """The nodes of the plan that are instances of ``types``."""
        return (node for node in self.walk() if isinstance(node, types))

    def replace(self, **changes: Any) -> "Expr":
        """A copy with the named operands changed (``self`` when nothing changes)."""
        params = type(self)._parameters
        unknown = [k for k in changes if k not in params]
        if unknown:
            raise TypeError(f"{type(self).__name__}.replace(): {unknown[0]!r} is not a parameter; its parameters are {params}")
        operands = [changes.get(name, value) for name, value in zip(params, self.operands)]
        if all(new is old for new, old in zip(operands, self.operands)):
            return self
        return type(self)(*operands)

    def substitute_operands(self, replacements: Mapping["Expr", "Expr"]) -> "Expr":
        """A copy whose dependencies found in ``replacements`` are replaced.

        Only this node's own operands are looked at (including expressions
        inside lists and tuples); use ``substitute`` to replace anywhere below.
        Returns ``self`` when nothing is replaced.
        """
        if not replacements:
            return self
        changed = False

        def swap(value: Any) -> Any:
            nonlocal changed
            if isinstance(value, Expr):
                new = replacements.get(value, value)
                changed = changed or new is not value
                return new
            if type(value) in _SEQUENCES:
                return type(value)(swap(item) for item in value)
            return value

        # Operands are seldom nested more than a level or two, so plain
        # recursion over one node's operands is safe (unlike over the tree).
        operands = [swap(op) for op in self.operands]
        return type(self)(*operands) if changed else self

    def substitute(self, old: "Expr", new: "Expr") -> "Expr":
        """The plan with every occurrence of ``old`` (anywhere below) replaced by ``new``."""
        old_name = old._name
        return self.rewrite(lambda node: new if node._name == old_name else None, max_passes=1, _fixed_point=False)

    # ---------------------------------------------------------------- rewriting

    def rewrite(self, rule: Callable[["Expr"], "Expr | None"], max_passes: int = 100, _fixed_point: bool = True) -> "Expr":
        """Apply ``rule(node) -> Expr | None`` to every node, leaves first, until nothing changes.

        See ``shoal.taskgraph.expr.rewrite.rewrite``.
        """
        from .rewrite import rewrite

        return rewrite(self, rule, max_passes=max_passes, fixed_point=_fixed_point)

    def simplify(self) -> "Expr":
        """The plan after every ``_simplify_down``/``_simplify_up`` hook has had its say."""
        from .rewrite import simplify

        return simplify(self)

    def lower_once(self) -> "Expr":
        from .rewrite import lower_once

        return lower_once(self)

    def lower_completely(self) -> "Expr":
        """The plan with every node's ``_lower`` applied until no node changes."""
        from .rewrite import lower_completely

        return lower_completely(self)

    def optimize(self) -> "Expr":
        """``simplify()`` then ``lower_completely()``; cached on this (immutable) node."""
        from .rewrite import optimize

        return optimize(self)

    def _simplify_down(self) -> "Expr | None":
        """Hook: a replacement for this node, judged from the node alone; None to keep it."""
        return None

    def _simplify_up(self, parent: "Expr", dependents: Mapping[str, list["Expr"]]) -> "Expr | None":
        """Hook: a replacement for ``parent`` (which reads this node); None to keep it.

        ``dependents[name]`` lists the nodes that read the node ``name`` in the
        plan as it stood at the start of the pass (so a child can see whether
        other parents need it too, e.g. to push down the union of their columns).
        """
        return None

    def _lower(self) -> "Expr | None":
        """Hook: physical nodes that compute this logical node; None when already physical."""
        return None

    # ---------------------------------------------------------------- graph emission

    @property
    def npartitions(self) -> int:
        """Number of output partitions: the ``npartitions`` operand, else the first dependency's."""
        # Follow first dependencies down to a node that knows, without
        # recursion (a chain may be thousands of maps deep), and remember the
        # answer on every node passed on the way.
        chain: list[Expr] = []
        node = self
        while True:
            if "_cached_npartitions" in node.__dict__:
                count = node.__dict__["_cached_npartitions"]
                break
            if "npartitions" in type(node)._parameters:
                count = node.operand("npartitions")
                break
            if node is not self and type(node).npartitions is not Expr.npartitions:
                count = node.npartitions  # the class says itself
                break
            deps = node.dependencies()
            if not deps:
                raise NotImplementedError(
                    f"{type(node).__name__} has no dependencies to take npartitions from; "
                    "give it an 'npartitions' parameter or override the npartitions property."
                )
            chain.append(node)
            node = deps[0]
        for passed in chain:
            passed.__dict__["_cached_npartitions"] = count
        return count

    def _key(self, index: int) -> tuple:
        return (self._name, index)

    def _keys(self) -> list:
        """Output keys, one per partition: ``[(name, 0), (name, 1), ...]``."""
        return [(self._name, i) for i in range(self.npartitions)]

    def _task(self, index: int) -> GraphNode:
        """Hook: the task that computes output partition ``index``, keyed ``self._key(index)``."""
        raise NotImplementedError(
            f"{type(self).__name__} cannot emit tasks: define _task(self, index) (or _layer), "
            "or _lower(self) to turn it into nodes that can."
        )

    def _layer(self) -> dict:
        """This node's tasks (not its dependencies'): ``{key: GraphNode}``."""
        layer = {}
        for i in range(self.npartitions):
            key = self._key(i)
            node = self._task(i)
            if node.key != key:
                raise ValueError(
                    f"{type(self).__name__}._task({i}) returned a task keyed {node.key!r}; "
                    f"it must be keyed {key!r} (use self._key(index))."
                )
            layer[key] = node
        return layer

    def __shoal_graph__(self) -> dict:
        """The tasks of every node of this plan, as it is (optimize first)."""
        graph: dict = {}
        for node in self.walk():
            graph.update(node._layer())
        return graph

    def __shoal_keys__(self) -> list:
        return self._keys()

    # ---------------------------------------------------------------- display

    def _explain_args(self) -> dict[str, Any]:
        """Hook: the operands worth showing in a one-line description of this node.

        Default: every operand that is not an expression, not ``npartitions``
        (shown separately), and not equal to its default.
        """
        shown = {}
        defaults = type(self)._defaults
        for name, value in zip(type(self)._parameters, self.operands):
            if name == "npartitions" or isinstance(value, Expr) or _holds_expr(value):
                continue
            if name in defaults and same_value(defaults[name], value):
                continue
            shown[name] = value
        return shown

    def _label(self, partitions: bool = True) -> str:
        """One line: operation name, key arguments and (optionally) partition count."""
        return node_label(self, partitions)

    def tree_repr(self) -> str:
        """The plan as an indented tree, one node per line; a shared node is shown once."""
        return tree_text(self)

    def __repr__(self) -> str:
        if "operands" not in self.__dict__:  # e.g. shown in a traceback from __init__
            return f"<{type(self).__name__} (not constructed)>"
        return self.tree_repr()

    def explain_text(self, optimize: bool = True) -> str:
        """The (optimized, lowered) plan as text, split into stages at every shuffle."""
        from .explain import explain_text

        return explain_text(self.optimize() if optimize else self, optimized=optimize)

    def explain(self, optimize: bool = True) -> None:
        """Print ``explain_text()``."""
        print(self.explain_text(optimize=optimize))


# -------------------------------------------------------------------- helpers


def _rebuild(cls: type, operands: tuple) -> Expr:
    return cls(*operands)


def _exprs_in(values: Any) -> Iterator[Expr]:
    """Expressions among ``values`` (a sequence), searching nested lists and tuples."""
    stack = [iter(values)]
    while stack:
        for value in stack[-1]:
            if isinstance(value, Expr):
                yield value
            elif type(value) in _SEQUENCES:
                stack.append(iter(value))
                break
        else:
            stack.pop()


def _holds_expr(value: Any) -> bool:
    return type(value) in _SEQUENCES and next(_exprs_in(value), None) is not None


def _name_dependencies_first(root: Expr) -> None:
    """Compute (and cache) the names of everything below ``root``, leaves first."""
    stack = [(root, False)]
    visited = {id(root)}
    while stack:
        node, children_done = stack.pop()
        if children_done:
            if node is not root:
                node._name  # noqa: B018 - computed for its caching side effect
            continue
        stack.append((node, True))
        for dep in _exprs_in(node.operands):
            if id(dep) not in visited and "_cached_name" not in dep.__dict__:
                visited.add(id(dep))
                stack.append((dep, False))


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def _kebab(name: str) -> str:
    """``FromSequence`` -> ``from-sequence``, ``CSVReader`` -> ``csv-reader``."""
    return _CAMEL.sub("-", name).lower()
