"""ServerLifecycle: the start/close plumbing Scheduler, Worker and Nanny share, on a server without I/O."""

from __future__ import annotations

import asyncio

import pytest

from shoal.distributed.server_lifecycle import ServerLifecycle


class FakeListener:
    contact_address = "inproc://fake-server"


class FakeServer(ServerLifecycle):
    """Closes the way Worker and Nanny do: cancel the background tasks but the caller, then mark closed."""

    server_kind = "fake"

    def __init__(self) -> None:
        self.listener = None
        self.status = "created"
        self._closed_event = None
        self._background_tasks: set = set()
        self.steps: list = []

    async def start(self) -> "FakeServer":
        self._closed_event = asyncio.Event()
        self.listener = FakeListener()
        self.status = "running"
        return self

    async def close(self) -> None:
        self._cancel_background_tasks()
        await asyncio.sleep(0)  # a close awaits (stops its listener) after cancelling
        self.steps.append("closed")
        self._mark_closed()


def run(coroutine_function, timeout: float = 30):
    async def bounded():
        return await asyncio.wait_for(coroutine_function(), timeout)

    return asyncio.run(bounded())


def test_address_before_start_names_the_server_and_what_to_do():
    with pytest.raises(RuntimeError, match=r"The fake has not been started; await fake.start\(\) first"):
        FakeServer().address


def test_await_and_async_with_start_and_close():
    async def scenario():
        server = await FakeServer()
        started = (server.status, server.address)
        await server.close()
        async with FakeServer() as other:
            inside = other.status
        await asyncio.wait_for(other.finished(), 5)
        return started, server.status, inside, other.status

    assert run(scenario) == (("running", "inproc://fake-server"), "closed", "running", "closed")


def test_close_cancels_background_tasks_but_runs_to_its_end_when_spawned_as_one():
    async def scenario():
        server = await FakeServer()
        sleeper_cancelled = asyncio.Event()

        async def sleeper():
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                sleeper_cancelled.set()
                raise

        server._spawn(sleeper())
        await asyncio.sleep(0)  # the sleeper starts
        server._spawn(server.close())  # as when a worker's scheduler asks it to close
        await asyncio.wait_for(server.finished(), 5)
        await asyncio.wait_for(sleeper_cancelled.wait(), 5)
        for _ in range(100):  # bounded: done callbacks run on the next loop turns
            if not server._background_tasks:
                break
            await asyncio.sleep(0)
        return server.steps, server.status, len(server._background_tasks)

    assert run(scenario) == (["closed"], "closed", 0)
