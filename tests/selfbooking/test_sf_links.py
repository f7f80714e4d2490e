"""Personal links' URLs written to their Opportunity's field (sf_booking_link_field) against the emulator:
the URL that was issued, once (a run with nothing new makes no call), not for team, revoked or expired links,
and a refused write is tried again on the next run."""

from __future__ import annotations

from caldav_bridge.jobs.catalog import publish_booking_links
from caldav_bridge.runtime import Runtime
from caldav_bridge.selfbooking import links
from caldav_bridge.selfbooking.keys import service_key
from caldav_bridge.selfbooking.model import LinkDraft
from caldav_bridge.services.actor import system_actor
from sf_emulator.emulator import SalesforceEmulator, running_emulator
from tests.salesforce.conftest import add_opportunity, make_context
from tests.scheduling.conftest import World

FIELD = "Booking_Link__c"


def _issue(rt: Runtime, world: World, opportunity: str | None) -> links.IssuedBookingLink:
    data: dict[str, object] = {"team_id": world.consultants, "name": f"for {opportunity}"}
    if opportunity:
        data.update(kind="personal", salesforce={"opportunity_gid": opportunity})
    draft = LinkDraft.model_validate(data)
    return links.issue(rt.uow(), system_actor(), draft, rt.settings.public_url, key=service_key(rt.settings))


def test_personal_link_urls_reach_their_opportunities(runtime: Runtime, world: World) -> None:
    settings = runtime.settings.replace(sf_booking_link_field=FIELD, public_url="https://book.example")
    rt = Runtime.from_settings(settings, runtime.engine)
    with running_emulator(SalesforceEmulator()) as emu:
        emu.org.add_field("Opportunity", FIELD, "url")
        first, second, third = (add_opportunity(emu, f"006{n:012d}AAA", f"Opp {n}") for n in (11, 12, 13))
        ctx = make_context(rt, emu)
        personal = _issue(rt, world, first)
        _issue(rt, world, None)  # a team link: nothing to write
        revoked = _issue(rt, world, second)
        links.revoke(rt.uow(), system_actor(), revoked.link.id)
        assert publish_booking_links(rt, ctx) is True
        assert emu.get("Opportunity", first)[FIELD] == personal.url
        assert personal.url is not None and personal.url.startswith("https://book.example/book/")
        assert not emu.get("Opportunity", second).get(FIELD)
        used = emu.api_used
        assert publish_booking_links(rt, ctx) is True
        assert emu.api_used == used  # nothing new: no call

        missing = _issue(rt, world, "006000000000099AAA")  # no such Opportunity in the org: refused
        later = _issue(rt, world, third)
        assert publish_booking_links(rt, ctx) is False  # the refused one stops the watermark: tried again next run
        used = emu.api_used
        assert publish_booking_links(rt, ctx) is False and emu.api_used == used + 1
        add_opportunity(emu, "006000000000099AAA", "Late opp")
        assert publish_booking_links(rt, ctx) is True
        assert emu.get("Opportunity", "006000000000099AAA")[FIELD] == missing.url
        assert emu.get("Opportunity", third)[FIELD] == later.url
