"""Fitters' feed URLs written to their Salesforce User / ServiceResource by the push job, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from caldav_bridge.errors import NotFound
from caldav_bridge.runtime import Runtime
from caldav_bridge.salesforce.runner import run_job
from caldav_bridge.salesforce.sync_context import SyncContext
from caldav_bridge.services import feed_tokens, users
from caldav_bridge.services.actor import system_actor
from caldav_bridge.store.sf_tables import SfUserRow
from caldav_bridge.store.tables import FeedTokenRow
from sf_emulator.emulator import SalesforceEmulator

FIELD = "Appointment_Feed_URL__c"
BASE = "https://appointments.example.com"


def _configure(ctx: SyncContext, mode: str = "event") -> SyncContext:
    ctx.mapping = replace(ctx.mapping, mode=mode)
    ctx.feed_url_field = FIELD
    ctx.public_url = BASE
    return ctx


def _fitter(rt: Runtime, emu: SalesforceEmulator | None, name: str) -> tuple[str, str | None]:
    email = f"{name}@example.com"
    users.add_user(rt.uow(), name, "fitter", email=email, timezone="Europe/Berlin")
    if emu is None:
        return name, None
    return name, emu.create("User", {"Name": name, "Email": email, "IsActive": True, "TimeZoneSidKey": "UTC"})


def _writes(emu: SalesforceEmulator) -> int:
    return emu.stats.by_path.get("/services/data/v59.0/composite/sobjects", 0)


def _resolves(rt: Runtime, url: str) -> str:
    secret = url.removeprefix(BASE + "/feeds/").removesuffix(".ics")
    with rt.uow() as uow:
        resolved, _ = feed_tokens.resolve(uow, secret)
        return resolved.token_name


def _salesforce_tokens(rt: Runtime) -> list[FeedTokenRow]:
    with rt.uow() as uow:
        return list(uow.session.scalars(select(FeedTokenRow).where(FeedTokenRow.name == "Salesforce")))


def test_feed_urls_written_to_users_once_and_again_after_rotation(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    ctx = _configure(sync)
    _, anna = _fitter(runtime, emulator, "anna")
    _fitter(runtime, None, "nobody")  # no Salesforce User: left alone, no token issued
    run_job(ctx, "mirror")
    result = run_job(ctx, "push")
    assert result is not None and result.outcome == "ok" and result.feed_urls == 1, result
    assert anna is not None
    url = emulator.get("User", anna)[FIELD]
    assert url.startswith(BASE + "/feeds/") and url.endswith(".ics")
    assert _resolves(runtime, url) == "Salesforce"
    assert len(_salesforce_tokens(runtime)) == 1

    # idempotent: nothing to write, no Salesforce write, the URL stays
    writes = _writes(emulator)
    again = run_job(ctx, "push")
    assert again is not None and again.feed_urls == 0 and _writes(emulator) == writes
    assert emulator.get("User", anna)[FIELD] == url

    # an operator rotates the token (`feeds urls --consumer Salesforce --rotate`): the new URL is written
    shown = feed_tokens.fitter_feed_urls(runtime.uow(), system_actor(), BASE, consumer="Salesforce", reissue=True)
    assert "anna" in [r.username for r in shown if r.issued]
    result = run_job(ctx, "push")
    assert result is not None and result.feed_urls == 1
    new_url = emulator.get("User", anna)[FIELD]
    assert new_url != url and _resolves(runtime, new_url) == "Salesforce"
    with pytest.raises(NotFound):
        _resolves(runtime, url)  # the old URL is revoked


def test_failed_write_is_retried_and_service_resources_get_the_url(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    ctx = _configure(sync, "service_appointment")
    _, user_sf = _fitter(runtime, emulator, "bert")
    resource = emulator.create("ServiceResource", {"Name": "Bert", "RelatedRecordId": user_sf, "IsActive": True})
    run_job(ctx, "mirror")
    emulator.inject("unavailable", path=r"/composite/sobjects$", method="PATCH")
    result = run_job(ctx, "push")
    assert result is not None and result.outcome == "partial" and result.feed_urls == 0, result
    assert FIELD not in emulator.get("ServiceResource", resource)
    with runtime.uow() as uow:
        row = uow.session.get(SfUserRow, resource)
        assert row is not None and row.feed_urls_hash is None
    result = run_job(ctx, "push")
    assert result is not None and result.outcome == "ok" and result.feed_urls == 1, result
    url = emulator.get("ServiceResource", resource)[FIELD]
    assert _resolves(runtime, url) == "Salesforce"
    assert user_sf is not None and FIELD not in emulator.get("User", user_sf)
    # the URL issued for the failed write was rotated away: one live Salesforce token
    assert len([t for t in _salesforce_tokens(runtime) if t.revoked_at is None]) == 1
    again = run_job(ctx, "push")
    assert again is not None and again.feed_urls == 0
