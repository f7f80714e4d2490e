"""The pieces of a streamed listing: hrefs quoted as Radicale quotes them, templates, Radicale's document spliced."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from storage_plugin import listing_xml, multistatus

D = "{DAV:}"


@pytest.mark.parametrize(
    "name", ["plain.ics", "bench-1@example.com.ics", "a b%c&d<e>.ics", "{braces}.ics", "ümlaut-é.ics", "~x_y-z.ics"]
)
def test_quote_name_is_urllib_quote(name: str) -> None:
    assert listing_xml.quote_name(name) == quote(name)


def test_a_template_fills_in_every_value_and_keeps_percent_and_braces() -> None:
    template = listing_xml.propfind_template(
        quote("/dav/100%/{x}/"),
        (D + "getetag", D + "getlastmodified", D + "getcontenttype", "{urn:x}odd"),
        base_prefix="/dav",
        user="u",
        owner="u",
        permission="r",
        max_size=10,
    )
    when = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    text = template.render("a&b.ics", '"e<1>"', "VEVENT", when)
    doc = ET.fromstring(f"{multistatus.HEAD}{text}{multistatus.TAIL}")
    response = doc.find(D + "response")
    assert response is not None
    assert response.findtext(D + "href") == quote("/dav/100%/{x}/a&b.ics")
    ok, missing = response.findall(D + "propstat")
    assert ok.findtext(f"{D}prop/{D}getetag") == '"e<1>"'
    assert ok.findtext(f"{D}prop/{D}getlastmodified") == "Tue, 01 Dec 2026 09:30:00 GMT"
    assert ok.findtext(f"{D}prop/{D}getcontenttype") == "text/calendar;charset=utf-8;component=VEVENT"
    assert ok.findtext(f"{D}status") == "HTTP/1.1 200 OK"
    assert missing.find(f"{D}prop/{{urn:x}}odd") is not None
    assert missing.findtext(f"{D}status") == "HTTP/1.1 404 Not Found"


def test_a_report_template_carries_calendar_data_and_may_be_empty() -> None:
    template = listing_xml.report_template("/dav/c/", ("{urn:ietf:params:xml:ns:caldav}calendar-data",))
    text = template.render("x.ics", '"e"', "VEVENT", None, "BEGIN:VCALENDAR\r\nX:a<b\r\nEND:VCALENDAR\r\n")
    assert "X:a&lt;b" in text
    assert listing_xml.report_template("/dav/c/", ()).empty


HEAD = "<?xml version='1.0' encoding='utf-8'?>\n<multistatus "
CALDAV = "urn:ietf:params:xml:ns:caldav"


def test_radicales_document_is_spliced_only_when_its_namespaces_are_ours() -> None:
    ours = HEAD + f'xmlns="DAV:" xmlns:C="{CALDAV}">'
    assert multistatus.inner(ours + "<response><href>/a/</href></response></multistatus>") == (
        "<response><href>/a/</href></response>"
    )
    foreign = HEAD + 'xmlns="DAV:" xmlns:ns0="urn:x">'
    assert multistatus.inner(foreign + "<response><href>/a/</href></response></multistatus>") is None
    renamed = HEAD + f'xmlns="DAV:" xmlns:X="{CALDAV}">'
    assert multistatus.inner(renamed + "</multistatus>") is None
