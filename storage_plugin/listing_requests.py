"""Which DAV requests :mod:`storage_plugin.listings` answers itself, read from the request body.

Exactly three shapes, each on one calendar collection; anything else (``None``) stays Radicale's:

- ``PROPFIND`` ``Depth: 1`` with a ``DAV:prop`` list (not allprop or propname, not ``getcontentlength``,
  which needs every item's text);
- ``REPORT`` ``DAV:sync-collection`` asking no calendar or address data (a listing of ETags);
- ``REPORT`` ``C:calendar-multiget`` of item hrefs (no filter, no ``C:expand``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

import defusedxml.ElementTree as DefusedET

__all__ = ["Multiget", "Propfind", "SyncCollection", "recognise"]

DAV = "{DAV:}"
CALDAV = "{urn:ietf:params:xml:ns:caldav}"
CARDDAV = "{urn:ietf:params:xml:ns:carddav}"
#: Properties that need an item's text: such requests stay Radicale's.
_NEEDS_TEXT = frozenset({DAV + "getcontentlength", CALDAV + "calendar-data", CARDDAV + "address-data"})


@dataclass(frozen=True)
class Propfind:
    props: tuple[str, ...]


@dataclass(frozen=True)
class SyncCollection:
    token: str
    props: tuple[str, ...]


@dataclass(frozen=True)
class Multiget:
    hrefs: tuple[str, ...]
    props: tuple[str, ...]


Listing = Propfind | SyncCollection | Multiget


def recognise(method: str, depth: str, body: bytes) -> Listing | None:
    """The listing ``body`` asks for, or None when the request is not one answered here."""
    if method not in ("PROPFIND", "REPORT") or not body.strip():
        return None
    try:
        root = DefusedET.fromstring(body)
    except (ET.ParseError, ValueError):
        return None  # Radicale answers it (400)
    if method == "PROPFIND":
        return _propfind(root) if depth == "1" else None
    if root.tag == DAV + "sync-collection":
        return _sync(root)
    if root.tag == CALDAV + "calendar-multiget":
        return _multiget(root)
    return None


def _props(root: ET.Element) -> tuple[str, ...] | None:
    prop = root.find(DAV + "prop")
    tags = tuple(child.tag for child in prop) if prop is not None else ()
    if any(not isinstance(tag, str) for tag in tags):
        return None  # a comment or processing instruction among the properties
    return tags


def _plain(root: ET.Element) -> bool:
    """No filter and no expand anywhere (Radicale's REPORT would evaluate them)."""
    return not (
        root.findall(CALDAV + "filter") or root.findall(CARDDAV + "filter") or root.find(".//" + CALDAV + "expand")
    )


def _propfind(root: ET.Element) -> Propfind | None:
    if root.tag != DAV + "propfind" or len(root) == 0 or root[0].tag != DAV + "prop":
        return None
    props = tuple(child.tag for child in root[0])
    # calendar-data is no property of an item in a PROPFIND (Radicale answers 404 for it): only the size needs the text.
    if not props or any(not isinstance(tag, str) or tag == DAV + "getcontentlength" for tag in props):
        return None
    return Propfind(props)


def _sync(root: ET.Element) -> SyncCollection | None:
    props = _props(root)
    if props is None or not _plain(root) or any(tag in _NEEDS_TEXT for tag in props):
        return None
    token_element = root.find(DAV + "sync-token")
    token = (token_element.text or "").strip() if token_element is not None else ""
    return SyncCollection(token, props)


def _multiget(root: ET.Element) -> Multiget | None:
    props = _props(root)
    if props is None or not _plain(root):
        return None
    hrefs = tuple(h.text or "" for h in root.findall(DAV + "href"))
    if not hrefs or any(not h.strip() for h in hrefs):
        return None
    return Multiget(hrefs, props)
