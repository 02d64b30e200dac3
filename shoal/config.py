"""Nested settings for shoal: defaults, ``SHOAL_*`` environment variables, overrides.

Rules this module keeps:

- It imports nothing from shoal, so every layer (even ``taskgraph``) may read it.
- Keys are dotted paths into a nested dict: ``"array.chunk-size"`` is
  ``config["array"]["chunk-size"]``.  ``-`` and ``_`` mean the same in a key, and
  keys are *stored* with ``-`` so each setting has one spelling.
- Precedence, lowest first: ``defaults`` (built-in plus what subpackages
  register with :func:`update_defaults`), then ``SHOAL_*`` environment
  variables, then :func:`set`.

>>> get("scheduler") is None
True
>>> with set(scheduler="sync"):
...     get("scheduler")
'sync'
>>> get("scheduler") is None
True
"""

from __future__ import annotations

import ast
import copy
import difflib
import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["config", "defaults", "get", "set", "refresh", "update_defaults", "collect_env"]

ENV_PREFIX = "SHOAL_"

#: Built-in defaults; subpackages add their sections through ``update_defaults``.
defaults: dict = {
    "scheduler": None,
    "num-workers": None,
    "tokenize": {"ensure-deterministic": False},
    "delayed": {"pure": False},
}

#: The live nested settings every ``get`` reads.
config: dict = {}

# Re-entrant so that ``set`` may be used while another ``set`` in the same thread
# is restoring (e.g. nested context managers unwinding after an exception).
_lock = threading.RLock()

_NO_DEFAULT = object()
_MISSING = object()


class ConfigKeyError(KeyError):
    """A config key that does not exist; the message names close matches."""

    def __str__(self) -> str:  # KeyError's default str() would wrap the message in quotes
        return str(self.args[0]) if self.args else ""


def canonical_name(key: str) -> str:
    """The stored spelling of one key segment: ``_`` becomes ``-``.

    >>> canonical_name("chunk_size")
    'chunk-size'
    """
    return key.replace("_", "-") if isinstance(key, str) else key


def _split(key: str) -> list[str]:
    return [canonical_name(part) for part in key.split(".")]


def _canonical_tree(value: Any) -> Any:
    """A copy of ``value`` with every nested dict key canonicalized."""
    if isinstance(value, Mapping):
        return {canonical_name(k): _canonical_tree(v) for k, v in value.items()}
    return value


def _merge(target: dict, source: Mapping, overwrite: bool = True) -> dict:
    """Merge ``source`` into ``target`` section by section (in place).

    With ``overwrite=False`` existing leaf values win, so defaults registered
    late never clobber what the environment or the user already set.

    >>> _merge({"a": {"b": 1}}, {"a": {"c": 2}})
    {'a': {'b': 1, 'c': 2}}
    >>> _merge({"a": 1}, {"a": 2}, overwrite=False)
    {'a': 1}
    """
    for key, value in source.items():
        key = canonical_name(key)
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value, overwrite)
        elif overwrite or key not in target:
            target[key] = _canonical_tree(value)
    return target


def _paths(tree: Mapping, prefix: str = "") -> Iterator[str]:
    """Every dotted path in a nested dict, sections included."""
    for key, value in tree.items():
        path = f"{prefix}{key}"
        yield path
        if isinstance(value, Mapping):
            yield from _paths(value, path + ".")


def get(key: str, default: Any = _NO_DEFAULT, config: Mapping | None = None, override_with: Any = None) -> Any:
    """The value at dotted ``key``; ``default`` if it is missing.

    Without a default a missing key raises ``KeyError`` listing close matches.
    ``override_with``, when not None, is returned as it is (as in Dask: a
    function's keyword argument wins over the setting).

    >>> get("tokenize.ensure_deterministic")
    False
    >>> get("no.such.key", 42)
    42
    >>> get("scheduler", override_with="sync")
    'sync'
    """
    if override_with is not None:
        return override_with
    if not isinstance(key, str):
        raise TypeError(f"Config keys are dotted strings such as 'array.chunk-size'; got {type(key).__name__} {key!r}")
    tree = _live_config() if config is None else config
    node: Any = tree
    for part in _split(key):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif default is not _NO_DEFAULT:
            return default
        else:
            raise _missing_key_error(key, tree)
    return node


def _live_config() -> dict:
    # ``get``'s parameter named ``config`` shadows the module-level dict.
    return config


def _missing_key_error(key: str, tree: Mapping) -> ConfigKeyError:
    wanted = ".".join(_split(key))
    matches = difflib.get_close_matches(wanted, list(_paths(tree)), n=3, cutoff=0.6)
    hint = (
        f" Did you mean {', '.join(repr(m) for m in matches)}?"
        if matches
        else " Pass a default, e.g. shoal.config.get(key, None), or set it with shoal.config.set."
    )
    return ConfigKeyError(f"No config key {key!r}.{hint}")


class set:
    """Set config values globally, or temporarily when used as a context manager.

    Keys are dotted paths; keyword arguments use ``_`` where a path has ``-``
    (``num_workers`` is ``num-workers``), and ``__`` for a dot.

    >>> set({"delayed.pure": True}) and get("delayed.pure")
    True
    >>> with set(delayed__pure=False):
    ...     get("delayed.pure")
    False
    >>> get("delayed.pure")
    True
    >>> _ = set({"delayed.pure": False})

    On exit the context manager puts back exactly what was there before,
    removing keys (and whole sections) that it created, also when the block
    raises.
    """

    def __init__(self, arg: Mapping | None = None, /, **kwargs: Any) -> None:
        if arg is not None and not isinstance(arg, Mapping):
            raise TypeError(
                f"shoal.config.set takes a mapping or keywords, e.g. shoal.config.set({{'scheduler': 'sync'}}) "
                f"or shoal.config.set(scheduler='sync'); got {type(arg).__name__} {arg!r:.60}"
            )
        updates: dict[str, Any] = dict(arg or {})
        updates.update({k.replace("__", "."): v for k, v in kwargs.items()})
        # (path, previous value or _MISSING), in the order they were applied.
        self._undo: list[tuple[list[str], Any]] = []
        with _lock:
            for key, value in updates.items():
                self._assign(_split(key), value)

    def _assign(self, path: list[str], value: Any) -> None:
        node = config
        for depth, part in enumerate(path[:-1]):
            child = node.get(part, _MISSING)
            if not isinstance(child, dict):
                # Record the first level we create or replace, so undo removes
                # the whole new branch rather than leaving empty sections behind.
                self._undo.append((path[: depth + 1], child))
                child = node[part] = {}
            node = child
        self._undo.append((path, node.get(path[-1], _MISSING)))
        node[path[-1]] = _canonical_tree(value)

    def __enter__(self) -> set:
        return self

    def __exit__(self, *exc_info: object) -> None:
        with _lock:
            for path, previous in reversed(self._undo):
                _restore(path, previous)
        self._undo = []


def _restore(path: list[str], previous: Any) -> None:
    node = config
    for part in path[:-1]:
        node = node.setdefault(part, {})
    if previous is _MISSING:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = previous


def parse_env_value(text: str) -> Any:
    """A Python literal if ``text`` is one, else the string itself.

    >>> parse_env_value("4"), parse_env_value("None"), parse_env_value("64MiB")
    (4, None, '64MiB')
    """
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def collect_env(environ: Mapping[str, str] | None = None) -> dict:
    """The nested settings named by ``SHOAL_*`` environment variables.

    ``__`` separates levels and ``_`` inside a name means ``-``.

    >>> collect_env({"SHOAL_ARRAY__CHUNK_SIZE": "64MiB", "SHOAL_NUM_WORKERS": "4"})
    {'array': {'chunk-size': '64MiB'}, 'num-workers': 4}
    """
    environ = os.environ if environ is None else environ
    result: dict = {}
    for name, text in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or len(name) == len(ENV_PREFIX):
            continue
        path = [canonical_name(part.lower()) for part in name[len(ENV_PREFIX) :].split("__")]
        node = result
        for part in path[:-1]:
            # SHOAL_A=1 next to SHOAL_A__B=2: the section wins over the leaf.
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[path[-1]] = parse_env_value(text)
    return result


def refresh(environ: Mapping[str, str] | None = None) -> None:
    """Rebuild ``config`` from ``defaults`` and the environment.

    Values set globally with :func:`set` are discarded, as after a restart.
    """
    with _lock:
        config.clear()
        _merge(config, copy.deepcopy(defaults))
        _merge(config, collect_env(environ))


def update_defaults(new: Mapping) -> None:
    """Register a subpackage's defaults, e.g. ``update_defaults({"array": {...}})``.

    Values already in ``config`` (from the environment or :func:`set`) win over
    the new defaults; ``refresh`` keeps the new defaults.
    """
    with _lock:
        _merge(defaults, new)
        _merge(config, copy.deepcopy(_canonical_tree(new)), overwrite=False)


refresh()
