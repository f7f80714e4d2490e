"""``/metrics`` scraped over real HTTP and read with prometheus_client's own parser."""

from __future__ import annotations

from datetime import timedelta

import requests
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from caldav_bridge.clock import utcnow
from caldav_bridge.runtime import Runtime
from caldav_bridge.services.audit_trail import fold_staged_reads
from caldav_bridge.store.job_tables import JobTickRow
from feeds.app import create_app
from tests.conftest import People
from tests.support.factories import appointment_body
from tests.support.live import LiveServer


def _scrape(live: LiveServer, token: str) -> list[Sample]:
    answer = requests.get(f"{live.base_url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/plain; version=")
    return [s for family in text_string_to_metric_families(answer.text) for s in family.samples]


def _value(samples: list[Sample], name: str, **labels: str) -> float:
    found = [s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    assert found, (name, labels)
    return sum(found)


def test_metrics_count_routes_caldav_feeds_backlogs_jobs_and_the_pool(
    live: LiveServer, people: People, runtime: Runtime
) -> None:
    dispatcher = live.client(people.dispatcher.token)
    created = dispatcher.post("/api/v1/appointments", json=appointment_body(people.fitter.calendar_id or ""))
    assert created.status_code == 201
    appointment_id = created.json()["id"]
    assert dispatcher.get(f"/api/v1/appointments/{appointment_id}").status_code == 200
    assert dispatcher.get("/api/v1/appointments/no-such-id").status_code == 404
    issued = dispatcher.post(f"/api/v1/calendars/{people.fitter.calendar_id}/feeds", json={"name": "Google"}).json()
    secret = issued["secret"]
    first = requests.get(f"{live.base_url}/feeds/{secret}.ics", timeout=30)
    assert first.status_code == 200
    again = requests.get(
        f"{live.base_url}/feeds/{secret}.ics", headers={"If-None-Match": first.headers["ETag"]}, timeout=30
    )
    assert again.status_code == 304
    assert requests.get(f"{live.base_url}/no/such/{secret}", timeout=30).status_code == 404
    propfind = requests.request(
        "PROPFIND",
        f"{live.base_url}/dav/{people.fitter.username}/",
        auth=(people.fitter.username, people.fitter.password),
        headers={"Depth": "0"},
        timeout=30,
    )
    assert propfind.status_code == 207
    with runtime.uow() as uow:  # a job tick that ended well, as the scheduler records it
        now = utcnow()
        uow.session.add(
            JobTickRow(
                job_id="webhooks-deliver",
                tick_at=now - timedelta(seconds=40),
                holder="test",
                claimed_at=now - timedelta(seconds=40),
                finished_at=now - timedelta(seconds=30),
                outcome="ok",
            )
        )
        uow.commit()

    samples = _scrape(live, people.admin.token)

    requests_total = "appointments_http_requests_total"
    assert _value(samples, requests_total, route="/api/v1/appointments/<id>", method="GET", status="200") == 1
    assert _value(samples, requests_total, route="/api/v1/appointments/<id>", method="GET", status="404") == 1
    assert _value(samples, requests_total, route="/api/v1/appointments", method="POST", status="201") == 1
    assert _value(samples, requests_total, route="(unmatched)", status="404") >= 1
    assert (
        _value(
            samples, "appointments_http_request_duration_seconds_count", route="/api/v1/appointments/<id>", method="GET"
        )
        == 2
    )
    assert _value(samples, "appointments_caldav_requests_total", method="PROPFIND", status="207") == 1
    assert _value(samples, "appointments_caldav_request_duration_seconds_count", method="PROPFIND") == 1
    assert _value(samples, "appointments_feed_fetches_total", kind="feed", status="200") == 1
    assert _value(samples, "appointments_feed_fetches_total", kind="feed", status="304") == 1
    depth = {s.labels["consumer"]: s.value for s in samples if s.name == "appointments_outbox_depth"}
    assert set(depth) == {"salesforce", "webhooks", "messages"}
    assert depth["salesforce"] >= 1  # the new appointment waits to be pushed
    assert _value(samples, "appointments_outbox_oldest_age_seconds", consumer="salesforce") >= 0
    assert _value(samples, "appointments_job_lag_seconds", job="webhooks-deliver") >= 30
    assert _value(samples, "appointments_job_last_success_timestamp_seconds", job="webhooks-deliver") > 1.7e9
    assert _value(samples, "appointments_db_pool_checked_out") >= 0
    assert [s for s in samples if s.name == "appointments_db_pool_size"]

    # No label value carries an id, a token, a secret or a name of a person.
    assert live.app is not None
    routes = {rule.rule for rule in live.app.url_map.iter_rules()} | {"(unmatched)"}
    assert {s.labels["route"] for s in samples if "route" in s.labels} <= routes
    values = " ".join(v for s in samples for v in s.labels.values())
    for secret_or_id in (appointment_id, secret, people.admin.token, people.dispatcher.token, "Jane", "Doe"):
        assert secret_or_id not in values
    assert people.fitter.username not in values and "no-such-id" not in values


def test_metrics_need_an_admin_token_unless_made_public(live: LiveServer, people: People, runtime: Runtime) -> None:
    assert requests.get(f"{live.base_url}/metrics", timeout=30).status_code == 401
    fitter = requests.get(
        f"{live.base_url}/metrics", headers={"Authorization": f"Bearer {people.fitter.token}"}, timeout=30
    )
    assert fitter.status_code == 403
    public = Runtime.from_settings(runtime.settings.replace(metrics_public=True))
    try:
        app = create_app(rt=public)
        answer = app.test_client().get("/metrics")
        assert answer.status_code == 200 and b"appointments_outbox_depth" in answer.data
    finally:
        public.close()


def test_metrics_show_the_reads_audit_the_fold_has_yet_to_take(
    live: LiveServer, people: People, runtime: Runtime
) -> None:
    """SQLite file databases stage each read's audit in a spool file until the fold job takes it into audit_log:
    /metrics shows how much waits and how old its oldest read is; PostgreSQL keeps each read's row (nothing waits)."""
    dispatcher = live.client(people.dispatcher.token)
    created = dispatcher.post("/api/v1/appointments", json=appointment_body(people.fitter.calendar_id or ""))
    assert created.status_code == 201
    fold_staged_reads(runtime.uow())  # whatever the set-up staged
    quiet = _scrape(live, people.admin.token)
    assert _value(quiet, "appointments_audit_reads_unfolded_bytes") == 0
    assert _value(quiet, "appointments_audit_reads_unfolded_oldest_age_seconds") == 0

    before = utcnow()
    for _ in range(3):
        assert dispatcher.get(f"/api/v1/appointments/{created.json()['id']}").status_code == 200
    waiting = _scrape(live, people.admin.token)
    unfolded = _value(waiting, "appointments_audit_reads_unfolded_bytes")
    age = _value(waiting, "appointments_audit_reads_unfolded_oldest_age_seconds")
    if runtime.engine.dialect.name == "sqlite":
        assert unfolded > 0
        assert 0 < age <= (utcnow() - before).total_seconds() + 1
        assert fold_staged_reads(runtime.uow()).batches >= 3
        folded = _scrape(live, people.admin.token)
        assert _value(folded, "appointments_audit_reads_unfolded_bytes") == 0
        assert _value(folded, "appointments_audit_reads_unfolded_oldest_age_seconds") == 0
    else:
        assert (unfolded, age) == (0, 0)
