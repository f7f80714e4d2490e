"""``serve --demo`` (what ``make run`` starts) prints a booking link that works, and the confirmation of a
booking made through it is written to data_dir/mail by the scheduled delivery job, with its invitation."""

from __future__ import annotations

import email
import email.policy
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
from icalendar import Calendar

from tests.support.cli import CLI
from tests.support.live import loopback_session
from tests.support.processes import free_port


def _field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert found, name
    return found.group(1)


@pytest.mark.slow
def test_make_run_books_and_writes_the_mail(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "APPOINTMENTS_DATA_DIR": str(tmp_path / "var"), "APPOINTMENTS_LOG_LEVEL": "WARNING"}
    env.pop("APPOINTMENTS_DATABASE_URL", None)
    process = subprocess.Popen(
        [*CLI, "serve", "--demo", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        printed: list[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (printed and printed[-1].startswith("Serving on")):
            line = process.stdout.readline()
            if not line:
                pytest.fail("serve --demo exited early:\n" + "".join(printed))
            printed.append(line)
        link = next(line.split(": ", 1)[1].strip() for line in printed if line.startswith("Book as a customer:"))
        assert link.startswith(f"http://127.0.0.1:{port}/book/")
        s = loopback_session()
        for _ in range(100):
            try:
                page = s.get(link, params={"tz": "Europe/Berlin"}, timeout=10)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert page.status_code == 200
        start = _field(page.text, "start")
        held = s.post(
            f"{link}/hold", data={"start": start, "tz": "Europe/Berlin", "csrf_token": _field(page.text, "csrf_token")}
        )
        form = {
            "csrf_token": _field(held.text, "csrf_token"),
            "hold": _field(held.text, "hold"),
            "tz": "Europe/Berlin",
            "first_name": "Demo",
            "last_name": "Customer",
            "email": "demo@example.org",
        }
        done = s.post(f"{link}/confirm", data=form)
        assert done.status_code == 200 and 'id="booked"' in done.text
        mail = tmp_path / "var" / "mail"
        for _ in range(60):  # the delivery job runs every 15 s
            if mail.exists() and list(mail.glob("*.eml")):
                break
            time.sleep(1)
        (written,) = list(mail.glob("*.eml"))
        message = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
        assert message["To"] == "demo@example.org"
        (part,) = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
        content = part.get_content()
        cal = Calendar.from_ical(content.encode() if isinstance(content, str) else content)
        assert cal["METHOD"] == "REQUEST"
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
