"""Bags: parallel lists of Python objects for logs, JSON records and text.

``core.py`` holds ``Bag``/``Item``, ``creation.py`` makes bags, ``expr.py`` the plan
nodes, ``partition.py`` what runs inside tasks, ``reductions.py`` the
partials and combines, ``groupby.py`` the shuffles, ``repartition.py``,
``text.py`` the ``.str`` accessor, ``io.py`` text files and dataframes, and
``functions.py`` the module-level ``map``/``map_partitions``/``zip``.
"""

from .core import Bag, Item, no_default
from .creation import concat, from_delayed, from_sequence, range
from .functions import map, map_partitions, zip
from .groupby import stable_hash
from .io import TextDecodeError, read_text, to_dataframe, to_textfiles

__all__ = [
    "Bag", "Item", "concat", "from_delayed", "from_sequence", "no_default", "range", "read_text",
    "to_dataframe", "to_textfiles", "stable_hash", "TextDecodeError", "map", "map_partitions", "zip",
]
