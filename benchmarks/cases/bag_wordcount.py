"""Word count with bags: ``read_text -> str.split -> flatten -> frequencies -> topk(10)``.

The text (``size`` x 10 kB: 200 MB at the runner's default size of 20,000)
is generated in setup, untimed, into a cache directory under the system's
temporary directory (``shoal-bench-wordcount-<size>``), together with the
expected answer counted in plain Python while writing it; later runs reuse
both. Words follow a Zipf-like law over a vocabulary of 20,000, so the top
ten counts are far apart and the answer has no ties.

The same bag runs on processes (the bag default) and on sync, so the table
shows both the ratio to Dask and the gain from the worker processes.

>>> word_count(_PlainBag, ["a b a", "b a"], "sync")
[('a', 3), ('b', 2)]
"""

from __future__ import annotations

import importlib
import json
import os
import random
import tempfile
from collections import Counter
from operator import itemgetter
from typing import Any

from .base import BenchmarkCase

SCHEDULERS = ("processes", "sync")
FILES = 16
BYTES_PER_SIZE_UNIT = 10_000
VOCABULARY = 20_000
count_of = itemgetter(1)  # module level: pickled by reference


def word_count(bag_module: Any, paths: Any, scheduler: str) -> list:
    """The ten most frequent words and their counts, most frequent first."""
    words = bag_module.read_text(paths).str.split().flatten()
    return words.frequencies().topk(10, key=count_of).compute(scheduler=scheduler)


def generate(directory: str, size: int) -> list:
    """Write ``FILES`` text files of ``size * 10 kB`` in all; return the expected top ten."""
    os.makedirs(directory, exist_ok=True)
    rng = random.Random(42)
    vocabulary = [f"w{i}" for i in range(VOCABULARY)]
    weights = [1 / (i + 1) for i in range(VOCABULARY)]
    counts: Counter = Counter()
    per_file = size * BYTES_PER_SIZE_UNIT // FILES
    for f in range(FILES):
        written = 0
        with open(os.path.join(directory, f"part-{f:03d}.txt"), "w") as out:
            while written < per_file:
                chunk = rng.choices(vocabulary, weights, k=12_000)
                counts.update(chunk)
                lines = "\n".join(" ".join(chunk[i:i + 12]) for i in range(0, len(chunk), 12)) + "\n"
                out.write(lines)
                written += len(lines)
    return [list(pair) for pair in counts.most_common(10)]


class WordCountCase(BenchmarkCase):
    def __init__(self, scheduler: str):
        super().__init__()
        self.scheduler = scheduler
        self.name = f"bag-wordcount-{scheduler}"
        self.pattern = ""

    def setup(self, lib: str, size: int) -> None:
        super().setup(lib, size)
        self.bag_module = importlib.import_module(f"{lib}.bag")
        directory = self._directory(size)
        answer = os.path.join(directory, "expected.json")
        if not os.path.exists(answer):
            expected = generate(directory, size)
            with open(answer + ".tmp", "w") as f:
                json.dump(expected, f)
            os.replace(answer + ".tmp", answer)  # written last: its presence means the data is complete
        self.pattern = os.path.join(directory, "part-*.txt")

    def _directory(self, size: int) -> str:
        return os.path.join(tempfile.gettempdir(), f"shoal-bench-wordcount-{size}")

    def workload(self, lib: Any) -> list:
        return [tuple(pair) for pair in word_count(self.bag_module, self.pattern, self.scheduler)]

    def expected(self, size: int) -> list:
        with open(os.path.join(self._directory(size), "expected.json")) as f:
            return [tuple(pair) for pair in json.load(f)]


def cases() -> list[BenchmarkCase]:
    return [WordCountCase(s) for s in SCHEDULERS]


class _PlainBag:
    """Lines in memory, eagerly, for the doctest."""

    class _Words(list):
        def frequencies(self):
            return _PlainBag._Words(Counter(self).items())

        def topk(self, k, key):
            return _PlainBag._Words(sorted(self, key=key, reverse=True)[:k])

        def compute(self, scheduler=None):
            return list(self)

        def flatten(self):
            return _PlainBag._Words(w for line in self for w in line)

        @property
        def str(self):
            outer = self

            class _Str:
                def split(self):
                    return _PlainBag._Words(line.split() for line in outer)

            return _Str()

    @staticmethod
    def read_text(lines):
        return _PlainBag._Words(lines)
