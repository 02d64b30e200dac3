"""Published datasets: futures kept on the scheduler under a name, for any client.

``ClientDatasetsMixin`` publishes futures (or lists/dicts of them) and
hands them back, to this or another client, as fresh futures; ``datasets``
is the same as a mapping. ``Client`` (``client.py``) inherits it.

What it needs from the host class (``Client``): the attribute ``stream``;
and the methods ``_sync`` and ``_request``.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from .graph_futures import _futures_to_placeholders, _placeholders_to_futures, futures_of

_NO_DEFAULT = object()  # get_dataset without a default raises


class Datasets(MutableMapping):
    """``client.datasets``: the published datasets as a mapping, as in Dask.

    ``client.datasets["x"] = futures`` publishes, ``client.datasets["x"]``
    gets, ``del client.datasets["x"]`` unpublishes, ``list(client.datasets)``
    lists. Synchronous clients only: a mapping cannot be awaited.
    """

    def __init__(self, client: Any):
        self._client = client

    def _sync_client(self) -> Any:
        if self._client.asynchronous:
            raise TypeError("client.datasets cannot be used with an asynchronous client: await "
                            "client.get_dataset / publish_dataset / unpublish_dataset / list_datasets instead.")
        return self._client

    def __getitem__(self, name: Any) -> Any:
        return self._sync_client().get_dataset(name)

    def __setitem__(self, name: Any, value: Any) -> None:
        self._sync_client().publish_dataset(value, name=name)

    def __delitem__(self, name: Any) -> None:
        self._sync_client().unpublish_dataset(name)

    def __iter__(self):
        return iter(self._sync_client().list_datasets())

    def __len__(self) -> int:
        return len(self._sync_client().list_datasets())


class ClientDatasetsMixin:
    """``publish_dataset``, ``get_dataset``, ``unpublish_dataset`` and ``list_datasets`` of ``Client``."""

    # ------------------------------------------------------------------ published datasets
    @property
    def datasets(self) -> Datasets:
        """The published datasets as a mapping (``client.datasets["x"] = futures``)."""
        return Datasets(self)

    def publish_dataset(self, *args: Any, name: Any = None, override: bool = False, **datasets: Any) -> Any:
        """Keep futures (or lists/dicts of them, or persisted collections) on the scheduler under a
        name, for any client.

        ``publish_dataset(futures, name="x")`` or ``publish_dataset(x=futures)``.
        The data stays until ``unpublish_dataset``, also after this client closes.
        """
        if args:
            if len(args) != 1 or name is None:
                raise TypeError("publish_dataset(value, name=...) takes one value and a name")
            datasets[name] = args[0]

        async def publish_all():
            for dataset_name, value in datasets.items():
                keys = [f.key for f in futures_of(value)]  # also those a persisted collection holds
                await self._request({"op": "publish-dataset", "name": dataset_name, "keys": keys,
                                     "value": _futures_to_placeholders(value), "override": override})

        return self._sync(publish_all)

    def get_dataset(self, name: Any, default: Any = _NO_DEFAULT) -> Any:
        """The published dataset ``name``, with fresh futures of this client.

        ``KeyError`` naming the published ones when there is none of that name,
        unless a ``default`` is given (as in Dask): then that.
        """
        async def get():
            try:
                dataset = await self._request({"op": "get-dataset", "name": name})
            except KeyError:
                if default is _NO_DEFAULT:
                    raise
                return default
            value = _placeholders_to_futures(dataset["value"], self)  # before the scheduler answers
            # Say we want the keys too, so they survive an unpublish while we hold them.
            self.stream.send({"op": "update-graph", "graph": {}, "keys": dataset["keys"]})
            return value

        return self._sync(get)

    def unpublish_dataset(self, name: Any) -> None:
        """Forget the dataset ``name``; its data is freed unless someone holds futures of it."""
        return self._sync(self._request, {"op": "unpublish-dataset", "name": name})

    def list_datasets(self) -> list:
        """The names of the published datasets."""
        return self._sync(self._request, {"op": "list-datasets"})
