"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import pytest

#: every local scheduler; tests whose behaviour may differ between them run on each
LOCAL_SCHEDULERS = ["sync", "threads", "processes"]


@pytest.fixture(params=LOCAL_SCHEDULERS)
def scheduler(request) -> str:
    """The name of a local scheduler: ``sync``, ``threads`` or ``processes``."""
    return request.param
