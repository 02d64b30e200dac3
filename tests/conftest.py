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


@pytest.fixture
def require_command():
    """``require_command(name, package)``: the full path of a system command a test
    drives for real (chromium, slurmctld, sshd, ...).

    Missing on a developer's machine, the test is skipped with the Debian package
    to install; missing under CI (``CI`` set), where ``.ci/system-packages.sh``
    installs it, the test fails instead, so a skip can never hide a broken set-up.
    """
    import os
    import shutil

    def find(name: str, package: str) -> str:
        path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/local/sbin")
        if path:
            return path
        message = f"{name!r} is not installed (Debian package {package!r}; see .ci/system-packages.txt)"
        if os.environ.get("CI"):
            pytest.fail(message + " although CI should have installed it")
        pytest.skip(message)

    return find
