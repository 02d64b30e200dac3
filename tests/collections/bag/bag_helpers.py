"""Bags shaped to catch partition bugs: uneven partitions and empty ones."""

from __future__ import annotations

import shoal.bag as db


def bag_of(partitions: list[list]) -> db.Bag:
    """A bag with exactly these partitions (some may be empty)."""
    return db.concat([db.from_sequence(part, npartitions=1) for part in partitions])


#: the same data split three ways: even, uneven, and with empty partitions
SHAPES = {
    "even": lambda xs: bag_of([xs[i:i + 5] for i in range(0, len(xs), 5)]),
    "uneven": lambda xs: bag_of([xs[:1], xs[1:13], xs[13:14], xs[14:]]),
    "empties": lambda xs: bag_of([[], xs[:7], [], [], xs[7:], []]),
}
