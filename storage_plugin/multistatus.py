"""A WebDAV multistatus written piece by piece, as Radicale's ``ElementTree`` would write it whole.

Radicale builds the answer of a PROPFIND or REPORT as one element tree and serialises it at the
end (for a 100k-item calendar, hundreds of megabytes). :mod:`storage_plugin.listings` writes the same
document as strings, one ``<response>`` after the other, so the answer is streamed: the text of each
element is what ``ET.ElementTree.write`` makes of it (the namespaces Radicale registers, ``DAV:`` as the
default one, empty elements as ``<x />``, text escaped the same way). The namespaces are declared once
on the root; a property in a namespace Radicale does not know declares its own.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from urllib.parse import quote
from xml.sax.saxutils import escape

__all__ = [
    "HEAD",
    "NAMESPACES",
    "TAIL",
    "element",
    "http_date",
    "inner",
    "propstat",
    "response",
    "status_line",
    "tag_of",
]

#: Radicale's namespace prefixes (``radicale.xmlutils.NAMESPACES``); ``DAV:`` is the default namespace.
NAMESPACES = {
    "DAV:": "",
    "urn:ietf:params:xml:ns:caldav": "C",
    "urn:ietf:params:xml:ns:carddav": "CR",
    "http://calendarserver.org/ns/": "CS",
    "http://apple.com/ns/ical/": "ICAL",
    "http://me.com/_namespace/": "ME",
    "http://radicale.org/ns/": "RADICALE",
}
_DECLARATIONS = " ".join(f'xmlns{":" + p if p else ""}="{uri}"' for uri, p in NAMESPACES.items())
HEAD = f"<?xml version='1.0' encoding='utf-8'?>\n<multistatus {_DECLARATIONS}>"
TAIL = "</multistatus>"

_REASONS = {200: "OK", 404: "Not Found"}


_ROOT = re.compile(
    r"\A<\?xml[^>]*\?>\s*<multistatus((?:\s+xmlns(?::\w+)?=\"[^\"]*\")*)\s*>(.*)</multistatus>\s*\Z", re.S
)
_DECLARATION = re.compile(r'xmlns(?::(\w+))?="([^"]*)"')


def inner(document: str) -> str | None:
    """What a multistatus ``document`` of Radicale's holds between its root tags, if its namespaces are ours.

    Radicale declares the namespaces it used on the root; when each is declared with the prefix :data:`HEAD`
    gives it, the content can be placed under :data:`HEAD` as it is (None otherwise: it needs re-serialising).
    """
    match = _ROOT.match(document)
    if match is None:
        return None
    for prefix, uri in _DECLARATION.findall(match.group(1)):
        if NAMESPACES.get(uri) != prefix:
            return None
    return match.group(2)


def status_line(code: int) -> str:
    """``HTTP/1.1 200 OK`` (``radicale.xmlutils.make_response``)."""
    return f"HTTP/1.1 {code} {_REASONS[code]}"


def tag_of(clark: str) -> tuple[str, str]:
    """A Clark name (``{DAV:}getetag``) as the element's name and the declaration it needs ("" if none)."""
    if not clark.startswith("{"):
        return clark, ""
    uri, _, local = clark[1:].partition("}")
    prefix = NAMESPACES.get(uri)
    if prefix is None:
        return f"ns0:{local}", f' xmlns:ns0="{escape(uri, {chr(34): "&quot;"})}"'
    return (f"{prefix}:{local}" if prefix else local), ""


def element(clark: str, text: str | None = None, children: str = "") -> str:
    """One element: empty (``<x />``), with escaped ``text``, or with ``children`` (already XML)."""
    name, declaration = tag_of(clark)
    if text is None and not children:
        return f"<{name}{declaration} />"
    return f"<{name}{declaration}>{escape(text) if text is not None else ''}{children}</{name}>"


def propstat(code: int, props: Iterable[str]) -> str:
    """``<propstat><prop>…</prop><status>…</status></propstat>`` (``props``: elements, already XML)."""
    return f"<propstat><prop>{''.join(props)}</prop><status>{status_line(code)}</status></propstat>"


def response(
    base_prefix: str, uri: str, propstats: Sequence[tuple[int, Sequence[str]]] = (), *, found: bool = True
) -> str:
    """A ``<response>`` for ``uri`` (a sanitised path): its propstats, or a 404 status if not ``found``."""
    href = f"<href>{escape(quote(base_prefix + uri))}</href>"
    if not found:
        return f"<response>{href}<status>{status_line(404)}</status></response>"
    return f"<response>{href}{''.join(propstat(code, props) for code, props in propstats if props)}</response>"


def http_date(value: datetime) -> str:
    """``getlastmodified`` as the storage plugin gives it (``storage_plugin.storage``)."""
    return email.utils.formatdate(value.timestamp(), usegmt=True)
