"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import pytest

#: every local scheduler; tests whose behaviour may differ between them run on each
LOCAL_SCHEDULERS = ["sync", "threads", "processes"]

# conftest files hold fixtures, not doctests. Under --doctest-modules pytest would
# also import each of them as a plain module named "conftest", and two conftest
# files in different folders then clash ("import file mismatch").
collect_ignore_glob = ["*conftest.py"]


@pytest.fixture(params=LOCAL_SCHEDULERS)
def scheduler(request) -> str:
    """The name of a local scheduler: ``sync``, ``threads`` or ``processes``."""
    return request.param
