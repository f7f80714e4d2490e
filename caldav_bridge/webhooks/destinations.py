"""Where webhooks may be delivered, and the delivery itself (SSRF rules).

A subscription's URL must be ``https``, carry no user name or password, and name a public host:
not a private, loopback, link-local (cloud metadata at 169.254.169.254), shared, reserved,
multicast or unspecified address, in any spelling (``127.1``, ``2130706433``, ``0x7f000001``,
``[::ffff:127.0.0.1]``), nor a metadata or local host name (``metadata.google.internal``,
``localhost``). The rules are checked when a subscription is made and again at every delivery,
on the address the name resolves to then: the name is resolved once, the connection goes to that
checked address (DNS rebinding cannot swap it), with the name in ``Host`` and TLS SNI and the
certificate checked against the name.

``insecure_hosts`` (setting ``webhook_insecure_hosts``) names hosts, exactly as written in the
URL, that may be reached over plain http and on private addresses: for development and tests.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Callable
from urllib.parse import urlsplit

__all__ = [
    "DestinationRefused",
    "Resolver",
    "check_address",
    "check_url",
    "insecure_hosts",
    "literal_address",
    "post",
]

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
#: ``host, port -> addresses`` (the default asks the system resolver).
Resolver = Callable[[str, int], list[str]]

_METADATA_NAMES = frozenset(
    {
        "localhost",
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.com",
        "instance-data",
        "instance-data.ec2.internal",
        "kubernetes.default",
        "kubernetes.default.svc",
    }
)
_LOCAL_SUFFIXES = (".localhost", ".internal", ".local", ".localdomain", ".home.arpa")
MAX_ANSWER = 65536


class DestinationRefused(ValueError):
    """A webhook URL or address that is not delivered to, with the reason."""


def insecure_hosts(raw: str) -> frozenset[str]:
    """The setting's comma-separated host names, lower-cased."""
    return frozenset(h.strip().lower().strip("[]") for h in raw.split(",") if h.strip())


def literal_address(host: str) -> IP | None:
    """The IP address ``host`` spells, in any form a resolver would accept (None: a name)."""
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare.split("%")[0])
    except ValueError:
        pass
    try:  # the legacy IPv4 forms: 127.1, 2130706433, 0x7f000001, 0177.0.0.1
        return ipaddress.IPv4Address(socket.inet_aton(bare))
    except (OSError, ValueError):
        return None


def check_address(address: IP) -> None:
    """Refuse an address that is not on the public internet."""
    mapped = getattr(address, "ipv4_mapped", None) or getattr(address, "sixtofour", None)
    if mapped is not None:
        check_address(mapped)
    if not address.is_global or address.is_multicast:
        raise DestinationRefused(f"{address} is not a public address (private, loopback, link-local or reserved)")


def _check_host(host: str) -> None:
    address = literal_address(host)
    if address is not None:
        check_address(address)
        return
    name = host.rstrip(".").lower()
    if name in _METADATA_NAMES or name.endswith(_LOCAL_SUFFIXES) or "." not in name:
        raise DestinationRefused(f"{host!r} is a local or metadata host name")


def check_url(url: str, insecure: frozenset[str] = frozenset()) -> None:
    """Refuse a webhook URL by the rules above (without resolving its host).

    Raises:
        DestinationRefused: with the reason.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError as exc:
        raise DestinationRefused(f"not a URL: {exc}") from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in {"http", "https"} or not host:
        raise DestinationRefused("an absolute https URL is required")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise DestinationRefused("a webhook URL carries no user name or password (use the signing secret)")
    if host in insecure:
        return
    if parts.scheme != "https":
        raise DestinationRefused("webhooks are delivered over https only")
    _check_host(host)


def _system_resolver(host: str, port: int) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def _checked_addresses(host: str, port: int, insecure: frozenset[str], resolver: Resolver) -> list[str]:
    addresses = resolver(host, port)
    if not addresses:
        raise DestinationRefused(f"{host!r} does not resolve")
    if host not in insecure:
        for address in addresses:
            check_address(ipaddress.ip_address(address.split("%")[0]))
    return addresses


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a given address, with the URL's host name for SNI and the certificate check."""

    def __init__(self, address: str, port: int, server_name: str, timeout: float, tls: ssl.SSLContext) -> None:
        super().__init__(address, port, timeout=timeout, context=tls)
        self.server_name = server_name

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.server_name)  # type: ignore[attr-defined]


def _connection(
    scheme: str, address: str, port: int, host: str, timeout: float, tls: ssl.SSLContext | None
) -> http.client.HTTPConnection:
    if scheme == "https":
        return _PinnedHTTPS(address, port, host, timeout, tls or ssl.create_default_context())
    return http.client.HTTPConnection(address, port, timeout=timeout)


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    *,
    insecure: frozenset[str] = frozenset(),
    resolver: Resolver = _system_resolver,
    tls: ssl.SSLContext | None = None,
) -> tuple[int | None, str | None]:
    """POST ``body`` to ``url`` after checking it and the address its host resolves to now.

    Returns the status (None when no answer came) and an error text (None on an answer). A 3xx is
    an answer, not followed.
    """
    try:
        check_url(url, insecure)
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = _checked_addresses(host, port, insecure, resolver)
    except (DestinationRefused, OSError, ValueError) as exc:
        return None, f"refused: {exc}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    netloc_host = f"[{host}]" if ":" in host else host
    default_port = 443 if parts.scheme == "https" else 80
    sent = {**headers, "Host": netloc_host if port == default_port else f"{netloc_host}:{port}"}
    connection = _connection(parts.scheme, addresses[0], port, host, timeout, tls)
    try:
        connection.request("POST", path, body=body, headers=sent)
        response = connection.getresponse()
        response.read(MAX_ANSWER)
        status = int(response.status)
        return status, None if 200 <= status < 300 else f"HTTP {status}"
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    finally:
        connection.close()
