"""The ``.str`` accessor against Python's own string methods."""

from __future__ import annotations

import fnmatch

import pytest

import shoal.bag as db
from shoal.testing import assert_eq

LINES = ["  Hello World\n", "error: disk full", "", "Error: CPU hot  ", "warning: low\tmemory\n", "ünïcode Ünïcode"]


def test_str_methods_match_python(shape, scheduler):
    b = shape(LINES)
    assert_eq(b.str.lower(), [s.lower() for s in LINES], scheduler=scheduler)
    assert_eq(b.str.upper(), [s.upper() for s in LINES], scheduler=scheduler)
    assert_eq(b.str.strip(), [s.strip() for s in LINES], scheduler=scheduler)
    assert_eq(b.str.strip(" \n"), [s.strip(" \n") for s in LINES], scheduler=scheduler)
    assert_eq(b.str.split(), [s.split() for s in LINES], scheduler=scheduler)
    assert_eq(b.str.split(":", maxsplit=1), [s.split(":", maxsplit=1) for s in LINES], scheduler=scheduler)
    assert_eq(b.str.replace("o", "0"), [s.replace("o", "0") for s in LINES], scheduler=scheduler)
    assert_eq(b.str.startswith("error"), [s.startswith("error") for s in LINES], scheduler=scheduler)
    assert_eq(b.str.count("o"), [s.count("o") for s in LINES], scheduler=scheduler)


def test_str_match_is_a_glob_filter(shape, scheduler):
    b = shape(LINES).str.strip()
    stripped = [s.strip() for s in LINES]
    for pattern in ["*rror*", "[Ee]rror:*", "?????", "*"]:
        assert_eq(b.str.match(pattern), [s for s in stripped if fnmatch.fnmatchcase(s, pattern)], scheduler=scheduler)


def test_word_count_pipeline(shape, scheduler):
    from collections import Counter

    b = shape(LINES)
    got = b.str.lower().str.split().flatten().frequencies(sort=True).compute(scheduler=scheduler)
    assert dict(got) == Counter(w for s in LINES for w in s.lower().split())


def test_unknown_method_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no method 'frobnicate'"):
        db.from_sequence(["a"]).str.frobnicate()
    assert "split" in dir(db.from_sequence(["a"]).str)
