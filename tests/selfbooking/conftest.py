"""The scheduling tests' organisation (consultants' team, tech-setup team, fitters) for self-booking."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from caldav_bridge.runtime import Runtime
from tests.scheduling.conftest import World, build_world
from tests.support.browser import chromium


@pytest.fixture
def world(runtime: Runtime) -> World:
    return build_world(runtime)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (tests.support.browser)."""
    yield from chromium()
