"""CPU cost of one write through each channel's full path: REST create, update and cancel, CalDAV PUT.

Runs a real server in this process (loopback HTTP, SQLite in a temporary directory) and measures this
process's CPU time (``time.process_time``: server and client together) per request, so that a loaded,
shared machine changes the figures far less than wall-clock timings. Each write reaches every
consequence (history, audit, outbox, webhooks when subscribed, the CalDAV item and change log).
Compare two trees by running it with each on ``PYTHONPATH``, alternating::

    PYTHONPATH=/path/to/tree .venv/bin/python bench/write_path_bench.py --writes 100 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT))  # last: a tree on PYTHONPATH (above) is the one measured

import requests  # noqa: E402

from caldav_bridge.runtime import Runtime  # noqa: E402
from caldav_bridge.services import users  # noqa: E402
from caldav_bridge.store.migrate import upgrade  # noqa: E402
from config import load_settings  # noqa: E402
from tests.support.factories import appointment_body  # noqa: E402
from tests.support.live import serve  # noqa: E402

START = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


def _cpu_ms_per(n: int, fn: Callable[[int], None]) -> float:
    began = time.process_time()
    for i in range(n):
        fn(i)
    return (time.process_time() - began) * 1000 / n


def one_round(writes: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(environ={}, database_url=f"sqlite:///{Path(tmp) / 'b.db'}", data_dir=tmp)
        rt = Runtime.from_settings(settings)
        upgrade(rt.engine)
        _, password = users.add_user(rt.uow(), "fitter.bench", "fitter", timezone="America/Denver")
        token = users.issue_token(rt.uow(), "fitter.bench", ("write",)).secret
        with rt.uow() as uow:
            user = uow.users.by_username("fitter.bench")
            assert user is not None
            calendar_id = uow.calendars.ids_owned_by(user.id)[0]
        try:
            with serve(rt) as live:
                api = live.client(token)
                ids: list[str] = []

                def create(i: int) -> None:
                    body = appointment_body(calendar_id, start=START + timedelta(hours=2 * i))
                    response = api.post("/api/v1/appointments", json=body)
                    assert response.status_code == 201, response.text
                    ids.append(response.json()["id"])

                def update(i: int) -> None:
                    response = api.patch(f"/api/v1/appointments/{ids[i]}", json={"name": f"Fitting {i}"})
                    assert response.status_code == 200, response.text

                dav = requests.Session()
                dav.auth = ("fitter.bench", password)
                base = f"{live.base_url}/dav/fitter.bench/appointments/"

                texts: dict[int, str] = {}

                def put(i: int) -> None:
                    url = f"{base}{ids[i]}.ics"
                    text = texts[i]
                    changed = text.replace(f"SUMMARY:Fitting {i}", f"SUMMARY:Fitting {i} (moved)")
                    response = dav.put(url, data=changed, headers={"Content-Type": "text/calendar"}, timeout=30)
                    assert response.status_code in (201, 204), response.text

                def cancel(i: int) -> None:
                    response = api.post(f"/api/v1/appointments/{ids[i]}/cancel", json={"reason": "bench"})
                    assert response.status_code == 200, response.text

                figures = {"create": _cpu_ms_per(writes, create), "update": _cpu_ms_per(writes, update)}
                texts.update(
                    (i, dav.get(f"{base}{ids[i]}.ics", timeout=30).text) for i in range(writes)
                )  # not measured
                figures["caldav_put"] = _cpu_ms_per(writes, put)
                figures["cancel"] = _cpu_ms_per(writes, cancel)
                return figures
        finally:
            rt.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writes", type=int, default=100, help="writes of each kind per round (at most 1000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the median is reported (at most 10)")
    args = parser.parse_args()
    writes, rounds = min(args.writes, 1000), min(args.rounds, 10)
    results = [one_round(writes) for _ in range(rounds)]
    for kind in results[0]:
        values = [r[kind] for r in results]
        each = ", ".join(f"{v:.2f}" for v in values)
        print(f"{kind:11s} {statistics.median(values):7.2f} CPU ms per write (rounds: {each})")


if __name__ == "__main__":
    main()
