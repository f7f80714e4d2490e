"""One appointment filter type from every edge to the repository, on the fake unit of work.

The REST query string and the CLI options validate into ``AppointmentListQuery`` (the filters and the page),
OLS's parameters map into ``AppointmentFilters`` (``services.ols.list_filters``); either goes to
``appointments.list_appointments`` as it is, which hands it to ``uow.appointments.search`` beside the calendars
the actor reaches and the cursor's position.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from caldav_bridge.converters.ols import OlsOptions
from caldav_bridge.errors import ValidationFailed
from caldav_bridge.model.queries import AppointmentFilters, AppointmentListQuery
from caldav_bridge.services import appointments, ols
from caldav_bridge.services.actor import Actor, system_actor
from config.settings import DEFAULT_OLS_STATUS_LABELS, DEFAULT_OLS_TYPE_LABELS
from tests.unit.fake_uow import T0, FakeUnitOfWork, appointment, calendar

CAL1, CAL2 = "10000000-0000-4000-8000-000000000001", "10000000-0000-4000-8000-000000000002"
API = system_actor("api", "dispatcher")
A0, A1, A2, A3, B0 = (f"00000000-0000-4000-8000-00000000000{i}" for i in range(5))


def _uow() -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    calendar(uow, CAL1)
    calendar(uow, CAL2)
    for day, appointment_id in enumerate((A0, A1, A2, A3)):
        appointment(uow, appointment_id, CAL1, start=T0 + timedelta(days=day))
    appointment(uow, B0, CAL2, "CANCELLED", start=T0 + timedelta(days=1))
    uow.appointments.rows[A2].sf_opportunity_gid = "006A"  # type: ignore[attr-defined]
    return uow


def _ids(page: appointments.Page) -> list[str]:
    return [str(s.appointment.id) for s in page.items]


def test_the_rest_and_cli_query_is_the_filter_itself_by_its_wire_names() -> None:
    query = AppointmentListQuery.model_validate(
        {"from": "2030-03-05T00:00:00Z", "to": "2030-03-07T00:00:00Z", "status": "BOOKED", "limit": 10}
    )
    assert isinstance(query, AppointmentFilters)
    assert (query.start, query.end) == (T0.replace(day=5, hour=0), T0.replace(day=7, hour=0))
    page = appointments.list_appointments(_uow(), API, query, limit=10)
    assert _ids(page) == [A1, A2]  # B0 overlaps too but is cancelled


def test_pages_continue_by_cursor_and_the_actor_sees_only_the_calendars_it_reaches() -> None:
    uow = _uow()
    first = appointments.list_appointments(uow, API, AppointmentFilters(), limit=3)
    assert _ids(first) == [A0, A1, B0] and first.next_cursor
    rest = appointments.list_appointments(uow, API, AppointmentFilters(), limit=3, cursor=first.next_cursor)
    assert (_ids(rest), rest.next_cursor) == ([A2, A3], None)
    fitter = Actor(None, "fitter", "user", frozenset({"read"}), "api", frozenset({CAL2}))
    assert _ids(appointments.list_appointments(uow, fitter, AppointmentFilters(), limit=10)) == [B0]
    with pytest.raises(ValidationFailed) as refused:
        appointments.list_appointments(uow, fitter, AppointmentFilters(calendar_id=CAL1), limit=10)
    assert [e.field for e in refused.value.errors] == ["calendar_id"]


def test_a_range_that_ends_before_it_starts_is_refused_by_its_wire_name() -> None:
    filters = AppointmentFilters(start=T0, end=T0 - timedelta(hours=1))
    with pytest.raises(ValidationFailed) as refused:
        appointments.list_appointments(_uow(), API, filters, limit=10)
    assert [e.field for e in refused.value.errors] == ["to"]


def test_ols_parameters_map_into_the_same_filters() -> None:
    options = OlsOptions(type_labels=DEFAULT_OLS_TYPE_LABELS, status_labels=DEFAULT_OLS_STATUS_LABELS)
    filters = ols.list_filters({"opportunity_gid": "006A", "customer_gid": "", "status": None}, options)
    assert filters == AppointmentFilters(opportunity_gid="006A")
    assert _ids(appointments.list_appointments(_uow(), API, filters, limit=10)) == [A2]
    with pytest.raises(ValidationFailed) as refused:
        ols.list_filters({"opportunity_gid": "0" * 65}, options)
    assert [e.field for e in refused.value.errors] == ["opportunity_gid"]
