"""Fixtures: a running Salesforce emulator and a sync context wired to it over loopback."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta

import pytest

from caldav_bridge.runtime import Runtime
from caldav_bridge.salesforce.gateway import GatewayConfig, SalesforceGateway
from caldav_bridge.salesforce.sync_context import SyncContext
from sf_emulator.emulator import RedirectSession, SalesforceEmulator, running_emulator

#: The Opportunity the tests' records relate to by default.
OPPORTUNITY = "006000000000001AAA"


def add_opportunity(emu: SalesforceEmulator, rid: str = OPPORTUNITY, name: str = "Hearing aids") -> str:
    """An Opportunity in the org (a WhatId/ParentRecordId must point at one that exists)."""
    if emu.exists("Opportunity", rid):
        return rid
    return emu.create("Opportunity", {"Name": name, "StageName": "Qualification", "CloseDate": "2027-01-31"}, rid=rid)


@pytest.fixture
def emulator() -> Iterator[SalesforceEmulator]:
    with running_emulator(SalesforceEmulator(page_size=7)) as emu:
        yield emu


def gateway_config(emu: SalesforceEmulator, timeout: float = 5.0) -> GatewayConfig:
    return GatewayConfig(
        auth="password",
        username=emu.username,
        password=emu.password,
        security_token=emu.security_token,
        timeout=timeout,
    )


def make_context(rt: Runtime, emu: SalesforceEmulator, *, page_size: int = 10, timeout: float = 5.0) -> SyncContext:
    config = gateway_config(emu, timeout)

    def gateway() -> SalesforceGateway:
        return SalesforceGateway(config, RedirectSession(emu.base_url, timeout))

    ctx = SyncContext.from_runtime(rt)
    ctx.gateway_factory = gateway
    ctx.page_size = page_size
    ctx.backoff_base = timedelta(0)
    ctx.rng = random.Random(1)
    return ctx


@pytest.fixture
def sync(runtime: Runtime, emulator: SalesforceEmulator) -> SyncContext:
    return make_context(runtime, emulator)
