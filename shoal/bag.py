"""``shoal.bag``: parallel lists of Python objects (see ``shoal.collections.bag``)."""

from .collections.bag import Bag, Item, TextDecodeError, concat, from_delayed, from_sequence  # noqa: F401
from .collections.bag import no_default, range, read_text, stable_hash, to_dataframe, to_textfiles  # noqa: F401
from .collections.bag import map, map_partitions, zip  # noqa: F401,A004
