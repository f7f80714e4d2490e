"""Webhooks go to public https destinations only (SSRF), checked again on the address at delivery,
carry no credentials in their URL, and send no patient names or notes unless a subscription asks."""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from caldav_bridge.clock import utcnow
from caldav_bridge.runtime import Runtime
from caldav_bridge.webhooks.delivery import WebhookOptions, deliver_due
from caldav_bridge.webhooks.destinations import DestinationRefused, check_url, post
from caldav_bridge.webhooks.tables import WebhookSubscriptionRow
from tests.conftest import People
from tests.support.live import LiveServer

REFUSED = [
    "http://example.com/hook",  # plain http
    "https://127.0.0.1/hook",
    "https://127.1/hook",
    "https://2130706433/hook",  # decimal loopback
    "https://0x7f000001/hook",  # hex loopback
    "https://0177.0.0.1/hook",  # octal loopback
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://0.0.0.0/hook",
    "https://10.1.2.3/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.10/hook",
    "https://100.64.0.1/hook",  # carrier-grade NAT
    "https://169.254.169.254/latest/meta-data/",  # cloud metadata
    "https://[fd00:ec2::254]/latest/meta-data/",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://metadata/",
    "https://localhost/hook",
    "https://app.localhost/hook",
    "https://user:pass@example.com/hook",
    "https://token@example.com/hook",
]


@pytest.mark.parametrize("url", REFUSED)
def test_private_metadata_and_credential_urls_are_refused(url: str) -> None:
    with pytest.raises(DestinationRefused):
        check_url(url)


def test_public_https_and_named_insecure_hosts_are_accepted() -> None:
    check_url("https://example.com/hook")
    check_url("https://hooks.example.org:8443/a?b=c")
    check_url("http://127.0.0.1:8080/hook", frozenset({"127.0.0.1"}))
    with pytest.raises(DestinationRefused):  # the exception is for that host as written, not its address
        check_url("http://127.1:8080/hook", frozenset({"127.0.0.1"}))


def test_the_api_refuses_them_and_never_shows_credentials(live: LiveServer, people: People, runtime: Runtime) -> None:
    api = live.client(people.admin.token)
    for url in REFUSED:
        if url.startswith("https://127.0.0.1/"):
            continue  # the test settings name 127.0.0.1 as the one insecure host (the receivers')
        response = api.post("/api/v1/webhooks", json={"url": url})
        assert response.status_code == 422, (url, response.text)
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert "pass" not in response.text or "password" in response.text
    # a subscription stored before these rules, with credentials: shown without them
    with runtime.uow() as uow:
        uow.session.add(
            WebhookSubscriptionRow(
                url="https://bob:hunter2@example.com/hook",
                events={"types": ["appointment.created"]},
                secret="whsec_" + "x" * 32,
                active=True,
                created_at=utcnow(),
            )
        )
        uow.commit()
    listed = api.get("/api/v1/webhooks")
    assert listed.status_code == 200
    assert "hunter2" not in listed.text and "bob" not in listed.text
    assert [i["url"] for i in listed.json()["items"]] == ["https://example.com/hook"]


class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, str]]

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[ThreadingHTTPServer, list[dict[str, str]]]]:
    class Handler(_Recorder):  # a class per test: its own list of requests seen
        seen: list[dict[str, str]] = []

    handler = Handler
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server, handler.seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_a_name_that_resolves_to_a_private_address_is_not_connected_to(
    recorder: tuple[ThreadingHTTPServer, list[dict[str, str]]],
) -> None:
    """DNS rebinding: the name passed the check when subscribed; at delivery it resolves to loopback."""
    server, seen = recorder
    port = server.server_address[1]
    status, error = post(
        f"https://rebind.example.com:{port}/hook", b"{}", {}, 5, resolver=lambda host, p: ["127.0.0.1"]
    )
    assert status is None and error is not None and "not a public address" in error
    assert seen == []


def test_delivery_connects_to_the_checked_address_with_the_name_in_host_and_sni(
    recorder: tuple[ThreadingHTTPServer, list[dict[str, str]]], tmp_path: Path
) -> None:
    server, seen = recorder
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("hooks.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    names: list[str | None] = []
    server_side.sni_callback = lambda sock, server_name, ctx: names.append(server_name)
    server.socket = server_side.wrap_socket(server.socket, server_side=True)
    client_side = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
    port = server.server_address[1]
    asked: list[str] = []

    def resolver(host: str, p: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    status, error = post(
        f"https://hooks.test:{port}/hook",
        b"{}",
        {},
        5,
        insecure=frozenset({"hooks.test"}),
        resolver=resolver,
        tls=client_side,
    )
    assert (status, error) == (204, None)
    assert asked == ["hooks.test"]  # resolved once
    assert names == ["hooks.test"]
    assert seen[0]["host"] == f"hooks.test:{port}"
    # a certificate for another name is refused
    status, error = post(
        f"https://other.test:{port}/hook",
        b"{}",
        {},
        5,
        insecure=frozenset({"other.test"}),
        resolver=resolver,
        tls=client_side,
    )
    assert status is None and error is not None and "certificate" in error.lower()


def _guested(live: LiveServer, people: People) -> None:
    api = live.client(people.admin.token)
    body = {
        "calendar": {"id": people.fitter.calendar_id},
        "date_start": "2026-12-14T09:00:00Z",
        "date_end": "2026-12-14T10:00:00Z",
        "name": "Fitting Erika Mustermann",
        "description": "hearing loss left ear",
        "guests": [{"id": "p-1", "first_name": "Erika", "last_name": "Mustermann", "timezone": "Europe/Berlin"}],
        "meta": {"type": "FOLLOW_UP", "note": "diabetic"},
    }
    created = api.post("/api/v1/appointments", json=body)
    assert created.status_code == 201, created.text


def test_payloads_carry_no_patient_names_unless_the_subscription_asks(
    live: LiveServer, people: People, runtime: Runtime
) -> None:
    bodies: list[dict[str, Any]] = []

    def sender(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, str | None]:
        bodies.append({"url": url, **json.loads(body)})
        return 204, None

    api = live.client(people.admin.token)
    minimal = api.post("/api/v1/webhooks", json={"url": "https://a.example.com/h", "events": ["appointment.created"]})
    full = api.post(
        "/api/v1/webhooks",
        json={"url": "https://b.example.com/h", "events": ["appointment.created"], "privacy": "full"},
    )
    assert minimal.status_code == 201 and minimal.json()["privacy"] == "minimal"
    assert full.status_code == 201 and full.json()["privacy"] == "full"
    _guested(live, people)
    assert deliver_due(runtime.uow, WebhookOptions(), sender=sender).delivered == 2
    by_url = {b["url"]: b["data"]["appointment"] for b in bodies}
    lean, whole = by_url["https://a.example.com/h"], by_url["https://b.example.com/h"]
    text = json.dumps(lean)
    for secret in ("Erika", "Mustermann", "hearing", "diabetic"):
        assert secret not in text
        assert secret in json.dumps(whole)
    assert lean["guests"] == [{"id": "p-1", "timezone": "Europe/Berlin"}]
    assert lean["meta"]["type"] == "FOLLOW_UP" and lean["date_start"] == whole["date_start"]


def test_a_stored_private_destination_is_not_delivered_to(
    live: LiveServer, people: People, runtime: Runtime, recorder: tuple[ThreadingHTTPServer, list[dict[str, str]]]
) -> None:
    """A subscription written before the rules (or by hand) to a private address: refused at delivery."""
    server, seen = recorder
    with runtime.uow() as uow:
        uow.session.add(
            WebhookSubscriptionRow(
                url=f"http://localhost:{server.server_address[1]}/hook",
                events={"types": ["appointment.created"]},
                secret="whsec_" + "x" * 32,
                active=True,
                created_at=utcnow(),
            )
        )
        uow.commit()
    _guested(live, people)
    report = deliver_due(runtime.uow, WebhookOptions.from_settings(runtime.settings))
    assert report.attempted == 1 and report.delivered == 0
    assert seen == []
    log = live.client(people.admin.token).get("/api/v1/webhooks").json()["items"]
    deliveries = live.client(people.admin.token).get(f"/api/v1/webhooks/{log[0]['id']}/deliveries").json()["items"]
    assert deliveries[0]["last_error"].startswith("refused:")
