import copy
import threading

import pytest

import shoal.config as config


@pytest.fixture(autouse=True)
def clean_config():
    """Every test starts from and leaves behind the same settings."""
    saved_defaults = copy.deepcopy(config.defaults)
    saved_config = copy.deepcopy(config.config)
    yield
    config.defaults.clear()
    config.defaults.update(saved_defaults)
    config.config.clear()
    config.config.update(saved_config)


def test_builtin_defaults():
    assert config.get("scheduler") is None
    assert config.get("num-workers") is None
    assert config.get("tokenize.ensure-deterministic") is False
    assert config.get("delayed.pure") is False
    assert config.get("tokenize") == {"ensure-deterministic": False}


def test_dash_and_underscore_are_the_same():
    assert config.get("num_workers") is None
    assert config.get("tokenize.ensure_deterministic") is False
    config.set(num_workers=3)
    assert config.get("num-workers") == 3
    assert "num_workers" not in config.config


def test_default_returned_for_missing_keys():
    assert config.get("nope", 1) == 1
    assert config.get("tokenize.nope", None) is None
    # a leaf cannot be descended into
    assert config.get("scheduler.x", "d") == "d"


def test_missing_key_error_names_key_and_close_matches():
    with pytest.raises(KeyError) as info:
        config.get("schedular")
    message = str(info.value)
    assert "'schedular'" in message
    assert "'scheduler'" in message

    with pytest.raises(KeyError, match="tokenize.ensure-deterministic"):
        config.get("tokenize.ensure-determinstic")


def test_missing_key_without_matches_says_what_to_do():
    with pytest.raises(KeyError, match="default"):
        config.get("zzzzzz")


def test_override_with_wins_when_given():
    config.set(scheduler="threads")
    assert config.get("scheduler", override_with="sync") == "sync"
    assert config.get("scheduler", override_with=None) == "threads"
    assert config.get("no.such.key", override_with=4) == 4  # no KeyError: the override is the answer


@pytest.mark.parametrize("key", [5, None, ("scheduler",)])
def test_get_refuses_keys_that_are_not_strings(key):
    with pytest.raises(TypeError, match="dotted strings"):
        config.get(key)


@pytest.mark.parametrize("arg", ["scheduler", [("scheduler", "sync")]])
def test_set_with_a_string_or_pairs_says_how_to_call_it(arg):
    with pytest.raises(TypeError, match=r"mapping or keywords.*scheduler='sync'"):
        config.set(arg)
    assert config.get("scheduler") is None


def test_set_as_statement_is_global():
    config.set(scheduler="threads")
    assert config.get("scheduler") == "threads"
    config.set({"widget.chunk-size": "64MiB"})
    assert config.get("widget.chunk_size") == "64MiB"
    assert config.config["widget"] == {"chunk-size": "64MiB"}


def test_set_dotted_keyword_with_double_underscore():
    config.set(delayed__pure=True)
    assert config.get("delayed.pure") is True


def test_set_context_manager_restores_previous_values():
    config.set(scheduler="threads")
    with config.set(scheduler="sync", num_workers=2):
        assert config.get("scheduler") == "sync"
        assert config.get("num-workers") == 2
    assert config.get("scheduler") == "threads"
    assert config.get("num-workers") is None


def test_set_context_manager_removes_keys_it_created():
    before = copy.deepcopy(config.config)
    with config.set({"new.deep.key": 1, "tokenize.extra": 2}):
        assert config.get("new.deep.key") == 1
        assert config.get("tokenize.extra") == 2
    assert config.config == before
    assert config.get("new", None) is None


def test_set_replacing_a_leaf_with_a_section_is_undone():
    config.set(scheduler="sync")
    with config.set({"scheduler.option": 1}):
        assert config.get("scheduler.option") == 1
    assert config.get("scheduler") == "sync"


def test_set_restores_on_exception():
    before = copy.deepcopy(config.config)
    with pytest.raises(ZeroDivisionError):
        with config.set(scheduler="sync", **{"brand_new": 1}):
            1 / 0
    assert config.config == before


def test_nested_set_same_key():
    with config.set(scheduler="a"):
        with config.set(scheduler="b"):
            assert config.get("scheduler") == "b"
        assert config.get("scheduler") == "a"
    assert config.get("scheduler") is None


def test_set_same_key_twice_in_one_call_restores_original():
    with config.set({"scheduler": "a", "SCHEDULER".lower(): "b"}):
        pass
    assert config.get("scheduler") is None
    with config.set({"num-workers": 1, "num_workers": 2}):
        assert config.get("num-workers") == 2
    assert config.get("num-workers") is None


def test_set_dict_value_keys_are_canonical():
    with config.set(widget={"chunk_size": 5}):
        assert config.get("widget.chunk-size") == 5
    assert config.get("widget", None) is None


def test_set_is_thread_safe():
    errors = []

    def worker(i):
        try:
            for _ in range(200):
                with config.set({f"threads.t{i}": i, "threads.shared": i}):
                    assert config.get(f"threads.t{i}") == i
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i in range(4):
        assert config.get(f"threads.t{i}", None) is None


@pytest.mark.parametrize(
    "text, value",
    [("4", 4), ("1.5", 1.5), ("None", None), ("True", True), ("[1, 2]", [1, 2]),
     ("{'a': 1}", {"a": 1}), ("'quoted'", "quoted"), ("threads", "threads"),
     ("64MiB", "64MiB"), ("", "")],
)
def test_parse_env_value(text, value):
    assert config.parse_env_value(text) == value


def test_collect_env_nesting_and_names():
    env = {
        "SHOAL_SCHEDULER": "threads",
        "SHOAL_WIDGET__CHUNK_SIZE": "64MiB",
        "SHOAL_NUM_WORKERS": "4",
        "SHOAL_": "ignored",
        "OTHER_SCHEDULER": "ignored",
    }
    assert config.collect_env(env) == {
        "scheduler": "threads",
        "widget": {"chunk-size": "64MiB"},
        "num-workers": 4,
    }


def test_refresh_reads_environment(monkeypatch):
    monkeypatch.setenv("SHOAL_SCHEDULER", "threads")
    monkeypatch.setenv("SHOAL_WIDGET__CHUNK_SIZE", "64MiB")
    monkeypatch.setenv("SHOAL_TOKENIZE__ENSURE_DETERMINISTIC", "True")
    config.refresh()
    assert config.get("scheduler") == "threads"
    assert config.get("widget.chunk-size") == "64MiB"
    assert config.get("tokenize.ensure-deterministic") is True
    # defaults beside the overridden key are kept
    assert config.get("delayed.pure") is False

    monkeypatch.delenv("SHOAL_SCHEDULER")
    config.refresh()
    assert config.get("scheduler") is None


def test_refresh_discards_global_set():
    config.set(scheduler="sync")
    config.refresh()
    assert config.get("scheduler") is None


def test_update_defaults_adds_sections():
    config.update_defaults({"widget": {"chunk_size": "128MiB", "rechunk": {"method": "tasks"}}})
    assert config.get("widget.chunk-size") == "128MiB"
    assert config.get("widget.rechunk.method") == "tasks"
    assert config.defaults["widget"]["chunk-size"] == "128MiB"
    config.refresh()
    assert config.get("widget.chunk-size") == "128MiB"


def test_update_defaults_does_not_override_env_or_user(monkeypatch):
    monkeypatch.setenv("SHOAL_WIDGET__CHUNK_SIZE", "1MiB")
    config.refresh()
    config.update_defaults({"widget": {"chunk-size": "128MiB", "other": 1}})
    assert config.get("widget.chunk-size") == "1MiB"
    assert config.get("widget.other") == 1

    config.set({"dataframe.shuffle.method": "p2p"})
    config.update_defaults({"dataframe": {"shuffle": {"method": "tasks"}}})
    assert config.get("dataframe.shuffle.method") == "p2p"


def test_update_defaults_does_not_alias_caller_dict():
    new = {"bag": {"partition-size": 10}}
    config.update_defaults(new)
    config.set({"bag.partition-size": 99})
    assert new == {"bag": {"partition-size": 10}}
    assert config.defaults["bag"]["partition-size"] == 10


def test_get_from_explicit_mapping():
    assert config.get("a.b-c", config={"a": {"b-c": 1}}) == 1
