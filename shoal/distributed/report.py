"""``performance_report``: Dask's top-level spelling of ``Client.performance_report``.

::

    from shoal.distributed import Client, performance_report

    client = Client()
    with performance_report(filename="report.html"):
        x.sum().compute()

The client is the default one (the newest open ``Client``), looked up when
the block is entered, so the report may be made before the client. With no
client open, entering the block raises a ``ValueError`` saying to create one:
there is no scheduler to record. The report itself (an HTML file of the task
stream, time per task group and memory per worker) is built by the
dashboard, see ``Client.performance_report``.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["performance_report"]


class performance_report:
    """Record what the cluster runs inside the block; write ``filename`` on exit.

    ``client``: the Client whose scheduler to record (default: the default
    client when the block is entered). Use ``with`` for a synchronous client
    and ``async with`` for an asynchronous one.
    """

    def __init__(self, filename: Any = "shoal-report.html", title: str = "shoal performance report",
                 client: Any = None):
        self.filename = os.fspath(filename)
        self.title = title
        self.client = client
        self._recording: Any = None

    def _start(self, asynchronous: bool) -> Any:
        from .client import default_client

        client = self.client
        if client is None:
            try:
                client = default_client()
            except ValueError:
                raise ValueError(
                    f"performance_report({self.filename!r}) records what a shoal.distributed Client runs, "
                    "but no Client is open: create one first (client = Client() or Client(cluster)) and "
                    "enter the block after it, or use client.performance_report(filename)."
                ) from None
        if client.asynchronous != asynchronous:
            use, kind = ("async with", "an asynchronous") if client.asynchronous else ("with", "a synchronous")
            raise TypeError(f"performance_report({self.filename!r}) records {kind} Client "
                            f"({client.id}): enter it with `{use}`.")
        return client.performance_report(self.filename, self.title)

    def __enter__(self) -> "performance_report":
        recording = self._start(asynchronous=False)
        recording.__enter__()
        self._recording = recording
        return self

    def __exit__(self, *exc_info: Any) -> None:
        recording, self._recording = self._recording, None
        recording.__exit__(*exc_info)

    async def __aenter__(self) -> "performance_report":
        recording = self._start(asynchronous=True)
        await recording.__aenter__()
        self._recording = recording
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        recording, self._recording = self._recording, None
        await recording.__aexit__(*exc_info)
