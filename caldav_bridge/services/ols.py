"""OLS-compatible use cases, over the same appointment services as the canonical API."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from caldav_bridge.clock import utcnow
from caldav_bridge.converters.ols import OlsOptions, from_canonical, to_canonical_fields
from caldav_bridge.errors import FieldError, ValidationFailed
from caldav_bridge.model.queries import AppointmentFilters
from caldav_bridge.model.requests import AppointmentDraft, AppointmentPatch, CalendarRefInput
from caldav_bridge.services import appointments
from caldav_bridge.services.actor import Actor
from caldav_bridge.services.validation import field_errors
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["INBOX_CALENDAR_NAME", "calendar_for_new", "create", "list_filters", "patch", "render", "replace"]

#: Where OLS-created appointments land when the caller names no calendar and owns none.
INBOX_CALENDAR_NAME = "OLS inbox"
#: Fixed, so that concurrent first requests agree on one inbox.
INBOX_CALENDAR_ID = "00000000-0000-5000-8000-0000000001a5"
_OLS_ONLY_KEYS = {"calendar_id", "name", "date_end"}
#: Canonical fields under the OLS body keys they come from: a problem names the key the client sent.
_OLS_KEYS = {"calendar.id": "calendar_id", "date_start": "date_v2"}


def render(stored: appointments.Stored, options: OlsOptions) -> dict[str, Any]:
    return from_canonical(stored.appointment, options)


def list_filters(params: Mapping[str, str | None], options: OlsOptions) -> AppointmentFilters:
    """OLS list filters in canonical terms: ``type``/``status`` labels map through the tables."""
    read = to_canonical_fields({k: params[k] for k in ("type", "status") if params.get(k)}, options)
    errors = list(read.errors)
    since = None
    if params.get("updated_since"):
        stamp = to_canonical_fields({"date_v2": params["updated_since"]}, options)
        errors += [FieldError("updated_since", e.message) for e in stamp.errors]
        since = stamp.values.get("date_start")
    if errors:
        raise ValidationFailed(errors)
    try:
        return AppointmentFilters(
            # An empty gid is no filter, like an empty type, status or updated_since (no stored gid is "").
            opportunity_gid=params.get("opportunity_gid") or None,
            customer_gid=params.get("customer_gid") or None,
            appointment_gid=params.get("appointment_gid") or None,
            type=read.values.get("type"),
            status=read.values.get("status"),
            updated_since=since,
        )
    except ValidationError as exc:  # a gid longer than any stored one (from the path)
        raise ValidationFailed(field_errors(exc)) from exc


def create(
    uow: UnitOfWork,
    actor: Actor,
    payload: Mapping[str, Any],
    options: OlsOptions,
) -> appointments.Stored:
    """Create from an OLS payload; ``date_v2`` (or the legacy ``date``) and ``type`` are required.

    Beyond OLS's keys a caller may send ``calendar_id``, ``name`` and ``date_end``; without them the
    appointment lands on the caller's own calendar (or the OLS inbox) and lasts the default duration.
    """
    fields = _read(payload, options)
    missing = [FieldError(k, "required") for k in ("date_v2", "type") if _absent(fields, k)]
    if missing:
        raise ValidationFailed(missing)
    start = fields["date_start"]
    end = _end(payload, start, options.default_duration)
    with _ols_names():  # the draft's and the service's errors, under the keys the client sent
        draft = _validate(
            AppointmentDraft,
            {
                "calendar": {"id": payload.get("calendar_id") or "(to be chosen)"},
                "date_start": start,
                "date_end": end,
                "name": payload.get("name") or fields["ols"]["type"].title(),
                "meta": {"type": fields["type"], "salesforce": fields.get("salesforce", {}), "ols": fields["ols"]},
                "status": fields.get("status", options.unknown_status),
            },
        )
        if not payload.get("calendar_id"):  # chosen only once the payload is known to be valid
            draft = draft.model_copy(update={"calendar": CalendarRefInput(id=calendar_for_new(uow, actor))})
        return appointments.create(uow, actor, draft)


def replace(
    uow: UnitOfWork,
    actor: Actor,
    appointment_id: str,
    payload: Mapping[str, Any],
    options: OlsOptions,
    *,
    if_match: str | None = None,
) -> appointments.Stored:
    """PUT: every OLS field is set from ``payload``; gids missing from it are cleared."""
    fields = _read(payload, options)
    missing = [FieldError(k, "required") for k in ("date_v2", "type", "status") if _absent(fields, k)]
    if missing:
        raise ValidationFailed(missing)
    sf = {k: fields.get("salesforce", {}).get(k) for k in ("appointment_gid", "opportunity_gid", "customer_gid")}
    return _update(uow, actor, appointment_id, payload, {**fields, "salesforce": sf}, if_match)


def patch(
    uow: UnitOfWork,
    actor: Actor,
    appointment_id: str,
    payload: Mapping[str, Any],
    options: OlsOptions,
    *,
    if_match: str | None = None,
) -> appointments.Stored:
    """PATCH: only the OLS fields present in ``payload`` change."""
    return _update(uow, actor, appointment_id, payload, _read(payload, options), if_match)


def calendar_for_new(uow: UnitOfWork, actor: Actor) -> str:
    """The caller's only calendar if it has exactly one, else the OLS inbox (created on first use)."""
    if actor.calendar_ids is not None and len(actor.calendar_ids) == 1:
        return next(iter(actor.calendar_ids))
    with uow:
        now = utcnow()
        uow.calendars.ensure(
            {
                "id": INBOX_CALENDAR_ID,
                "name": INBOX_CALENDAR_NAME,
                "kind": "team",
                "timezone": "UTC",
                "created_at": now,
                "updated_at": now,
            }
        )
        uow.commit()
    return INBOX_CALENDAR_ID


def _update(
    uow: UnitOfWork,
    actor: Actor,
    appointment_id: str,
    payload: Mapping[str, Any],
    fields: dict[str, Any],
    if_match: str | None,
) -> appointments.Stored:
    current = appointments.get(uow, actor, appointment_id).appointment
    changes: dict[str, Any] = {}
    if "date_start" in fields:
        duration = current.date_end - current.date_start
        changes["date_start"] = fields["date_start"]
        changes["date_end"] = _end(payload, fields["date_start"], duration)
    elif payload.get("date_end"):  # a new end alone: the start stays
        changes["date_end"] = payload["date_end"]
    if "status" in fields:
        changes["status"] = fields["status"]
    meta: dict[str, Any] = {}
    if "type" in fields:
        meta["type"] = fields["type"]
    if "salesforce" in fields:
        meta["salesforce"] = fields["salesforce"]
    if "ols" in fields:
        kept = dict(getattr(current.meta, "ols", None) or {})
        meta["ols"] = {**kept, **fields["ols"]}
    if meta:
        changes["meta"] = meta
    if payload.get("name") is not None:  # null is "not sent", as for the other fields that cannot be cleared
        changes["name"] = payload["name"]
    with _ols_names():
        return appointments.update(uow, actor, appointment_id, _validate(AppointmentPatch, changes), if_match=if_match)


@contextmanager
def _ols_names() -> Iterator[None]:
    """Field errors of the canonical layer renamed to the OLS body's keys (``calendar.id`` → ``calendar_id``)."""
    try:
        yield
    except ValidationFailed as exc:
        raise ValidationFailed([FieldError(_OLS_KEYS.get(e.field, e.field), e.message) for e in exc.errors]) from exc


def _read(payload: Mapping[str, Any], options: OlsOptions) -> dict[str, Any]:
    if not isinstance(payload, Mapping):
        raise ValidationFailed([FieldError("(body)", "expected a JSON object")])
    result = to_canonical_fields(payload, options)
    errors = list(result.errors)
    for key in _OLS_ONLY_KEYS & payload.keys():
        if payload[key] is not None and not isinstance(payload[key], str):
            errors.append(FieldError(key, "expected a string"))
    if errors:
        raise ValidationFailed(errors)
    return result.values


def _absent(fields: dict[str, Any], key: str) -> bool:
    return ("date_start" if key == "date_v2" else key) not in fields


def _end(payload: Mapping[str, Any], start: Any, duration: timedelta) -> Any:
    if payload.get("date_end"):
        return payload["date_end"]
    return start + duration


def _validate(model: Any, data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(field_errors(exc)) from exc
