"""CalDAV listings answered from SQL and streamed: a WSGI layer in front of Radicale (``feeds.dav``).

Radicale answers a PROPFIND ``Depth: 1``, a ``sync-collection`` or a ``calendar-multiget`` by loading
every item it names (their texts too), building the whole multistatus as one element tree and
serialising it at the end: for a 100k-item calendar 10-16 s and hundreds of megabytes. This layer
recognises exactly those requests on a calendar collection of our store
(:mod:`storage_plugin.listing_requests`) and answers them from indexed queries
(:mod:`caldav_bridge.dav.listings`), writing the multistatus as it reads (:mod:`storage_plugin.multistatus`):

- it logs in with the same auth plugin as Radicale (``BaseAuth.login``: our app passwords, their cache
  and back-off); wrong credentials get Radicale's answer (401 with its ``WWW-Authenticate``, after its
  delay). Missing credentials, and everything it does not answer itself, go to Radicale unchanged;
- it checks rights as Radicale does, with the same rights plugin and Radicale's own ``Access``; a request
  Radicale would refuse (or answer specially: an unknown sync token, a collection that is not a calendar,
  a multiget naming the collection itself) is handed to Radicale, which answers it;
- a PROPFIND's first response (the collection's own properties) is Radicale's: its ``Depth: 0``
  answer to the same body, so every collection property stays exactly Radicale's;
- ETag listings (PROPFIND, sync) read no item text and write no audit rows (listing ETags is not a read
  of patient data); a multiget carries calendar data, so its appointments are audited (one multi-row
  INSERT, :meth:`UnitOfWork.audit_reads`) before any of it is sent, and if that write fails the client
  gets a 503 and no data.

The answer is Radicale's document (same hrefs, ETags, statuses and properties; ``tests/caldav/
test_listings.py`` compares them) with two differences a client cannot rely on: responses come in href
order (Radicale's multiget order is a set's), and in an initial sync an item above the size limit gets
its 404 where its href falls rather than first. Radicale gzips its answers when the client accepts it;
so does this layer (level 1, chunk by chunk).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import ctypes
import ctypes.util
import functools
import io
import logging
import random
import time
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import quote, unquote, urlparse

import defusedxml.ElementTree as DefusedET
from radicale import httputils, pathutils, rights
from radicale.app.base import Access
from radicale.auth import AuthContext, BaseAuth

from caldav_bridge.dav import listings as queries
from caldav_bridge.dav.collections import DavStore
from caldav_bridge.dav.errors import SyncTokenInvalid
from caldav_bridge.dav.records import CollectionInfo
from caldav_bridge.dav.repository import DavLocks
from caldav_bridge.errors import AuditFailed
from caldav_bridge.runtime import Runtime
from caldav_bridge.services.actor import request_id_from
from caldav_bridge.store.uow import UnitOfWork
from storage_plugin import listing_xml, precheck
from storage_plugin import multistatus as ms
from storage_plugin.listing_requests import Multiget, Propfind, SyncCollection, recognise
from storage_plugin.storage import dav_actor

__all__ = ["DavListings"]

log = logging.getLogger("appointments.caldav")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
D = "{DAV:}"
C = "{urn:ietf:params:xml:ns:caldav}"
#: Responses per chunk handed to the server.
_CHUNK = 500
_XML = ("Content-Type", "text/xml; charset=utf-8")


class DavListings:
    """WSGI: answers the listings above itself, hands every other request to ``app`` (Radicale)."""

    def __init__(
        self,
        app: WSGIApp,
        runtime: Runtime,
        auth: BaseAuth,
        rights_: rights.BaseRights,
        configuration: Any,
        *,
        max_resource_size: int,
    ) -> None:
        self.app = app
        self.runtime = runtime
        self.auth = auth
        self.rights = rights_
        self.max_resource_size = max_resource_size
        self.max_body = int(configuration.get("server", "max_content_length"))
        self.realm = str(configuration.get("auth", "realm"))
        self.delay = float(configuration.get("auth", "delay"))
        self.max_occurrence = int(configuration.get("reporting", "max_expand_occurrence"))
        self.sleep = time.sleep

    # ------------------------------------------------------------------ dispatch

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "")
        if method not in ("PROPFIND", "REPORT") or "HTTP_X_SCRIPT_NAME" in environ:
            return self.app(environ, start_response)
        path = pathutils.sanitize_path(environ.get("PATH_INFO", ""))
        sane = pathutils.strip_path(path)
        credentials = _credentials(environ)
        length = precheck.declared_length(environ)
        if sane.count("/") != 1 or credentials is None or not 0 < length <= self.max_body:
            return self.app(environ, start_response)
        if precheck.refused_xml(environ) is not None:  # read and put back; DavErrors answers the refusal
            return self.app(environ, start_response)
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        request = recognise(method, environ.get("HTTP_DEPTH", "0" if method == "PROPFIND" else ""), body)
        if request is None:
            return self.app(environ, start_response)
        user, groups = self._login(environ, *credentials)
        if not user:
            return self._unauthorized(start_response)
        call = _Call(self, environ, start_response, body, path, sane, user, groups)
        if isinstance(request, Propfind):
            return call.propfind(request)
        if isinstance(request, SyncCollection):
            return call.sync(request)
        return call.multiget(request)

    def _login(self, environ: dict[str, Any], login: str, password: str) -> tuple[str, set[str]]:
        context = AuthContext()
        if environ.get("REMOTE_ADDR"):
            context.remote_addr = environ["REMOTE_ADDR"]
        user, _info, groups = self.auth.login(login, password, context) or ("", "", set())
        if user and not pathutils.is_safe_path_component(user):
            user = ""
        if not user:
            log.warning("CalDAV login failed from %s", environ.get("REMOTE_ADDR", "-"))
            if self.delay > 0:  # Radicale's delay after a failed login
                self.sleep(self.delay * (0.5 + random.random()))
        return user, set(groups or ())

    def _unauthorized(self, start_response: Callable[..., Any]) -> list[bytes]:
        """Radicale's answer to wrong credentials: its "forbidden" text as a 401 asking for Basic auth."""
        body = b"Access to the requested resource forbidden."  # httputils.NOT_ALLOWED
        start_response(
            "401 Unauthorized",
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("WWW-Authenticate", f'Basic realm="{self.realm}"'),
                ("Content-Length", str(len(body))),
            ],
        )
        return [body]


def _credentials(environ: dict[str, Any]) -> tuple[str, str] | None:
    """Login and password of a Basic ``Authorization`` header (None: absent or unreadable: Radicale's to answer)."""
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    if not authorization.startswith("Basic"):
        return None
    try:
        decoded = base64.b64decode(authorization[len("Basic") :].strip().encode("ascii"), validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError):
        return None
    login, sep, password = decoded.partition(":")
    if not sep or not login or not pathutils.is_safe_path_component(login) or not login.isprintable():
        return None
    return login, password


class _Call:
    """One recognised request of an authenticated user."""

    def __init__(
        self,
        layer: DavListings,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        body: bytes,
        path: str,
        sane: str,
        user: str,
        groups: set[str],
    ) -> None:
        self.layer = layer
        self.environ = environ
        self.start_response = start_response
        self.body = body
        self.path = path
        self.sane = sane
        self.user = user
        self.groups = groups
        self.base_prefix = (environ.get("SCRIPT_NAME") or "").rstrip("/")
        self.gzip = "gzip" in [e.strip() for e in environ.get("HTTP_ACCEPT_ENCODING", "").split(",")]
        self.request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID"))

    # ------------------------------------------------------------------ plumbing

    def radicale(self) -> Iterable[bytes]:
        """The request as it came, answered by Radicale."""
        self.environ["wsgi.input"] = io.BytesIO(self.body)
        return self.layer.app(self.environ, self.start_response)

    def read_allowed(self) -> bool:
        """Radicale's REPORT check: read access to the path, and to the (tagged) collection itself."""
        access = Access(self.layer.rights, self.user, self.groups, self.path)
        return access.check("r") and bool(rights.intersect(access.permissions, "r"))

    def open(self, stack: contextlib.ExitStack) -> tuple[UnitOfWork, CollectionInfo | None]:
        """A read-only transaction holding the storage's shared locks, and the calendar at the path (or None)."""
        uow = self.layer.runtime.uow()
        stack.enter_context(uow.reading())
        dav_locks = uow.repo(DavLocks)
        dav_locks.lock_tree("r")
        on_first_read = functools.partial(dav_locks.lock_collection, mode="r") if dav_locks.is_postgresql() else None
        store = DavStore(uow, dav_actor(self.user), on_first_read=on_first_read)
        info = store.collection(self.sane)
        if info is None or info.tag != "VCALENDAR" or store.children(self.sane):
            return uow, None
        return uow, info

    def stream(self, parts: Iterator[str], stack: contextlib.ExitStack) -> Iterable[bytes]:
        # Radicale's headers: PROPFIND says DAV's compliance classes, REPORT does not.
        headers = [("DAV", httputils.DAV_HEADERS), _XML] if self.environ["REQUEST_METHOD"] == "PROPFIND" else [_XML]
        if self.gzip:
            headers.append(("Content-Encoding", "gzip"))
        self.start_response("207 Multi-Status", headers)
        return _Stream(parts, stack, self.gzip)

    def uri(self, info: CollectionInfo, href: str) -> str:
        return f"/{info.path}/{href}"

    def not_found(self, reference: str) -> str:
        """The 404 ``<response>`` for ``reference`` (a path below the base prefix)."""
        return ms.response(self.base_prefix, reference, found=False)

    def href_prefix(self, info: CollectionInfo) -> str:
        """The quoted href of the collection, with its trailing slash (an item's href follows)."""
        return quote(f"{self.base_prefix}/{info.path}/")

    def streamed(self, parts: Callable[[UnitOfWork, CollectionInfo], Iterator[str] | None]) -> Iterable[bytes]:
        """The answer ``parts`` writes from the calendar at the path, streamed in the read transaction (closed
        when the stream ends); Radicale's answer if the path is no calendar of ours or ``parts`` gives None."""
        stack = contextlib.ExitStack()
        try:
            uow, info = self.open(stack)
            written = None if info is None else parts(uow, info)
            if written is None:
                stack.close()
                return self.radicale()
            return self.stream(written, stack)
        except BaseException:
            stack.close()
            raise

    # ------------------------------------------------------------------ PROPFIND Depth: 1

    def propfind(self, request: Propfind) -> Iterable[bytes]:
        own = self.collection_response()
        if own is None:
            return self.radicale()
        permission = _item_permission(self.layer.rights.authorization(self.user, self.groups, self.path))

        def parts(uow: UnitOfWork, info: CollectionInfo) -> Iterator[str]:
            template = listing_xml.propfind_template(
                self.href_prefix(info),
                request.props,
                base_prefix=self.base_prefix,
                user=self.user,
                owner=info.path.split("/", 1)[0],
                permission=permission,
                max_size=self.layer.max_resource_size,
            )
            items = uow.repo(queries.DavListingRows).item_listing(info.id, with_modified=template.wants_modified)
            return _propfind_parts(own, template, items if permission else iter(()))

        return self.streamed(parts)

    def collection_response(self) -> str | None:
        """Radicale's ``<response>`` for the collection itself (its ``Depth: 0`` answer), or None if it refused."""
        environ = dict(self.environ)
        environ.update({"HTTP_DEPTH": "0", "wsgi.input": io.BytesIO(self.body), "CONTENT_LENGTH": str(len(self.body))})
        environ.pop("HTTP_ACCEPT_ENCODING", None)
        captured: list[str] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], Any]:
            captured[:] = [status]
            return lambda data: None

        answer = b"".join(self.layer.app(environ, capture))
        if not captured or not captured[0].startswith("207"):
            return None
        try:
            found = DefusedET.fromstring(answer).find(D + "response")
        except ET.ParseError:
            return None
        if found is None:
            return None
        return ms.inner(answer.decode()) or ET.tostring(found, encoding="unicode")

    # ------------------------------------------------------------------ sync-collection

    def sync(self, request: SyncCollection) -> Iterable[bytes]:
        if not self.read_allowed():
            return self.radicale()

        def parts(uow: UnitOfWork, info: CollectionInfo) -> Iterator[str] | None:
            try:
                revision = queries.token_revision(info, request.token)
            except SyncTokenInvalid:
                return None  # Radicale answers 403 with DAV:valid-sync-token
            template = listing_xml.report_template(self.href_prefix(info), request.props)
            return _sync_parts(self, uow, info, revision, template)

        return self.streamed(parts)

    # ------------------------------------------------------------------ calendar-multiget

    def multiget(self, request: Multiget) -> Iterable[bytes]:
        if not self.read_allowed():
            return self.radicale()
        names, invalid = self.multiget_names(request.hrefs)
        if names is None:
            return self.radicale()
        with contextlib.ExitStack() as stack:
            uow, info = self.open(stack)
            if info is None or f"/{info.path}/" != pathutils.unstrip_path(self.sane, True):
                return self.radicale()
            names = [n for n in names if n not in invalid]
            found = uow.repo(queries.DavListingRows).served_items(info.id, names)
            wants_data = C + "calendar-data" in request.props
            if wants_data and _vevents(found.values()) > self.layer.max_occurrence:
                return self.radicale()  # Radicale refuses it (400)
            if wants_data and info.calendar_id:
                actor = replace(dav_actor(self.user), request_id=self.request_id)
                ids = [i.appointment_id for i in found.values() if i.appointment_id]
                uow.audit_reads(queries.items_read(actor, info.calendar_id, ids))
            try:
                uow.commit()  # ends the read; writes the audit rows before any data is sent
            except AuditFailed:
                log.error("CalDAV multiget not answered: its audit rows could not be written")
                return _audit_failed(self.start_response)
        template = listing_xml.report_template(self.href_prefix(info), request.props)
        parts = _multiget_parts(self, info, invalid, names, found, template)
        return self.stream(parts, contextlib.ExitStack())

    def multiget_names(self, hrefs: tuple[str, ...]) -> tuple[list[str] | None, list[str]]:
        """The item names a multiget asks for, and the references that are no item of the path (404 each).

        As Radicale reads them (``radicale.app.report``): a reference outside the base prefix is
        skipped; one naming the collection itself makes it a query (None: Radicale's to answer).
        """
        start = pathutils.unstrip_path(self.sane, True)
        names: dict[str, None] = {}
        invalid: dict[str, None] = {}
        for text in hrefs:
            href_path = pathutils.sanitize_path(unquote(urlparse(text.strip()).path))
            if not (href_path + "/").startswith(self.base_prefix + "/"):
                continue
            reference = href_path[len(self.base_prefix) :]
            if not (reference + "/").startswith(start):
                invalid[reference] = None
                continue
            name = reference[len(start) :]
            if not name:
                return None, []
            if not pathutils.is_safe_path_component(name):
                invalid[reference] = None
                continue
            names[name] = None
        return list(names), list(invalid)


def _audit_failed(start_response: Callable[..., Any]) -> list[bytes]:
    """A read that could not be audited is not answered (503, as the REST API answers ``AuditFailed``)."""
    body = b"The read could not be audited; nothing was sent. Try again later."
    start_response(
        "503 Service Unavailable",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]


def _vevents(items: Iterable[queries.ServedItem]) -> int:
    return sum(1 for i in items for line in i.text.splitlines() if line.upper() == "BEGIN:VEVENT")


def _item_permission(raw: str) -> str:
    """Radicale's PROPFIND permission on the items of a collection (``_collect_allowed_items``)."""
    permissions = rights.intersect(raw, "rw")
    if "w" in permissions:
        return "w"
    return "r" if "r" in permissions else ""


# ---------------------------------------------------------------------- the documents, in chunks


def _chunks(head: str, responses: Iterator[str]) -> Iterator[str]:
    buffer = [ms.HEAD, head]
    for text in responses:
        buffer.append(text)
        if len(buffer) >= _CHUNK:
            yield "".join(buffer)
            buffer.clear()
    buffer.append(ms.TAIL)
    yield "".join(buffer)


def _propfind_parts(own: str, template: listing_xml.ItemTemplate, items: Iterator[queries.ListedItem]) -> Iterator[str]:
    render = template.render
    return _chunks(own, (render(i.href, i.etag, i.component, i.updated_at) for i in items))


def _sync_parts(
    call: _Call, uow: UnitOfWork, info: CollectionInfo, revision: int | None, template: listing_xml.ItemTemplate
) -> Iterator[str]:
    """Radicale's sync answer: the token, then 404 for each href gone, then the rest."""
    head = ms.element(D + "sync-token", info.sync_token)
    render = template.render
    if revision is None:
        rows = uow.repo(queries.DavListingRows).item_listing(info.id, with_modified=False)
        return _chunks(head, _initial_sync(template, rows))
    listing = uow.repo(queries.DavListingRows)
    hrefs = listing.changed_hrefs(info.id, revision) if revision < info.revision else []
    found = listing.items_at(info.id, hrefs)
    gone = (call.not_found(call.uri(info, h)) for h in hrefs if h not in found)
    present = (render(h, found[h].etag, found[h].component) for h in hrefs if h in found and not template.empty)
    return _chunks(head, _concat(gone, present))


def _initial_sync(template: listing_xml.ItemTemplate, rows: Iterator[queries.ListedItem]) -> Iterator[str]:
    if template.empty:
        return
    render = template.render
    for item in rows:
        yield render(item.href, item.etag, item.component)


def _multiget_parts(
    call: _Call,
    info: CollectionInfo,
    invalid: list[str],
    names: list[str],
    found: dict[str, queries.ServedItem],
    template: listing_xml.ItemTemplate,
) -> Iterator[str]:
    bad = (call.not_found(reference) for reference in invalid)
    gone = (call.not_found(call.uri(info, n)) for n in names if n not in found)
    present = (
        template.render(n, found[n].etag, found[n].component, found[n].updated_at, found[n].text)
        for n in names
        if n in found and not template.empty
    )
    return _chunks("", _concat(bad, gone, present))


def _concat(*parts: Iterator[str]) -> Iterator[str]:
    for part in parts:
        yield from part


class _Stream:
    """The body's chunks (gzipped if asked), with the transaction they read from closed at the end or on close()."""

    def __init__(self, parts: Iterator[str], stack: contextlib.ExitStack, gzip: bool) -> None:
        self.parts = parts
        self.stack = stack
        self.compressor = zlib.compressobj(1, wbits=16 + zlib.MAX_WBITS) if gzip else None
        self.chunks = 0

    def __iter__(self) -> Iterator[bytes]:
        try:
            for part in self.parts:
                self.chunks += 1
                data = part.encode()
                if self.compressor is not None:
                    data = self.compressor.compress(data)
                if data:
                    yield data
            if self.compressor is not None:
                yield self.compressor.flush()
        finally:
            self.close()

    def close(self) -> None:
        close = getattr(self.parts, "close", None)
        if close is not None:
            close()
        self.stack.close()
        if self.chunks >= _TRIM_AFTER_CHUNKS:
            _trim_heap()
            self.chunks = 0


#: A streamed answer of at least this many chunks (10k responses) gives the freed heap back when it ends.
_TRIM_AFTER_CHUNKS = 20


def _libc_malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None


_MALLOC_TRIM = _libc_malloc_trim()


def _trim_heap() -> None:
    """Hand the heap memory a large answer freed back to the system (glibc's ``malloc_trim``; elsewhere nothing).

    Each of the server's threads allocates from its own glibc arena, which keeps the high-water mark of the
    largest answer that thread built: without this, resident memory rose in steps over repeated large syncs.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
