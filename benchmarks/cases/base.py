"""What every benchmark case provides.

A case is one workload, measured the same way on both libraries:

- ``name``: what ``--case`` matches and the table shows;
- ``task_count(size)``: how many tasks the workload builds, so the table can
  show the cost per task (``None`` when that means nothing for the case);
- ``setup(lib, size)``: untimed preparation (import the library, make input
  data); it keeps what the run needs on ``self``;
- ``run_shoal()`` / ``run_dask()``: the timed part, building the graph *and*
  computing it; the two must be the same workload line by line, which is
  easiest when both call one function with the library module as argument;
- ``expected(size)``: the answer computed in plain Python, without either
  library, which every run's result is checked against.
- ``reported_seconds()`` (optional): the time to report instead of the
  runner's clock around ``run_<lib>()``, for a case that times parts of its
  run itself (a median of many round trips); ``None``, the default, keeps
  the runner's clock.

The runner calls ``setup`` then ``run_<lib>`` once per fresh process, so a
case never needs to undo what it did.
"""

from __future__ import annotations

import importlib
from typing import Any

LIBRARIES = ("shoal", "dask")


class BenchmarkCase:
    """Base class: subclasses set ``name`` and implement the workload.

    >>> class Sum(BenchmarkCase):
    ...     name = "sum"
    ...     def workload(self, lib):
    ...         return sum(range(self.size))
    ...     def expected(self, size):
    ...         return size * (size - 1) // 2
    >>> case = Sum()
    >>> case.setup("shoal", 10)
    >>> case.run_shoal() == case.expected(10)
    True
    """

    name: str = ""

    def __init__(self) -> None:
        self.lib: Any = None
        self.size: int = 0

    def task_count(self, size: int) -> int | None:
        return None

    def setup(self, lib: str, size: int) -> None:
        if lib not in LIBRARIES:
            raise ValueError(f"case {self.name!r}: unknown library {lib!r}; expected one of {LIBRARIES}")
        # Imported here, untimed: import cost is not what we compare.
        self.lib = importlib.import_module(lib)
        self.size = size

    def run_shoal(self) -> Any:
        return self.workload(self.lib)

    def run_dask(self) -> Any:
        return self.workload(self.lib)

    def reported_seconds(self) -> float | None:
        """Seconds to report for the run just made, when the case timed it itself; else ``None``."""
        return None

    def workload(self, lib: Any) -> Any:
        """Build and compute with ``lib`` (the ``shoal`` or ``dask`` module)."""
        raise NotImplementedError(f"case {self.name!r} does not define workload()")

    def expected(self, size: int) -> Any:
        raise NotImplementedError(f"case {self.name!r} does not define expected()")
