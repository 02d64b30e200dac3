"""Scheduler names, aliases, custom get functions and the order of precedence."""

from __future__ import annotations

from operator import add

import pytest

from shoal import config
from shoal.schedulers import get_scheduler, register_scheduler, scheduler_names, unregister_scheduler
from shoal.schedulers import processes, sync, threads


@pytest.fixture
def custom_name():
    """A scheduler name registered for one test and removed afterwards."""
    name = "recording-test-scheduler"
    calls = []

    def get(graph, keys, **kwargs):
        calls.append((keys, kwargs))
        return sync.get(graph, keys)

    register_scheduler(name, get)
    try:
        yield name, calls
    finally:
        unregister_scheduler(name)


def test_builtin_names():
    assert {"sync", "threads", "processes"} <= set(scheduler_names())
    assert get_scheduler("sync") is sync.get
    assert get_scheduler("threads") is threads.get
    assert get_scheduler("processes") is processes.get


@pytest.mark.parametrize(
    "alias, name",
    [("synchronous", "sync"), ("single-threaded", "sync"), ("threading", "threads"),
     ("multiprocessing", "processes"), ("SYNC", "sync"), ("Threads", "threads")],
)
def test_aliases_and_case(alias, name):
    assert get_scheduler(alias) is get_scheduler(name)


def test_registered_scheduler_is_used_and_listed(custom_name):
    name, calls = custom_name
    assert name in scheduler_names()
    graph = {"a": 1, "b": (add, "a", 1)}
    assert get_scheduler(name)(graph, "b", num_workers=3) == 2
    assert calls == [("b", {"num_workers": 3})]


def test_unregistered_name_is_unknown(custom_name):
    name, _ = custom_name
    unregister_scheduler(name)
    assert name not in scheduler_names()
    with pytest.raises(ValueError, match=name):
        get_scheduler(name)


def test_register_rejects_non_callables():
    with pytest.raises(TypeError, match="'broken'"):
        register_scheduler("broken", "not a function")
    assert "broken" not in scheduler_names()


def test_a_get_function_or_an_object_with_get_is_used_directly():
    def my_get(graph, keys, **kwargs):
        return "from my_get"

    class ClientLike:
        def get(self, graph, keys, **kwargs):
            return "from client"

    assert get_scheduler(my_get) is my_get
    client = ClientLike()
    assert get_scheduler(client)({}, []) == "from client"


def test_other_objects_are_rejected_with_the_valid_names():
    with pytest.raises(TypeError) as info:
        get_scheduler(42)
    assert "int" in str(info.value) and "'sync'" in str(info.value)


def test_precedence_argument_config_collection_default_threads():
    assert get_scheduler() is threads.get
    assert get_scheduler(default="processes") is processes.get
    with config.set(scheduler="sync"):
        assert get_scheduler(default="processes") is sync.get
        assert get_scheduler("threads") is threads.get


def test_distributed_without_a_client_says_to_start_one():
    if "distributed" in scheduler_names():
        pytest.skip("a Client of another test is still registered")
    for name in ("distributed", "dask.distributed"):
        with pytest.raises(ValueError, match=r"needs a running distributed Client.*Client\(\)") as info:
            get_scheduler(name)
        assert "'threads'" in str(info.value)  # and the local choices
