"""inproc-specific behaviour: object hand-over, optional serialization, ends on different loops."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

import shoal
from shoal.distributed.comm import ConnectError, SerializationError, connect, listen
from shoal.distributed.comm.inproc import new_address


async def echo_forever(comm):
    while True:
        await comm.write(await comm.read())


def test_messages_are_handed_over_without_copy(run):
    array = np.arange(1_000_000)

    async def scenario():
        async with listen("inproc://", echo_forever) as listener:
            comm = await connect(listener.contact_address, timeout=5)
            await comm.write({"a": array})
            reply = await comm.read()
            await comm.close()
        return reply

    assert run(scenario)["a"] is array


def test_serialize_option_copies_and_checks_messages(run):
    array = np.arange(1_000_000)

    async def scenario():
        with shoal.config.set({"distributed.comm.inproc.serialize": True}):
            async with listen("inproc://", echo_forever) as listener:
                comm = await connect(listener.contact_address, timeout=5)
                await comm.write({"a": array, "k": ("x", 1)})
                reply = await comm.read()
                with pytest.raises(SerializationError):
                    await comm.write({"lock": threading.Lock()})
                await comm.close()
        return reply

    reply = run(scenario)
    np.testing.assert_array_equal(reply["a"], array)
    assert not np.shares_memory(reply["a"], array)
    assert reply["k"] == ("x", 1)


def test_named_address_and_duplicate_name(run):
    address = "inproc://scheduler-under-test"

    async def scenario():
        async with listen(address, echo_forever) as listener:
            assert listener.contact_address == address
            with pytest.raises(OSError, match="another listener"):
                await listen(address, echo_forever)
            comm = await connect(address, timeout=5)
            await comm.write(1)
            assert await comm.read() == 1
            await comm.close()
        # The name is free again once the listener stopped.
        with pytest.raises(ConnectError, match=address):
            await connect(address, timeout=0.1)

    run(scenario)


def test_connect_to_unknown_inproc_address_fails_within_timeout(run):
    address = new_address()

    async def scenario():
        with pytest.raises(ConnectError, match=f"{address}.*No inproc listener"):
            await connect(address, timeout=0.2)

    run(scenario)


def test_ends_on_different_event_loops_in_different_threads(run):
    """A listener on a loop in another thread serves a client on this thread's loop."""
    ready = threading.Event()
    stop = threading.Event()
    state = {}

    def server_thread():
        async def serve():
            async with listen("inproc://", echo_forever) as listener:
                state["address"] = listener.contact_address
                ready.set()
                while not stop.is_set():
                    await asyncio.sleep(0.01)

        asyncio.run(serve())

    thread = threading.Thread(target=server_thread, daemon=True)
    thread.start()
    try:
        assert ready.wait(10)

        async def scenario():
            comm = await connect(state["address"], timeout=5)
            replies = []
            for i in range(50):
                await comm.write({"i": i})
                replies.append((await comm.read())["i"])
            await comm.close()
            return replies

        assert run(scenario) == list(range(50))
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def test_listener_whose_loop_ended_refuses_connections(run):
    async def leave_listener_running():
        listener = await listen("inproc://", echo_forever)
        return listener.contact_address  # never stopped: its loop simply ends

    address = asyncio.run(leave_listener_running())

    async def scenario():
        # The first attempt finds the orphan and unregisters it; later ones find nothing.
        with pytest.raises(ConnectError, match=f"{address}.*(event loop closed|No inproc listener)"):
            await connect(address, timeout=0.2)
        with pytest.raises(ConnectError, match="No inproc listener"):
            await connect(address, timeout=0.05)

    run(scenario)
