"""Fixtures for the comm tests: run a coroutine with a hard time bound."""

from __future__ import annotations

import asyncio

import pytest


@pytest.fixture
def run():
    """``run(coro_fn, timeout=30)``: ``asyncio.run`` of ``coro_fn()`` bounded by ``timeout`` seconds."""

    def run_bounded(coroutine_function, timeout: float = 30):
        async def bounded():
            return await asyncio.wait_for(coroutine_function(), timeout)

        return asyncio.run(bounded())

    return run_bounded


@pytest.fixture(params=["tcp", "inproc"])
def listen_address(request) -> str:
    """An address to listen on for each transport: tcp on 127.0.0.1 port 0, a fresh inproc name."""
    return {"tcp": "tcp://127.0.0.1:0", "inproc": "inproc://"}[request.param]
