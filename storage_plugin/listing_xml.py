"""The ``<response>`` of one item in a streamed listing (``storage_plugin.listings``), as a template.

A listing writes the same response shape for every item, only the href, ETag, content type, last
modification or calendar data change. So the shape is written once per request with
:mod:`storage_plugin.multistatus` (what Radicale writes for those properties) and each item fills it in
(``str.format``): a 100k-item listing spends its time in the database and the socket, not in building XML.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import quote
from xml.sax.saxutils import escape

from storage_plugin import multistatus as ms

__all__ = ["ItemTemplate", "propfind_template", "quote_name", "report_template"]

D = "{DAV:}"
C = "{urn:ietf:params:xml:ns:caldav}"

#: ASCII characters ``urllib.parse.quote`` (safe "/") changes, and what it makes of each.
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-~/]")
_PERCENT = {chr(c): f"%{c:02X}" for c in range(128)}

# Placeholders while the template is built (characters no element text or name holds, left alone by escape()),
# in the order of the values render() computes.
_PLACEHOLDERS = ("\x01h\x01", "\x01e\x01", "\x01t\x01", "\x01m\x01", "\x01d\x01")
_HREF, _ETAG, _TYPE, _MODIFIED, _DATA = _PLACEHOLDERS
_FIELD = re.compile("|".join(_PLACEHOLDERS))
_TYPES: dict[str, str] = {}


def _percent(match: re.Match[str]) -> str:
    return _PERCENT[match.group()]


def _text(value: str) -> str:
    """``value`` escaped as element text (most ETags need nothing)."""
    return escape(value) if "&" in value or "<" in value or ">" in value else value


def quote_name(name: str) -> str:
    """``urllib.parse.quote(name)`` (what Radicale's hrefs are), fast for ASCII names."""
    return _UNSAFE.sub(_percent, name) if name.isascii() else quote(name)


def content_type(component: str) -> str:
    """An item's ``getcontenttype`` (``radicale.xmlutils.get_content_type`` of a calendar object)."""
    found = _TYPES.get(component)
    if found is None:
        found = _TYPES[component] = (
            f"text/calendar;charset=utf-8;component={component}" if component else "text/calendar;charset=utf-8"
        )
    return found


class ItemTemplate:
    """One item's ``<response>`` for a fixed list of properties; :meth:`render` fills in an item."""

    def __init__(self, href_prefix: str, propstats: Sequence[tuple[int, Sequence[str]]]) -> None:
        """``href_prefix``: the quoted path up to the item's name; ``propstats``: (status, elements) in order."""
        body = "".join(ms.propstat(code, props) for code, props in propstats if props)
        shape = f"<response><href>{href_prefix}{_HREF}</href>{body}</response>"
        order = [_PLACEHOLDERS.index(m.group()) for m in _FIELD.finditer(shape)]
        #: The response as a %-format: the values in ``order`` (indexes into render()'s values) fill it.
        self.shape = _FIELD.sub("%s", shape.replace("%", "%%"))
        self.pick = operator.itemgetter(*order) if len(order) > 1 else lambda values: (values[order[0]],)
        self.empty = not body
        self.wants_modified = 3 in order
        self.wants_data = 4 in order

    def render(
        self, name: str, etag: str, component: str, updated_at: datetime | None = None, text: str | None = None
    ) -> str:
        values = (
            quote_name(name),
            _text(etag),
            content_type(component),
            ms.http_date(updated_at) if self.wants_modified and updated_at is not None else "",
            escape(text) if self.wants_data and text is not None else "",
        )
        return self.shape % self.pick(values)


def propfind_template(
    href_prefix: str, props: Sequence[str], *, base_prefix: str, user: str, owner: str, permission: str, max_size: int
) -> ItemTemplate:
    """An item of a PROPFIND answer (Radicale's ``xml_propfind_response`` for an item, sharing off)."""
    static: dict[str, str] = {
        D + "principal-collection-set": ms.element(D + "principal-collection-set", children=_href(base_prefix, "/")),
        D + "current-user-principal": ms.element(
            D + "current-user-principal", children=_href(base_prefix, f"/{user}/")
        ),
        D + "current-user-privilege-set": ms.element(
            D + "current-user-privilege-set", children=_privileges(permission)
        ),
        D + "supported-report-set": ms.element(D + "supported-report-set", children=_unsupported_reports()),
        D + "owner": ms.element(D + "owner", children=_href(base_prefix, f"/{owner}/")),
        C + "max-resource-size": ms.element(C + "max-resource-size", str(max_size)),
        D + "resourcetype": ms.element(D + "resourcetype"),
        D + "getetag": ms.element(D + "getetag", _ETAG),
        D + "getlastmodified": ms.element(D + "getlastmodified", _MODIFIED),
        D + "getcontenttype": ms.element(D + "getcontenttype", _TYPE),
    }
    # Radicale groups the properties by status in the order each status first occurs.
    groups: dict[int, list[str]] = {}
    for tag in props:
        if tag in static:
            groups.setdefault(200, []).append(static[tag])
        else:
            groups.setdefault(404, []).append(ms.element(tag))
    return ItemTemplate(href_prefix, list(groups.items()))


def report_template(href_prefix: str, props: Sequence[str]) -> ItemTemplate:
    """A found item of a REPORT answer (Radicale's ``xml_report``: the 200 properties, then the 404 ones)."""
    found: list[str] = []
    missing: list[str] = []
    for tag in props:
        if tag == D + "getetag":
            found.append(ms.element(D + "getetag", _ETAG))
        elif tag == D + "getcontenttype":
            found.append(ms.element(D + "getcontenttype", _TYPE))
        elif tag == C + "calendar-data":
            found.append(ms.element(C + "calendar-data", _DATA))
        else:
            missing.append(ms.element(tag))
    return ItemTemplate(href_prefix, [(200, found), (404, missing)])


def _href(base_prefix: str, path: str) -> str:
    return ms.element(D + "href", quote(base_prefix + path))


def _privileges(permission: str) -> str:
    names = ["read"]
    if permission == "w":
        names += ["all", "write", "write-properties", "write-content"]
    return "".join(ms.element(D + "privilege", children=ms.element(D + n)) for n in names)


def _unsupported_reports() -> str:
    reports = ("expand-property", "principal-search-property-set", "principal-property-search")
    return "".join(
        ms.element(D + "supported-report", children=ms.element(D + "report", children=ms.element(D + r)))
        for r in reports
    )
