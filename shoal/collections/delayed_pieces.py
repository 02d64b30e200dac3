"""The pieces ``from_delayed`` builds a collection from: ``Delayed`` objects or distributed Futures.

``shoal.dataframe.from_delayed``, ``shoal.bag.from_delayed`` and
``shoal.array.from_delayed`` take a list of either (as Dask's do): a Future
is data a Client already computed or scattered, and the collection is built
on its key, so nothing is computed again and nothing travels through here.

Collections never import ``shoal.distributed`` (ARCHITECTURE.md: imports
point down), so a future is recognised by what it offers: a ``key``, a
``client`` and a ``result()`` method. In the graph it stands as a
``DataNode`` holding the future under the future's own key; the distributed
Client drops such a node when the graph is submitted (the scheduler already
holds that key, see ``graph_with_futures_resolved``), and tasks that refer
to the key read the data where it lies.

>>> from shoal import delayed
>>> piece = delayed(sum)([1, 2])
>>> is_future(piece), list(piece_graph(piece)) == [piece.key]
(False, True)
"""

from __future__ import annotations

from typing import Any

from shoal.taskgraph import DataNode, is_collection

__all__ = ["is_future", "check_piece", "piece_graph", "piece_value"]


def is_future(value: Any) -> bool:
    """Whether ``value`` is a distributed ``Future`` (duck-typed: a key, a client, ``result()``)."""
    return (hasattr(value, "key") and hasattr(value, "client") and callable(getattr(value, "result", None))
            and not is_collection(value))


def check_piece(value: Any, position: int, caller: str) -> None:
    """A ``TypeError`` naming ``caller`` and the position unless ``value`` is a Delayed or a Future."""
    from .delayed import Delayed

    if not (isinstance(value, Delayed) or is_future(value)):
        raise TypeError(f"{caller}: item {position} is a {type(value).__name__}, not a Delayed or a distributed "
                        "Future; wrap plain values in shoal.delayed(...) or client.scatter them.")


def piece_graph(value: Any) -> dict:
    """The graph that gives ``value.key``: a Delayed's own graph, or one node holding the Future."""
    if is_future(value):
        return {value.key: DataNode(value.key, value)}
    return dict(value.__shoal_graph__())


def piece_value(value: Any) -> Any:
    """The value now (to learn a collection's meta): a Future's result, or the Delayed computed here."""
    if is_future(value):
        if getattr(value.client, "asynchronous", False):
            # Its result() is an awaitable here, and waiting for it would block the event loop
            # the client runs on: without this the meta silently became a coroutine.
            raise TypeError(f"from_delayed: Future {value.key!r} belongs to an asynchronous Client, whose "
                            "results cannot be fetched here to learn the meta; pass meta= (an empty pandas "
                            "object shaped like the pieces).")
        return value.result()
    return value.compute(scheduler="sync")
