"""The CalDAV store's errors carry data; the plugin alone turns them into statuses and preconditions."""

from __future__ import annotations

import pytest

from caldav_bridge.dav import errors as dav
from caldav_bridge.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from storage_plugin.dav_errors import dav_error


@pytest.mark.parametrize(
    ("error", "status", "precondition"),
    [
        (dav.MalformedCalendarData("not text"), 400, "C:valid-calendar-data"),
        (dav.InvalidCalendarData("DTEND before DTSTART"), 403, "C:valid-calendar-data"),
        (dav.UnsupportedComponent("VTODO"), 403, "C:supported-calendar-component"),
        (ValidationFailed([], "bad field"), 403, "C:valid-calendar-data"),
        (Forbidden("an appointment calendar cannot be deleted over CalDAV"), 403, "D:need-privileges"),
        (dav.ItemChanged("a.ics", "item 'a.ics' was deleted meanwhile"), 412, None),
        (dav.ResourceNotFound("item", "a.ics"), 404, None),
        (NotFound("appointment", "x"), 409, None),
        (Conflict("slot taken"), 409, None),
        (DomainError("anything else"), 409, None),
    ],
)
def test_each_core_error_is_answered_with_its_status_and_precondition(
    error: DomainError, status: int, precondition: str | None
) -> None:
    answer = dav_error(error)
    assert (answer.status, answer.precondition, answer.detail) == (status, precondition, error.detail)


def test_the_core_errors_name_what_was_refused() -> None:
    assert dav.UnsupportedComponent("VTODO").detail == "this calendar does not accept VTODO"
    assert dav.ResourceNotFound("collection", "/u/cal/").detail == "collection '/u/cal/' not found"
    assert dav.ItemChanged("a.ics", "gone").href == "a.ics"
