"""``mapping.canonical_json`` (the outbox payload of new appointments) is exactly what the models dump."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from caldav_bridge.services.creates import PlainGuest, PlainRow
from caldav_bridge.services.mapping import appointment_from_row, canonical_json


class _Calendar:
    id = "cal-1"
    name = "Frank's calendar"
    timezone = "Europe/Berlin"


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
maybe_text = st.one_of(st.none(), st.text(max_size=20))
extra_key = st.text(min_size=1, max_size=8).filter(lambda k: k not in {"id", "first_name", "last_name", "timezone"})
guest = st.builds(
    PlainGuest,
    position=st.just(0),
    person_id=maybe_text,
    first_name=maybe_text,
    last_name=maybe_text,
    timezone=st.sampled_from([None, "Europe/Berlin", "UTC"]),
    extra=st.dictionaries(extra_key, json_value, max_size=3),
)
when = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC))


@settings(max_examples=200, deadline=None)
@given(
    start=when,
    minutes=st.integers(1, 600),
    guests=st.lists(guest, max_size=3),
    meta=st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: k not in {"type", "salesforce"}), json_value),
    gids=st.tuples(maybe_text, maybe_text, maybe_text),
    description=maybe_text,
    status=st.sampled_from(["INITIAL", "RESERVED", "BOOKED", "RESCHEDULED", "CANCELLED"]),
    kind=st.sampled_from(["INITIAL", "FOLLOW_UP", "TECH_SETUP"]),
    uuid_int=st.integers(0, 2**128 - 1),
)
def test_canonical_json_equals_the_models_dump(
    start: datetime,
    minutes: int,
    guests: list[PlainGuest],
    meta: dict[str, Any],
    gids: tuple[str | None, str | None, str | None],
    description: str | None,
    status: str,
    kind: str,
    uuid_int: int,
) -> None:
    import uuid

    row = PlainRow(
        id=str(uuid.UUID(int=uuid_int)).upper(),
        calendar_id="cal-1",
        calendar=_Calendar(),
        name="Fitting",
        description=description,
        type=kind,
        status=status,
        date_start=start,
        date_end=start + timedelta(minutes=minutes),
        created_at=start - timedelta(microseconds=1234),
        updated_at=start,
        meta_extra=meta,
        sf_appointment_gid=gids[0],
        sf_opportunity_gid=gids[1],
        sf_customer_gid=gids[2],
        guests=[
            PlainGuest(i, g.person_id, g.first_name, g.last_name, g.timezone, g.extra) for i, g in enumerate(guests)
        ],
    )
    expected = appointment_from_row(row.as_row()).model_dump(mode="json")
    got = canonical_json(row.as_row())
    assert got == expected
    assert list(got) == list(expected) and list(got["meta"]) == list(expected["meta"])
    for mine, theirs in zip(got["guests"], expected["guests"], strict=True):
        assert list(mine) == list(theirs)
