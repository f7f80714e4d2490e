"""``serve --demo --salesforce-emulator`` (``make run-sf``): the demo with the sync working against the emulator."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from config import Settings
from feeds.cli import sf_emulator
from tests.support.cli import CLI
from tests.support.processes import free_port


def _env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "APPOINTMENTS_DATABASE_URL": settings.resolved_database_url(),
        "APPOINTMENTS_DATA_DIR": settings.data_dir,
    }


@pytest.fixture
def sf_demo(settings: Settings) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``serve --demo --salesforce-emulator`` on ``settings``. Its test asks for ``demo``: the demo is in the
    database already and the serve re-runs the seed (adding nothing); the Salesforce side is new all the same (the
    template was seeded without a sync, and each serve starts an emulator of its own), so the first sync mirrors
    and pushes as on a first ``make run-sf``."""
    port = free_port()
    process = subprocess.Popen(
        [*CLI, "serve", "--demo", "--salesforce-emulator", "--host", "127.0.0.1", "--port", str(port)],
        env=_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


def _get(url: str, token: str) -> requests.Response:
    for _ in range(100):
        try:
            return requests.get(url, headers={"Authorization": f"Bearer {token}"}, params={"limit": "500"}, timeout=10)
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


@pytest.mark.usefixtures("demo")
def test_demo_events_from_the_emulator_show_up_and_a_second_shell_sees_the_running_sync(
    sf_demo: tuple[str, subprocess.Popen[str]], settings: Settings
) -> None:
    """One serve for both halves (each started a serve of its own: ~5 s of CPU a serve, emulator and first sync):
    what the first sync mirrored and pushed, then the quiet console and ``sync status`` from a second shell."""
    base, process = sf_demo
    assert process.stdout is not None
    printed: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            pytest.fail("serve --salesforce-emulator exited early:\n" + "".join(printed))
        printed.append(line)
        if line.startswith("Serving on"):
            break
    output = "".join(printed)
    summary = next(line for line in printed if line.startswith("Salesforce emulator on http://127.0.0.1:"))
    # 3 fitters x 2 fittings, 3 occurrences of the series (not its master), 1 Event with two customers
    assert "mirrored: 10 created (ok)" in summary, summary
    assert "pushed: " in summary and "created (ok)" in summary.split("pushed: ")[1], summary
    assert "00D000000000001!" not in output, "the session id must not be printed or logged"
    fitter_token = next(line for line in printed if line.startswith("fitter.denver")).split()[3]
    items = _get(f"{base}/api/v1/appointments", fitter_token).json()["items"]
    from_sf = [a for a in items if "(Salesforce" in a["name"]]
    names = sorted(a["name"] for a in from_sf)
    assert names.count("Daily check-in (Salesforce series)") == 3
    assert "Joint consultation (Salesforce, two customers)" in names
    assert all(a["meta"]["salesforce"]["appointment_gid"].startswith("00U") for a in from_sf)
    joint = next(a for a in from_sf if a["name"].startswith("Joint"))
    assert [g["first_name"] for g in joint["guests"]] == ["Grace", "Omar"]
    series = [a for a in from_sf if "series" in a["name"]]
    assert len({a["meta"]["salesforce_series_gid"] for a in series}) == 1
    berlin_token = next(line for line in printed if line.startswith("fitter.berlin")).split()[3]
    berlin = _get(f"{base}/api/v1/appointments", berlin_token).json()["items"]
    assert sum("(Salesforce)" in a["name"] for a in berlin) == 2

    # The console stays quiet while the sync runs every 10 s (make run-sf): no per-run or per-tick lines.
    later: list[str] = []
    quiet_until = time.monotonic() + 12
    while time.monotonic() < quiet_until:
        ready, _, _ = select.select([process.stdout], [], [], max(quiet_until - time.monotonic(), 0))
        if not ready:
            break
        later.append(process.stdout.readline())
    assert not [line for line in later if " tick " in line or "salesforce mirror" in line], later
    # A second shell: the same database, none of the serving process's Salesforce settings.
    env = {k: v for k, v in _env(settings).items() if not k.startswith("APPOINTMENTS_SF_")}
    text = subprocess.run([*CLI, "sync", "status"], env=env, capture_output=True, text=True, timeout=120)
    assert text.returncode == 0, text.stderr
    first = text.stdout.splitlines()[0]
    assert first.startswith("Salesforce: syncing (") and "not configured" not in first, first

    def status() -> dict[str, Any]:
        run = subprocess.run([*CLI, "sync", "status", "--json"], env=env, capture_output=True, text=True, timeout=120)
        return dict(json.loads(run.stdout))

    data, deadline = status(), time.monotonic() + 60
    while data["running"]["outcome"] == "running" and time.monotonic() < deadline:  # asked mid-run: wait for its end
        time.sleep(0.5)
        data = status()
    assert data["running"]["outcome"] == "ok" and data["running"]["last_run_seconds_ago"] < 600
    assert data["last_runs"]["mirror"] and data["last_runs"]["push"]


def test_the_option_needs_demo(settings: Settings) -> None:
    result = subprocess.run(
        [*CLI, "serve", "--salesforce-emulator", "--port", str(free_port())],
        env=_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "needs --demo" in result.stderr, result.stderr


def test_a_missing_emulator_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sf_emulator, "MODULE", "sf_emulator.no_such_emulator")
    with pytest.raises(sf_emulator.EmulatorMissing, match=r"development package 'sf_emulator'.*make run-sf"):
        sf_emulator.load_emulator()


def test_the_emulator_is_an_importable_package_without_the_tests() -> None:
    """No ``sys.path`` edit: the module comes from the installed ``sf_emulator`` package, not ``tests/``."""
    module = sf_emulator.load_emulator()
    assert module.__name__ == "sf_emulator.emulator" and "tests" not in Path(module.__file__ or "").parts
