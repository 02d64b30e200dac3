"""``compute``, ``persist``, ``get`` and ``visualize``: the top-level verbs.

They speak only the collection protocol (see ``shoal.taskgraph.protocol``)
and the scheduler registry, so any collection works with any scheduler.
``CollectionMethods`` gives every collection the same verbs as methods
(``x.compute()``), written once here rather than once per collection.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any, Callable, Mapping, Self

from .schedulers.registry import get_scheduler
from .taskgraph.dot import to_dot
from .taskgraph.protocol import (
    collections_to_graph,
    default_scheduler,
    finalize,
    flatten_keys,
    is_collection,
)
from .taskgraph.tokenize import tokenize  # noqa: F401  (where Dask users find it: dask.base.tokenize)

__all__ = ["compute", "persist", "get", "visualize", "tokenize", "is_collection", "CollectionMethods"]


def compute(*args: Any, scheduler: Any = None, optimize_graph: bool = True, traverse: bool = True, **kwargs) -> tuple:
    """Compute several collections at once, sharing the work they have in common.

    Returns a tuple with one result per argument; arguments that are not
    collections come back unchanged, and (with ``traverse``) lists, tuples,
    sets and dicts are searched for collections. ``scheduler`` is a name
    (``'sync'``, ``'threads'``, ``'processes'``, ...), a ``get`` function or
    a distributed Client; other keywords go to the scheduler
    (``num_workers=``, ``callbacks=``).

    >>> from shoal import delayed
    >>> from operator import add
    >>> x = delayed(add)(1, 2)
    >>> compute(x, [x, 10], scheduler="sync")
    (3, [3, 10])
    """
    collections, repack = unpack_collections(args, traverse)
    if not collections:
        return args
    graph, keys = collections_to_graph(collections, optimize_graph)
    run = get_scheduler(scheduler, default=default_scheduler(collections))
    results = run(graph, keys, **kwargs)
    return repack([finalize(c, r) for c, r in zip(collections, results)])


def persist(*args: Any, scheduler: Any = None, optimize_graph: bool = True, traverse: bool = True,
            **kwargs) -> tuple:
    """Compute collections and return equivalent ones backed by the results.

    Returns a tuple with one item per argument; arguments that are not
    collections come back unchanged, and (with ``traverse``, as in
    ``compute``) collections inside lists, tuples, sets and dicts are
    persisted in place.
    """
    collections, repack = unpack_collections(args, traverse)
    if not collections:
        return args
    for coll in collections:
        if getattr(type(coll), "__shoal_postpersist__", None) is None:
            raise TypeError(
                f"{type(coll).__name__} cannot be persisted: it does not implement __shoal_postpersist__"
            )
    run = get_scheduler(scheduler, default=default_scheduler(collections))
    client = getattr(run, "__self__", None)
    if callable(getattr(client, "persist", None)):
        # A distributed Client keeps the results on its workers (collections backed by
        # futures, as Dask's persist does): gathering them here pulled every byte into
        # this process and left nothing for the workers' memory management to spill.
        return repack(client.persist(list(collections), optimize_graph=optimize_graph, **kwargs))
    graph, keys = collections_to_graph(collections, optimize_graph)
    flat = flatten_keys(keys)
    values = run(graph, flat, **kwargs)
    results = dict(zip(flat, values))
    persisted = []
    for coll in collections:
        rebuild, extra = coll.__shoal_postpersist__()
        persisted.append(rebuild(results, *extra))
    return repack(persisted)


def get(graph: Mapping, keys: Any, scheduler: Any = None, **kwargs) -> Any:
    """Compute ``keys`` (a key or nested list of keys) of a raw graph.

    ``graph`` maps keys to nodes, or is a Dask-style dict of tuples:

    >>> from operator import add
    >>> get({"x": 1, "y": (add, "x", 10)}, "y", scheduler="sync")
    11
    """
    return get_scheduler(scheduler)(graph, keys, **kwargs)


def visualize(*collections: Any, filename: str | None = "mygraph.svg", optimize_graph: bool = False,
              rankdir: str = "BT", format: str | None = None, **kwargs) -> str:
    """Draw the task graph of ``collections`` with Graphviz.

    ``filename`` ending in ``.dot`` writes the DOT source (no Graphviz
    needed); any other extension (``.svg``, ``.png``, ``.pdf``) is rendered by
    Graphviz's ``dot`` program. ``format=`` chooses the output format
    instead of the extension, and a ``filename`` without an extension gets
    ``.<format>`` appended, as in Dask. ``filename=None`` just returns the
    DOT source. Returns the path written, or the source.
    """
    found, _ = unpack_collections(collections, traverse=True)
    if not found:
        raise TypeError("visualize() needs at least one collection (a Delayed, Array, DataFrame or Bag)")
    graph, _ = collections_to_graph(found, optimize_graph)
    source = to_dot(graph, rankdir=rankdir)
    if filename is None:
        return source
    extension = os.path.splitext(filename)[1].lstrip(".")
    fmt = (format or extension or "svg").lower()
    if not extension:
        filename = f"{filename}.{fmt}"
    if fmt == "dot":
        with open(filename, "w") as f:
            f.write(source)
        return filename
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError(
            f"Rendering the graph to {filename!r} needs Graphviz's 'dot' program, which is not on PATH. "
            "Install Graphviz (apt-get install graphviz, brew install graphviz, or conda install graphviz), "
            "or pass filename='graph.dot' to write the DOT source without it."
        )
    done = subprocess.run([dot, f"-T{fmt}", "-o", filename], input=source.encode(), capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(
            f"Graphviz could not render the graph to {filename!r} as {fmt!r}: "
            f"{done.stderr.decode(errors='replace').strip()} Use a format Graphviz knows "
            "(svg, png, pdf, ...), or filename='graph.dot' for the DOT source."
        )
    return filename


def unpack_collections(args: tuple, traverse: bool = True) -> tuple[list, Callable[[list], tuple]]:
    """The collections in ``args`` (each once) and a function that puts
    their results back where they were."""
    collections: list = []
    position: dict = {}

    def visit(obj: Any) -> Callable[[list], Any]:
        if is_collection(obj):
            i = position.get(id(obj))
            if i is None:
                i = position[id(obj)] = len(collections)
                collections.append(obj)
            return lambda results: results[i]
        kind = type(obj)
        if traverse and kind in (list, tuple, set, frozenset):
            parts = [visit(item) for item in obj]
            return lambda results: kind(part(results) for part in parts)
        if traverse and kind is dict:
            items = [(k, visit(v)) for k, v in obj.items()]
            return lambda results: {k: part(results) for k, part in items}
        return lambda results: obj

    builders = [visit(arg) for arg in args]
    return collections, lambda results: tuple(build(results) for build in builders)


class CollectionMethods:
    """``compute``, ``persist`` and ``visualize`` as methods of a collection.

    Every collection (``Array``, ``Bag``/``Item``, ``DataFrame``/``Series``/
    ``Index``/``Scalar``, ``Delayed``) inherits them; each is the top-level
    verb applied to this one collection, so ``x.compute(**kw)`` is always
    ``shoal.compute(x, **kw)[0]`` and the two cannot drift apart. A subclass
    only has to speak the protocol (``__shoal_graph__``, ``__shoal_keys__``,
    ``__shoal_postcompute__``, and ``__shoal_postpersist__`` for ``persist``).
    It may override ``visualize`` just to choose its default file name.

    The mixin holds no state, and its empty ``__slots__`` keeps slotted
    collections (``Array``, ``Delayed``) free of a per-instance ``__dict__``.
    """

    __slots__ = ()

    # In these methods ``compute``, ``persist`` and ``visualize`` are the module's
    # functions above (a method body does not see the class's own names).
    def compute(self, **kwargs) -> Any:
        """This collection's value, computed.

        A NumPy array (or scalar) for an ``Array``; a pandas object for a
        ``DataFrame``, ``Series`` or ``Index``; the value for a ``Scalar``,
        ``Item`` or ``Delayed``; a list for a ``Bag``. The keywords are those of
        ``shoal.compute``: ``scheduler=`` (``'sync'``, ``'threads'``,
        ``'processes'``, a ``get`` function or a distributed Client),
        ``optimize_graph=``, and options for the scheduler (``num_workers=``,
        ``callbacks=``).

        >>> from shoal import delayed
        >>> delayed(sum)([1, 2, 3]).compute(scheduler="sync")
        6
        """
        (result,) = compute(self, **kwargs)
        return result

    def persist(self, **kwargs) -> Self:
        """An equivalent collection of the same type whose data are already computed.

        Later computations start from the held results instead of the whole
        graph: an ``Array``'s blocks, a frame's or bag's partitions, a
        ``Delayed``'s value. With a distributed Client the results stay in the
        workers' memory. The keywords are those of ``shoal.persist``.
        """
        (result,) = persist(self, **kwargs)
        return result

    def visualize(self, filename: str | None = "mygraph.svg", **kwargs) -> str:
        """Draw this collection's task graph with Graphviz (see ``shoal.visualize``).

        ``filename`` ending in ``.dot`` writes the DOT source, other extensions
        are rendered by Graphviz, and ``filename=None`` returns the source;
        ``format=``, ``optimize_graph=`` and ``rankdir=`` are passed on.
        Returns the path written, or the source.
        """
        return visualize(self, filename=filename, **kwargs)
