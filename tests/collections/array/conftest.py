"""Fixtures for the array tests."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["sync", "threads"])
def sched(request) -> str:
    """The schedulers every array feature is checked on (processes: on a sample, via ``scheduler``)."""
    return request.param
