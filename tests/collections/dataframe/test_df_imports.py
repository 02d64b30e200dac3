"""Every module of shoal.collections.dataframe imports on its own in a fresh interpreter (no import cycle)."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

import shoal.collections.dataframe as package

_ROOT = pathlib.Path(package.__file__).parent
_MODULES = sorted(
    "shoal.collections.dataframe." + ".".join(path.relative_to(_ROOT).with_suffix("").parts)
    for path in _ROOT.rglob("*.py") if path.name != "__init__.py"
)


@pytest.mark.parametrize("module", ["shoal.collections.dataframe.frames", "shoal.collections.dataframe.core"])
def test_module_imports_first_in_a_fresh_interpreter(module):
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_every_module_imports_alone():
    # one interpreter per module would take minutes on a loaded machine: each import runs in a fresh
    # interpreter-like state by clearing the package from sys.modules first, in one child process
    script = (
        "import importlib, sys\n"
        "failed = []\n"
        f"for name in {_MODULES!r}:\n"
        "    for loaded in [m for m in sys.modules if m.startswith('shoal')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as error:\n"
        "        failed.append(f'{name}: {type(error).__name__}: {error}')\n"
        "print('\\n'.join(failed))\n"
        "sys.exit(1 if failed else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stdout + done.stderr


def test_public_names_still_reexported_from_core():
    from shoal.collections.dataframe import core, frames

    assert core.DataFrame is frames.DataFrame and core.Series is frames.Series and core.Index is frames.Index
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        core.Nothing
