"""Shared by the browser tests: axe-core, the mail sink's messages, screenshots."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from icalendar import Calendar

from tests.support.screenshots import keep
from tests.support.smtp import Received

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tests" / "feeds" / "node" / "node_modules" / "axe-core" / "axe.min.js"


def serious_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations of impact serious or critical on the page (its context must bypass CSP)."""
    assert AXE.exists(), "run `make test` (npm ci in tests/feeds/node installs axe-core)"
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def screenshot(page: Any, name: str, backend: str) -> None:
    """Into test-artifacts/; with DOCS_SCREENSHOTS=1 the SQLite run's also into docs/images/ (docs/self-booking.md)."""
    keep(page, f"{name}-{backend}", for_docs=False)
    if backend == "sqlite":
        keep(page, name)


def invite_bytes(received: Received) -> bytes:
    parts = [p for p in received.message.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1, [p.get_content_type() for p in received.message.walk()]
    content = parts[0].get_content()
    return content.encode() if isinstance(content, str) else bytes(content)


def invite(received: Received) -> Calendar:
    return Calendar.from_ical(invite_bytes(received))


def text_of(received: Received) -> str:
    part = received.message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def manage_url(received: Received) -> str:
    found = re.search(r"(http://\S+/manage/\S+)", text_of(received))
    assert found, text_of(received)
    return found.group(1)
