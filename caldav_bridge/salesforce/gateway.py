"""The one adapter over simple-salesforce: the only module that imports it.

- Auth from settings: JWT bearer, client credentials, username + password + security token, or an
  existing session (instance URL + session id). Whatever the mode, the client talks to Salesforce
  with a plain session id, so the library never refreshes on its own (its refresh recurses without
  bound on SFType calls, simple-salesforce#804); a 401 leads here to one re-authentication and one
  retry, then :class:`SalesforceAuthError`.
- An injected ``requests.Session`` with a default timeout on every call.
- Typed errors carrying Salesforce's ``errorCode``.
- Every query is built with ``format_soql``; external ids go through ``format_external_id``.
- API usage from ``Sforce-Limit-Info`` is recorded, and every HTTP call is counted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlencode

import requests
from simple_salesforce import Salesforce, format_external_id, format_soql
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceRefusedRequest,
)

__all__ = [
    "GatewayConfig",
    "RecordResult",
    "SalesforceAuthError",
    "SalesforceGateway",
    "SalesforceLimitExceeded",
    "SalesforcePermanentError",
    "SalesforceSyncError",
    "SalesforceTransientError",
    "TimeoutSession",
    "format_external_id",
    "format_soql",
]

log = logging.getLogger(__name__)
T = TypeVar("T")


class SalesforceSyncError(Exception):
    """A failed Salesforce call; ``code`` is Salesforce's ``errorCode`` when it sent one."""

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message


class SalesforceAuthError(SalesforceSyncError):
    """Login failed, or the session stayed invalid after one re-authentication."""


class SalesforceLimitExceeded(SalesforceSyncError):
    """``REQUEST_LIMIT_EXCEEDED``: stop the run and resume at the next tick."""


class SalesforceTransientError(SalesforceSyncError):
    """5xx, timeouts and connection errors: retry later with backoff."""


class SalesforcePermanentError(SalesforceSyncError):
    """A 400-class answer: retrying the same request will not help."""


@dataclass(frozen=True)
class RecordResult:
    """One record's answer from an sObject Collections call."""

    success: bool
    id: str | None = None
    created: bool | None = None
    code: str | None = None
    message: str | None = None


class TimeoutSession(requests.Session):
    """A ``requests.Session`` that gives every request a default timeout (simple-salesforce sets none)."""

    def __init__(self, timeout: float = 30.0) -> None:
        super().__init__()
        self.default_timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.default_timeout)
        return super().request(method, url, *args, **kwargs)


@dataclass(frozen=True)
class GatewayConfig:
    """Credentials and endpoint (from the ``sf_*`` settings). Secrets are kept out of ``repr``."""

    auth: str
    domain: str = "login"
    instance_url: str = ""
    session_id: str = field(default="", repr=False)
    username: str = ""
    password: str = field(default="", repr=False)
    security_token: str = field(default="", repr=False)
    consumer_key: str = ""
    consumer_secret: str = field(default="", repr=False)
    private_key_file: str = ""
    version: str = "59.0"
    timeout: float = 30.0

    @classmethod
    def from_settings(cls, settings: Any) -> GatewayConfig:
        s = settings
        return cls(
            auth=s.sf_auth,
            domain=s.sf_domain,
            instance_url=s.sf_instance_url,
            session_id=s.sf_session_id,
            username=s.sf_username,
            password=s.sf_password,
            security_token=s.sf_security_token,
            consumer_key=s.sf_consumer_key,
            consumer_secret=s.sf_consumer_secret,
            private_key_file=s.sf_private_key_file,
            version=s.sf_api_version,
            timeout=float(s.sf_timeout_seconds),
        )


def _error_code(exc: SalesforceError) -> tuple[str | None, str]:
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return content[0].get("errorCode"), str(content[0].get("message") or "")
    if isinstance(content, dict):
        return content.get("errorCode"), str(content.get("message") or "")
    return None, str(content)[:500]


class SalesforceGateway:
    """Salesforce over simple-salesforce, with bounded re-authentication, typed errors and counting."""

    def __init__(
        self,
        config: GatewayConfig,
        session: requests.Session | None = None,
        *,
        on_call: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.session = session or TimeoutSession(config.timeout)
        self.api_calls = 0
        self.logins = 0
        #: ``(used, total)`` from the last ``Sforce-Limit-Info`` header seen.
        self.api_usage: tuple[int, int] | None = None
        self._client: Salesforce | None = None
        self._on_call = on_call

    # ------------------------------------------------------------------ auth

    def _login(self) -> Salesforce:
        """Authenticate and return a client that uses the session id only (no library refresh)."""
        c = self.config
        self.logins += 1
        try:
            if c.auth == "session":
                session_id, instance_url = c.session_id, c.instance_url
            else:
                if c.auth == "jwt":
                    login = Salesforce(
                        username=c.username,
                        consumer_key=c.consumer_key,
                        privatekey_file=c.private_key_file,
                        domain=c.domain,
                        version=c.version,
                        session=self.session,
                    )
                elif c.auth == "client_credentials":
                    login = Salesforce(
                        consumer_key=c.consumer_key,
                        consumer_secret=c.consumer_secret,
                        domain=c.domain,
                        version=c.version,
                        session=self.session,
                    )
                elif c.auth == "password":
                    login = Salesforce(
                        username=c.username,
                        password=c.password,
                        security_token=c.security_token,
                        domain=c.domain,
                        version=c.version,
                        session=self.session,
                    )
                else:
                    raise SalesforceAuthError(f"Salesforce is not configured (sf_auth={c.auth!r})")
                session_id, instance_url = login.session_id, "https://" + login.sf_instance
        except SalesforceAuthenticationFailed as exc:
            raise SalesforceAuthError(f"login failed: {exc.code}", code=str(exc.code)) from None
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise SalesforceTransientError(f"login failed: {type(exc).__name__}") from None
        return Salesforce(session_id=session_id, instance_url=instance_url, version=c.version, session=self.session)

    @property
    def client(self) -> Salesforce:
        if self._client is None:
            self._client = self._login()
        return self._client

    def _call(self, fn: Callable[[Salesforce], T]) -> T:
        """Run one call; on 401 re-authenticate once and retry once. Errors become typed errors."""
        for attempt in (1, 2):
            client = self.client
            try:
                self.api_calls += 1
                if self._on_call:
                    self._on_call()
                result = fn(client)
                self._record_usage(client)
                return result
            except SalesforceExpiredSession:
                self._record_usage(client)
                self._client = None
                if attempt == 2 or self.config.auth == "session":
                    raise SalesforceAuthError("the Salesforce session is invalid", code="INVALID_SESSION_ID") from None
            except SalesforceRefusedRequest as exc:
                code, message = _error_code(exc)
                if code == "REQUEST_LIMIT_EXCEEDED":
                    raise SalesforceLimitExceeded(message or code, code=code, status=403) from None
                raise SalesforcePermanentError(message, code=code, status=403) from None
            except SalesforceGeneralError as exc:
                code, message = _error_code(exc)
                if exc.status >= 500 or exc.status in (408, 429):
                    raise SalesforceTransientError(f"HTTP {exc.status}", code=code, status=exc.status) from None
                raise SalesforcePermanentError(message, code=code, status=exc.status) from None
            except SalesforceError as exc:
                code, message = _error_code(exc)
                raise SalesforcePermanentError(message, code=code, status=exc.status) from None
            except (requests.Timeout, requests.ConnectionError) as exc:
                raise SalesforceTransientError(f"{type(exc).__name__}: no answer from Salesforce") from None
            except ValueError as exc:  # a body that is not JSON (a proxy's HTML page, a cut-off answer)
                raise SalesforceTransientError(f"unreadable answer: {exc}"[:300]) from None
        raise AssertionError("unreachable")

    def _record_usage(self, client: Salesforce) -> None:
        usage = client.api_usage.get("api-usage")
        if usage is not None:
            self.api_usage = (int(usage.used), int(usage.total))

    # ------------------------------------------------------------------ reads

    def query_pages(self, soql: str, *, include_deleted: bool = False) -> Iterator[list[dict[str, Any]]]:
        """The records of ``soql`` page by page, following ``nextRecordsUrl`` (queryAll with ``include_deleted``)."""
        page = self._call(lambda sf: sf.query(soql, include_deleted=include_deleted))
        for _ in range(1_000_000):
            yield page["records"]
            if page.get("done", True):
                return
            page = self._call(partial(_query_more, url=str(page["nextRecordsUrl"])))

    def query(self, soql: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        return [r for page in self.query_pages(soql, include_deleted=include_deleted) for r in page]

    def limits(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call(lambda sf: sf.limits())
        return result

    def composite_queries(self, queries: Sequence[tuple[str, bool]]) -> list[list[dict[str, Any]] | None]:
        """Up to 25 queries (SOQL, include deleted) in one Composite request (one API call): each one's
        first page of records, or None where that subrequest failed."""
        if not 0 < len(queries) <= 25:
            raise ValueError("a composite request holds 1 to 25 subrequests")
        version = self.config.version
        body = {
            "allOrNone": False,
            "compositeRequest": [
                {
                    "method": "GET",
                    "url": f"/services/data/v{version}/{'queryAll' if deleted else 'query'}/?{urlencode({'q': q})}",
                    "referenceId": f"q{i}",
                }
                for i, (q, deleted) in enumerate(queries)
            ],
        }
        answer = self._call(lambda sf: sf.restful("composite", method="POST", json=body))
        by_ref = {r.get("referenceId"): r for r in (answer or {}).get("compositeResponse") or ()}
        out: list[list[dict[str, Any]] | None] = []
        for i in range(len(queries)):
            sub = by_ref.get(f"q{i}") or {}
            ok = sub.get("httpStatusCode") == 200 and isinstance(sub.get("body"), dict)
            out.append(list(sub["body"].get("records") or []) if ok else None)
        return out

    def describe(self, sobject: str) -> dict[str, Any]:
        """The object's describe metadata (``GET sobjects/{sobject}/describe``): fields, permissions, picklists."""
        result = self._call(lambda sf: sf.restful(f"sobjects/{sobject}/describe"))
        return result if isinstance(result, dict) else {}

    # ------------------------------------------------------------------ writes

    def upsert_many(self, sobject: str, external_field: str, records: Sequence[dict[str, Any]]) -> list[RecordResult]:
        """Upsert up to 200 records by ``external_field`` (sObject Collections, allOrNone false)."""
        return self._collections("PATCH", f"composite/sobjects/{sobject}/{external_field}", sobject, records)

    def create_many(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[RecordResult]:
        """Create up to 200 records (sObject Collections, allOrNone false)."""
        return self._collections("POST", "composite/sobjects", sobject, records)

    def update_many(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[RecordResult]:
        """Update up to 200 records by ``Id`` (sObject Collections, allOrNone false)."""
        return self._collections("PATCH", "composite/sobjects", sobject, records)

    def delete_many(self, ids: Sequence[str]) -> list[RecordResult]:
        """Delete up to 200 records by id (allOrNone false); an already deleted record counts as done."""
        results = self._collections("DELETE", "composite/sobjects", None, ids)
        return [
            RecordResult(True, ids[i]) if (not r.success and r.code in {"ENTITY_IS_DELETED", "NOT_FOUND"}) else r
            for i, r in enumerate(results)
        ]

    def _collections(
        self, method: str, path: str, sobject: str | None, items: Sequence[dict[str, Any]] | Sequence[str]
    ) -> list[RecordResult]:
        """One sObject Collections call (≤200 items, allOrNone false) through :meth:`_call`; per-record results.

        ``sobject`` set: ``items`` are records, sent as the JSON body with their ``attributes``.
        ``sobject`` None: ``items`` are ids, sent as the ``ids`` parameter (DELETE).
        """
        if not items:
            return []
        if len(items) > 200:
            raise ValueError("at most 200 records per sObject Collections call")
        kwargs: dict[str, Any]
        if sobject is None:
            kwargs = {"params": {"ids": ",".join(str(i) for i in items), "allOrNone": "false"}}
        else:
            records = [{"attributes": {"type": sobject}, **r} for r in items if isinstance(r, dict)]
            kwargs = {"json": {"allOrNone": False, "records": records}}
        answer = self._call(lambda sf: sf.restful(path, method=method, **kwargs))
        return self._results(answer, len(items))

    def update_record(self, sobject: str, record_id: str, body: dict[str, Any]) -> None:
        path = f"sobjects/{sobject}/{record_id}"
        self._call(lambda sf: sf.restful(path, method="PATCH", json=body))

    def external_id_path(self, field_name: str, value: str) -> str:
        """``field/quoted-value``, for single-record calls by external id."""
        path: str = format_external_id(field_name, value)
        return path

    @staticmethod
    def _results(answer: Any, expected: int) -> list[RecordResult]:
        if not isinstance(answer, list) or len(answer) != expected:
            raise SalesforceTransientError("sObject Collections answered with an unexpected body")
        out = []
        for item in answer:
            errors = item.get("errors") or []
            first = errors[0] if errors else {}
            out.append(
                RecordResult(
                    success=bool(item.get("success")),
                    id=item.get("id"),
                    created=item.get("created"),
                    code=first.get("statusCode"),
                    message=first.get("message"),
                )
            )
        return out


def _query_more(sf: Salesforce, url: str) -> Any:
    return sf.query_more(url, identifier_is_url=True)


def soql(template: str, *args: Any, **kwargs: Any) -> str:
    """Build SOQL with ``format_soql`` (quoted strings, UTC datetime literals)."""
    text: str = format_soql(template, *args, **kwargs)
    return text
