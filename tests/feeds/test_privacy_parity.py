"""One privacy rule for the feed and the calendar page (caldav_bridge.converters.disclosure), over real HTTP
on SQLite and PostgreSQL: at every level the feed, the page's JSON and the page's HTML list the same
appointments and show the same of each; and the rule itself holds (``busy``: busy blocks and nothing else)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from tests.feeds.conftest import FeedWorld

DENVER = ZoneInfo("America/Denver")
STATUS_WORDS = ("Tentative", "Reserved", "Booked", "Rescheduled", "Cancelled")
#: Feed status → what the page's JSON says (the canonical status; the feed writes its iCalendar mapping).
ICAL_STATUS = {"INITIAL": "TENTATIVE", "RESERVED": "TENTATIVE", "BOOKED": "CONFIRMED", "RESCHEDULED": "CONFIRMED"}
ICAL_STATUS["CANCELLED"] = "CANCELLED"


def _world(w: FeedWorld) -> tuple[datetime, dict[str, dict[str, Any]]]:
    monday = (datetime.now(DENVER) - timedelta(days=datetime.now(DENVER).weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    guests = [{"first_name": "Ödön", "last_name": "Ühl"}]
    made = {
        "initial": w.add(monday + timedelta(days=1, hours=9), status="INITIAL"),
        "reserved": w.add(monday + timedelta(days=2, hours=13, minutes=30), 45, status="RESERVED", guests=guests),
        "rescheduled": w.add(monday + timedelta(days=2, hours=13), 90, status="RESCHEDULED"),
        "booked": w.add(
            monday + timedelta(days=8, hours=10),
            status="BOOKED",
            meta={"type": "TECH_SETUP", "location": "Video call"},
        ),
        "all_day": w.add(monday + timedelta(days=3), 24 * 60, meta={"type": "FOLLOW_UP", "all_day": True}),
        "cancelled": w.add(monday + timedelta(days=4, hours=11), status="BOOKED"),
        # the fitter's own time: a busy block (no customer), its title, place and notes shown only at full
        "busy_block": w.add(
            monday + timedelta(days=4, hours=15),
            status="BOOKED",
            name="Dentist",
            description="Root canal",
            guests=[],
            meta={"type": "FOLLOW_UP", "kind": "busy", "location": "Dr. Smith"},
        ),
    }
    r = w.api.post(f"/api/v1/appointments/{made['cancelled']['id']}/cancel", json={"reason": "moved away"})
    assert r.status_code == 200, r.text
    return monday, made


def _feed(w: FeedWorld, issued: dict[str, Any]) -> dict[str, dict[str, Any]]:
    r = w.get(issued)
    assert r.status_code == 200, r.text
    shown = {}
    for event in icalendar.Calendar.from_ical(r.content).walk("VEVENT"):
        shown[str(event["UID"])] = {
            "title": str(event["SUMMARY"]),
            "status": str(event["STATUS"]) if "STATUS" in event else None,
            "type": str(event["X-APPOINTMENT-TYPE"]) if "X-APPOINTMENT-TYPE" in event else None,
            "location": str(event["LOCATION"]) if "LOCATION" in event else None,
            "description": str(event["DESCRIPTION"]) if "DESCRIPTION" in event else None,
        }
    return shown


def _page_json(w: FeedWorld, issued: dict[str, Any], weeks: list[str]) -> dict[str, dict[str, Any]]:
    shown: dict[str, dict[str, Any]] = {}
    for week in weeks:
        r = w.anon.get(f"/calendar/{issued['secret']}.json?week={week}&tz=Asia/Tokyo")
        assert r.status_code == 200 and r.headers["Content-Type"] == "application/json", r.text
        for day in r.json()["days"]:
            for item in day["all_day"] + day["timed"]:
                status = item["status"]
                shown[item["id"]] = {
                    "title": item["title"],
                    "status": ICAL_STATUS[status] if status else None,
                    "type": item["type"],
                    "location": item["location"],
                    "description": item["description"],
                }
    return shown


def _page_html(w: FeedWorld, issued: dict[str, Any], weeks: list[str], view: str) -> tuple[set[str], str]:
    ids: set[str] = set()
    text = ""
    for week in weeks:
        r = w.anon.get(f"/calendar/{issued['secret']}?week={week}&view={view}")
        assert r.status_code == 200, r.text
        ids |= set(re.findall(r'data-appointment="([^"]+)"', r.text))
        main = r.text[r.text.index("<main") : r.text.index("</main>")]
        text += unescape(re.sub(r"<[^>]+>", " ", main))
    return ids, text


@pytest.mark.parametrize("privacy", ["busy", "minimal", "full"])
def test_the_page_shows_what_the_feed_shows_at_every_level(feed_world: FeedWorld, privacy: str) -> None:
    w = feed_world
    monday, made = _world(w)
    issued = w.issue(f"Parity {privacy}", privacy)
    weeks = [monday.date().isoformat(), (monday + timedelta(days=7)).date().isoformat()]

    feed = _feed(w, issued)
    page = _page_json(w, issued, weeks)
    assert page == feed  # the same appointments, and of each the same title, status, type, place and notes

    # the rule itself
    listed = {a["id"] for a in made.values()} - ({made["cancelled"]["id"]} if privacy == "busy" else set())
    assert set(feed) == listed
    if privacy == "busy":
        assert all(
            v == {"title": "Busy", **dict.fromkeys(("status", "type", "location", "description"))}
            for v in feed.values()
        )
    else:
        assert feed[made["cancelled"]["id"]]["status"] == "CANCELLED"
        assert feed[made["booked"]["id"]]["location"] == "Video call"
        assert (feed[made["reserved"]["id"]]["description"] is not None) is (privacy == "full")
        assert ("Ödön Ühl" in str(feed[made["reserved"]["id"]]["description"])) is (privacy == "full")
        block = feed[made["busy_block"]["id"]]
        if privacy == "full":
            assert block == {
                "title": "Dentist",
                "status": "CONFIRMED",
                "type": None,
                "location": "Dr. Smith",
                "description": "Root canal",
            }
        else:
            assert block == {
                "title": "Busy",
                "status": "CONFIRMED",
                "type": None,
                "location": None,
                "description": None,
            }

    # and the HTML, in every view: the same appointments; at busy no status, no type, nothing crossed out
    for view in ("week", "agenda"):
        ids, text = _page_html(w, issued, weeks, view)
        assert ids == set(feed), view
        if privacy == "busy":
            assert not any(word in text for word in STATUS_WORDS), view
            assert "Follow-up" not in text and "Video call" not in text and "Ö. Ü." not in text
        else:
            assert "Reserved" in text and "Cancelled" in text and "Video call" in text
        assert ("Ödön Ühl" in text) is (privacy == "full")
        assert ("Dentist" in text) is ("Dr. Smith" in text) is ("Root canal" in text) is (privacy == "full"), view
