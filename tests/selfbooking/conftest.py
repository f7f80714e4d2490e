"""The scheduling tests' organisation (consultants' team, tech-setup team, fitters) for self-booking."""

from __future__ import annotations

import pytest

from caldav_bridge.runtime import Runtime
from tests.scheduling.conftest import World, build_world


@pytest.fixture
def world(runtime: Runtime) -> World:
    return build_world(runtime)
