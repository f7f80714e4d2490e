"""The gateway's one retry helper: every call kind re-authenticates once on a 401 and retries once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from caldav_bridge.salesforce.gateway import (
    GatewayConfig,
    SalesforceAuthError,
    SalesforceGateway,
    SalesforcePermanentError,
)
from sf_emulator.emulator import RedirectSession, SalesforceEmulator
from tests.salesforce.conftest import gateway_config

EXT = "Appointment_Service_Id__c"
EVENT = {"Subject": "S", "StartDateTime": "2030-01-01T09:00:00.000+0000", "EndDateTime": "2030-01-01T10:00:00.000+0000"}


def _gateway(emu: SalesforceEmulator, config: GatewayConfig | None = None) -> SalesforceGateway:
    return SalesforceGateway(config or gateway_config(emu), RedirectSession(emu.base_url, 5.0))


def _calls(emu: SalesforceEmulator) -> dict[str, Callable[[SalesforceGateway], Any]]:
    existing = emu.create("Event", dict(EVENT))
    doomed = emu.create("Event", dict(EVENT))
    return {
        "query": lambda gw: gw.query("SELECT Id FROM Event"),
        "limits": lambda gw: gw.limits(),
        "upsert_many": lambda gw: gw.upsert_many("Event", EXT, [{EXT: "ext-1", **EVENT}]),
        "create_many": lambda gw: gw.create_many("Event", [dict(EVENT)]),
        "update_many": lambda gw: gw.update_many("Event", [{"id": existing, "Subject": "T"}]),
        "delete_many": lambda gw: gw.delete_many([doomed]),
        "update_record": lambda gw: gw.update_record("Event", existing, {"Subject": "U"}),
    }


@pytest.mark.parametrize(
    "kind", ["query", "limits", "upsert_many", "create_many", "update_many", "delete_many", "update_record"]
)
def test_every_call_reauthenticates_once_on_401_then_gives_up(emulator: SalesforceEmulator, kind: str) -> None:
    call = _calls(emulator)[kind]
    gw = _gateway(emulator)
    gw.limits()  # logged in
    assert gw.logins == 1
    emulator.inject("expire")  # one 401: one more login, one retry, success
    before = len(emulator.live("Event"))
    answer = call(gw)
    assert gw.logins == 2
    if kind in ("upsert_many", "create_many", "update_many", "delete_many"):
        assert [r.success for r in answer] == [True]
    if kind == "create_many" or kind == "upsert_many":
        assert len(emulator.live("Event")) == before + 1  # applied once, not twice
    emulator.inject("expire", count=None)  # a 401 that never clears: exactly one re-login, then a typed error
    with pytest.raises(SalesforceAuthError) as info:
        call(gw)
    assert info.value.code == "INVALID_SESSION_ID"
    assert gw.logins == 3  # one re-login after the first 401; the retry's 401 ends it
    emulator.clear_faults()


def test_session_mode_never_relogs_in(emulator: SalesforceEmulator) -> None:
    token = emulator._new_token()
    config = GatewayConfig(auth="session", instance_url="https://sf.example.com", session_id=token)
    gw = _gateway(emulator, config)
    gw.limits()
    emulator.inject("expire")
    with pytest.raises(SalesforceAuthError):
        gw.limits()
    assert gw.logins == 1 and emulator.stats.logins == 1  # the token made above; no login call
    assert token not in repr(config)


def test_collections_refuse_more_than_200_and_skip_empty(emulator: SalesforceEmulator) -> None:
    gw = _gateway(emulator)
    many = [dict(EVENT) for _ in range(201)]
    for call in (
        lambda: gw.create_many("Event", many),
        lambda: gw.update_many("Event", many),
        lambda: gw.upsert_many("Event", EXT, many),
        lambda: gw.delete_many([f"00U{i:015d}" for i in range(201)]),
    ):
        with pytest.raises(ValueError, match="at most 200"):
            call()
    assert gw.create_many("Event", []) == [] and gw.delete_many([]) == []
    assert gw.api_calls == 0


def test_bad_query_is_a_permanent_error_with_its_code(emulator: SalesforceEmulator) -> None:
    with pytest.raises(SalesforcePermanentError) as info:
        _gateway(emulator).query("SELECT FROM")
    assert info.value.code == "MALFORMED_QUERY"
