"""``/api/v1/import/{format}`` and ``/api/v1/export/{format}``: other systems' appointment formats.

Parse, call :mod:`caldav_bridge.services.interchange`, map the result. Behaviour: ``docs/converters.md``.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import islice
from typing import Annotated, Any, Literal

from flask import Response, jsonify, request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from caldav_bridge.clock import utcnow
from caldav_bridge.converters import converter_names, ical_items
from caldav_bridge.errors import FieldError, ValidationFailed
from caldav_bridge.model.appointment import WindowTimestamp
from caldav_bridge.services import appointments, ical_export
from caldav_bridge.services import interchange as service
from feeds.api.blueprint import bp
from feeds.api.schemas import AppointmentListQuery
from feeds.auth import current_actor
from feeds.operations import operation, read_json
from feeds.problems import problem
from feeds.runtime import runtime, uow
from feeds.versioned import not_modified

__all__ = ["FormatQuery", "formatted"]

TAG = "interchange"


def _known_format(value: str) -> str:
    if value not in converter_names():
        raise ValueError(f"unknown format {value[:32]!r}; known formats: {', '.join(converter_names())}")
    return value


#: A format name, validated against the converter registry (and listed in the OpenAPI document).
FormatName = Annotated[
    str, Field(max_length=32, json_schema_extra={"enum": converter_names()}), AfterValidator(_known_format)
]


class FormatQuery(BaseModel):
    """``?format=`` on ``GET /appointments/{id}``: the appointment in another system's format."""

    model_config = ConfigDict(extra="ignore")

    format: FormatName | None = None


class ImportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    dry_run: bool = Field(False, description="Validate and report what would happen; write nothing")
    atomic: bool = Field(False, description="All or nothing: if any item fails, nothing is written (422)")
    calendar_id: Annotated[str | None, Field(min_length=1, max_length=64)] = Field(
        None, description="Put new appointments on this calendar instead of the one each item names"
    )
    from_: Annotated[WindowTimestamp | None, Field(alias="from")] = Field(
        None, description="ical files: recurring events become their occurrences from here (default: a year ago)"
    )
    to: WindowTimestamp | None = Field(None, description="… until here (default: a year ahead; at most 5 years)")


class ImportFieldError(BaseModel):
    field: str
    message: str


class ImportItemResult(BaseModel):
    index: int = Field(description="The item's position in the request (0 for a single object)")
    source_id: str | None = Field(description="The item's id in the source system, when it could be read")
    status: Literal["created", "updated", "unchanged", "error", "skipped"]
    id: str | None = Field(None, description="Our appointment id (absent for errors and skipped items)")
    errors: list[ImportFieldError] | None = Field(None, description="For errors: every wrong field, in source terms")


class ImportSummary(BaseModel):
    total: int
    created: int
    updated: int
    unchanged: int
    error: int
    skipped: int
    dry_run: bool
    atomic: bool


class ImportResponse(BaseModel):
    results: list[ImportItemResult]
    summary: ImportSummary


class ExportItemError(BaseModel):
    id: str = Field(description="Our appointment id")
    errors: list[ImportFieldError]


class ExportPage(BaseModel):
    items: list[dict[str, Any]] = Field(description="Appointments in the format, in (date_start, id) order")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")
    errors: list[ExportItemError] = Field(description="Appointments of this page the format cannot carry")


class IcsQuery(BaseModel):
    """``GET /calendars/{id}/appointments.ics``: optionally only appointments overlapping ``[from, to)``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: Annotated[WindowTimestamp | None, Field(alias="from")] = None
    to: WindowTimestamp | None = None


ICS = "text/calendar"
#: Items one request may import, as many as Salesforce's sObject collections take. A valid item cost ~0.3 ms of CPU
#: (0.4 ms an .ics event, its parse included) on the machines this was first measured on, and 1.4-2 ms on a slower
#: one (2026-12-05: 500 .ics events in a dry run 0.71 s in process, 0.82-0.98 s served, over 1 s on a loaded
#: machine): a request should cost a quarter of its second quiet to stay inside it under load
#: (bench/hostile_costs.py). Larger files go through the command line import, which streams.
MAX_ITEMS = 200
#: Content lines of an .ics file one request may import, counted before it is parsed: parsing costs ~25 µs of CPU
#: a line, so a file of 140,000 one-line properties cost 3 s; 5,000 lines are ~0.12 s (~400 ordinary events).
MAX_ICS_LINES = 5_000
#: "One object of the format, or an array of them"; any other item of an array is reported as that
#: item's error, so the array's items are not constrained here.
IMPORT_BODY: dict[str, Any] = {
    "description": "One appointment in the format (a JSON object), or an array of them",
    "anyOf": [{"type": "object"}, {"type": "array", "items": {}, "maxItems": MAX_ITEMS}],
}


@operation(
    bp,
    "POST",
    "/import/{format}",
    summary="Import appointments of another system (one object or an array; upsert by the source id)",
    tag=TAG,
    raw_body=IMPORT_BODY,
    other_bodies={ICS: {"type": "string", "description": "ical only: a whole iCalendar (.ics) file"}},
    query=ImportQuery,
    idempotent=True,
    responses={200: ImportResponse},
)
def import_appointments(format: str, query: ImportQuery) -> Response:
    actor = current_actor("api")
    options = runtime().converter_options.get(format)
    body: Any
    if request.mimetype == ICS:
        body, items = _ics_items(format, query)
        options = _window(query)
    else:
        body = read_json()
        items = _json_items(body)
    report = service.import_batch(
        uow(),
        actor,
        format,
        items,
        options=options,
        dry_run=query.dry_run,
        atomic=query.atomic,
        calendar_id=query.calendar_id,
    )
    results = [r.as_dict() for r in report.results]
    if query.atomic and report.summary.failed:
        prefix = "" if isinstance(body, dict) else "{index}."
        errors = [
            FieldError(prefix.format(index=r.index) + e.field, e.message) for r in report.results for e in r.errors
        ]
        return problem(
            422,
            "Import failed",
            f"{report.summary.error} of {report.summary.total} items failed; atomic: nothing was written",
            errors=errors,
            extra={"results": results, "summary": report.summary.as_dict()},
        )
    return jsonify({"results": results, "summary": report.summary.as_dict()})


def _json_items(body: Any) -> list[Any]:
    if isinstance(body, dict):
        return [body]
    if isinstance(body, list):
        return _at_most_max(body)
    raise ValidationFailed([FieldError("(body)", "expected a JSON object or an array of objects")])


def _ics_items(format: str, query: ImportQuery) -> tuple[list[Any], list[Any]]:
    """A whole iCalendar file: every event (recurring ones as their occurrences in the window) is an item."""
    if format != ical_items.FORMAT:
        raise ValidationFailed([FieldError("(body)", f"{ICS} is read by the ical format only, not {format[:32]!r}")])
    items = _at_most_max(list(islice(ical_items.read_calendar(request.get_data(), _window(query)), MAX_ITEMS + 1)))
    return items, items


def _at_most_max(items: list[Any]) -> list[Any]:
    if len(items) > MAX_ITEMS:
        raise ValidationFailed(
            [
                FieldError(
                    "(body)",
                    f"at most {MAX_ITEMS:,} items (events, for ical) per request: split the file, or import it "
                    "with the command line (`appointment-service import`), which streams any size",
                )
            ]
        )
    return items


def _window(query: ImportQuery) -> ical_items.IcalOptions:
    now = utcnow()
    start = query.from_ or now - timedelta(days=365)
    end = query.to or start + timedelta(days=730)
    if end <= start:
        raise ValidationFailed([FieldError("to", "must be after 'from'")])
    if end - start > timedelta(days=5 * 366):
        raise ValidationFailed([FieldError("to", "the window may span at most 5 years")])
    return ical_items.IcalOptions(window_start=start, window_end=end, max_events=MAX_ITEMS, max_lines=MAX_ICS_LINES)


@operation(
    bp,
    "GET",
    "/calendars/{id}/appointments.ics",
    summary="A calendar's appointments as one iCalendar (.ics) file",
    tag=TAG,
    query=IcsQuery,
    responses={200: "An iCalendar file (text/calendar): every appointment of the calendar at full detail"},
)
def export_calendar_ics(id: str, query: IcsQuery) -> Response:
    text = ical_export.calendar_ics(uow(), current_actor("api"), id, start=query.from_, end=query.to)
    response = Response(text, mimetype=ICS)
    response.headers["Content-Disposition"] = f'attachment; filename="{_filename(id)}.ics"'
    return response


def _filename(calendar_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in calendar_id)[:64] or "calendar"


@operation(
    bp,
    "GET",
    "/export/{format}",
    summary="Export appointments in another system's format (the list filters; cursor pagination)",
    tag=TAG,
    query=AppointmentListQuery,
    responses={200: ExportPage},
)
def export_appointments(format: str, query: AppointmentListQuery) -> Response:
    settings = runtime().settings
    limit = min(query.limit or settings.page_size, settings.max_page_size)
    page = service.export_page(
        uow(),
        current_actor("api"),
        format,
        query,
        options=runtime().converter_options.get(format),
        limit=limit,
        cursor=query.cursor,
    )
    return jsonify({"items": page.items, "next_cursor": page.next_cursor, "errors": [e.as_dict() for e in page.errors]})


def formatted(stored: appointments.Stored, format_name: str) -> Response:
    """``GET /appointments/{id}?format=…``: the appointment in ``format_name``, with a per-format ETag."""
    etag = f'{stored.etag[:-1]}-{format_name}"'
    if not_modified(etag, request.headers.get("If-None-Match")):
        return Response(status=304, headers={"ETag": etag})
    payload = service.render(format_name, stored.appointment, runtime().converter_options.get(format_name))
    response = jsonify(payload)
    response.headers["ETag"] = etag
    return response
