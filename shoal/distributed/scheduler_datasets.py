"""Published datasets on the ``Scheduler``: keys kept under a name, for any client.

``PublishedDatasetsMixin`` answers ``publish-dataset``, ``unpublish-dataset``,
``get-dataset`` and ``list-datasets`` (the client side is
``client_datasets.py``). ``Scheduler`` (``scheduler.py``) inherits it.

What it needs from the host class (``Scheduler``): the attributes ``state``
and ``datasets`` (a dict, name -> ``{"keys", "value"}``); the method ``send``.
"""

from __future__ import annotations

from typing import Any


class PublishedDatasetsMixin:
    """``publish_dataset``, ``unpublish_dataset``, ``get_dataset`` and ``list_datasets`` of ``Scheduler``."""

    # ------------------------------------------------------------------ published datasets
    # A published dataset holds its keys through a client id of its own, so the
    # data outlives the client that published it until it is unpublished.
    _DATASET_OPS = {"publish-dataset": "publish_dataset", "unpublish-dataset": "unpublish_dataset",
                    "get-dataset": "get_dataset", "list-datasets": "list_datasets"}

    @staticmethod
    def _dataset_holder(name: Any) -> str:
        return f"published-dataset:{name!r}"

    def publish_dataset(self, msg: dict) -> None:
        name, keys = msg["name"], list(msg["keys"])
        if name in self.datasets and not msg.get("override"):
            raise KeyError(f"A dataset named {name!r} is already published; unpublish it or pass override=True.")
        if name in self.datasets:
            self.unpublish_dataset({"name": name})
        self.send(self.state.update_graph(self._dataset_holder(name), {}, keys))
        self.datasets[name] = {"keys": keys, "value": msg["value"]}

    def unpublish_dataset(self, msg: dict) -> None:
        name = msg["name"]
        if self.datasets.pop(name, None) is None:
            raise self._unknown_dataset(name)
        self.send(self.state.remove_client(self._dataset_holder(name)))

    def get_dataset(self, msg: dict) -> dict:
        name = msg["name"]
        if name not in self.datasets:
            raise self._unknown_dataset(name)
        return self.datasets[name]

    def _unknown_dataset(self, name) -> KeyError:
        known = ", ".join(sorted(map(repr, self.datasets))) or "none"
        return KeyError(f"No dataset named {name!r} is published (published: {known}).")

    def list_datasets(self, msg: dict) -> list:
        return list(self.datasets)
