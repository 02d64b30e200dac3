"""Fixtures of the bag tests."""

from __future__ import annotations

import pytest

from bag_helpers import SHAPES


@pytest.fixture(params=sorted(SHAPES))
def shape(request):
    """A function ``list -> Bag`` splitting the list in one of the ``bag_helpers.SHAPES``."""
    return SHAPES[request.param]
