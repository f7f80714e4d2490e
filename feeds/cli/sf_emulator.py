"""``serve --demo --salesforce-emulator``: the demo with the Salesforce sync running against the emulator.

The emulator is the development package :mod:`sf_emulator` (installed with the service, as the tests use it).
It serves a small in-memory org on 127.0.0.1 (an OS-chosen port), seeded with a handful of Events for the
demo fitters; the gateway reaches it with an existing session (``sf_auth=session``) through the emulator's
URL-rewriting ``requests.Session`` (simple-salesforce only builds ``https://`` URLs; docs/salesforce.md, "Tests").
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from caldav_bridge.demo import DEMO_CUSTOMER_GIDS, DEMO_OPPORTUNITY_GIDS, DEMO_USERS

__all__ = ["EmulatorMissing", "EmulatorOrg", "emulator_org", "load_emulator"]

MODULE = "sf_emulator.emulator"
#: Short intervals, so a change made on either side shows up within seconds in the demo.
MIRROR_SECONDS = 10
PUSH_SECONDS = 10


class EmulatorMissing(RuntimeError):
    """The emulator's module is not available (an installed package without the source tree)."""


@dataclass
class EmulatorOrg:
    """A running demo org: the settings that point the gateway at it and the session that reaches it."""

    base_url: str
    settings: dict[str, Any]
    session_factory: Callable[[], Any]
    seeded: dict[str, int] = field(default_factory=dict)


def load_emulator() -> ModuleType:
    """The emulator module, or :class:`EmulatorMissing` saying how to get it."""
    try:
        return importlib.import_module(MODULE)
    except ImportError as exc:
        raise EmulatorMissing(
            f"--salesforce-emulator needs the development package {MODULE.split('.')[0]!r}, which this installation "
            f"lacks ({exc}). Install the service with it (`pip install -e .`, `make run-sf`), or configure a real org "
            "with the APPOINTMENTS_SF_* settings."
        ) from exc


@contextmanager
def emulator_org(timeout: float = 10.0) -> Iterator[EmulatorOrg]:
    """Start the emulator with the demo fitters' Events; stop it when the block ends."""
    module = load_emulator()
    fitters = [
        module.DemoFitter(user.display_name, f"{user.username}@demo.invalid", user.timezone or "UTC")
        for user in DEMO_USERS
        if user.role == "fitter"
    ]
    with module.running_emulator(module.SalesforceEmulator()) as emu:
        seeded = module.seed_demo(emu, fitters, opportunity_ids=DEMO_OPPORTUNITY_GIDS, contact_ids=DEMO_CUSTOMER_GIDS)
        base_url = str(emu.base_url)
        yield EmulatorOrg(
            base_url=base_url,
            settings={
                "sf_auth": "session",
                "sf_instance_url": f"https://{emu.host}",
                "sf_session_id": emu.issue_session(),
                "sf_mirror_interval_seconds": MIRROR_SECONDS,
                "sf_push_interval_seconds": PUSH_SECONDS,
            },
            session_factory=lambda: module.RedirectSession(base_url, timeout),
            seeded=seeded,
        )
