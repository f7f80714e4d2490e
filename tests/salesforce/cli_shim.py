"""Run the real ``appointment-service`` CLI with Salesforce's transport pointed at the emulator.

simple-salesforce builds ``https://`` URLs to Salesforce's hosts; the tests reach the emulator
through :class:`sf_emulator.emulator.RedirectSession` (docs/salesforce.md, "Tests"). This
shim makes every gateway the CLI builds use one (address from ``SF_EMULATOR_URL``) and then runs
``feeds.cli.main`` unchanged: settings, runtime, jobs, progress and output are the CLI's own.

    SF_EMULATOR_URL=http://127.0.0.1:PORT python -m tests.salesforce.cli_shim sync run --once
"""

from __future__ import annotations

import os
import sys
from typing import Any

from caldav_bridge.salesforce.sync_context import SyncContext
from sf_emulator.emulator import RedirectSession


def _install() -> None:
    base = os.environ["SF_EMULATOR_URL"]
    original = SyncContext.from_runtime.__func__  # type: ignore[attr-defined]

    def from_runtime(cls: type[SyncContext], rt: Any, session_factory: Any = None) -> SyncContext:
        timeout = float(rt.settings.sf_timeout_seconds)
        return original(cls, rt, lambda: RedirectSession(base, timeout))

    SyncContext.from_runtime = classmethod(from_runtime)  # type: ignore[method-assign,assignment]


if __name__ == "__main__":
    _install()
    from feeds.cli import main

    sys.exit(main(sys.argv[1:]))
