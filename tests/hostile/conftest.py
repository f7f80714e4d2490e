"""Fixtures of the hostile-input suites."""

from __future__ import annotations

import pytest

from tests.conftest import People
from tests.support.hostile import Door
from tests.support.live import LiveServer


@pytest.fixture
def door(live: LiveServer, people: People) -> Door:
    return Door(live, people)
