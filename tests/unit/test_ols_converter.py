"""OLS ↔ canonical conversion: the legacy ``date``, the label tables, input errors.

Pure functions only; no database, no HTTP.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from caldav_bridge.converters.ols import (
    OLS_KEYS,
    OlsOptions,
    from_canonical,
    from_legacy_date,
    legacy_date,
    to_canonical_fields,
)
from caldav_bridge.errors import FieldError
from caldav_bridge.model.appointment import Appointment
from config.settings import DEFAULT_OLS_STATUS_LABELS, DEFAULT_OLS_TYPE_LABELS, load_settings

OPTIONS = OlsOptions(type_labels=DEFAULT_OLS_TYPE_LABELS, status_labels=DEFAULT_OLS_STATUS_LABELS)
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

#: The brief's OLS example, verbatim.
BRIEF_OLS = {
    "appointment_gid": "0Q09E0000012r7ZSAQ",
    "created_at": "2021-05-21T07:46:31.000Z",
    "customer_gid": "",
    "date_v2": "2021-05-25T05:55:00.000Z",
    "date": "2021-05-25T07:55:00.000Z",
    "id": "248dd2b0-7410-40e5-829d-99415c6837a2",
    "opportunity_gid": "0069E00000HbsUrQAJ",
    "status": "unknown-status",
    "type": "HEARING AID EVALUATION",
    "updated_at": "2021-05-21T07:46:31.000Z",
}


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def appointment(
    start: datetime = utc(2021, 5, 25, 5, 55),
    *,
    type: str = "INITIAL",
    status: str = "INITIAL",
    ols: dict[str, Any] | None = None,
    salesforce: dict[str, Any] | None = None,
) -> Appointment:
    meta: dict[str, Any] = {
        "type": type,
        "salesforce": salesforce
        if salesforce is not None
        else {"appointment_gid": "0Q09E0000012r7ZSAQ", "opportunity_gid": "0069E00000HbsUrQAJ"},
    }
    if ols is not None:
        meta["ols"] = ols
    return Appointment.model_validate(
        {
            "calendar": {"id": "cal-1"},
            "created_at": "2021-05-21T07:46:31.000Z",
            "updated_at": "2021-05-21T07:46:31.000Z",
            "date_start": start,
            "date_end": start + timedelta(minutes=30),
            "id": "248dd2b0-7410-40e5-829d-99415c6837a2",
            "meta": meta,
            "name": "Hearing aid evaluation",
            "status": status,
        }
    )


# --------------------------------------------------------------------------- the brief's example


def test_brief_example_is_reproduced_exactly() -> None:
    out = from_canonical(appointment(), OPTIONS)
    assert out == BRIEF_OLS
    assert tuple(out) == OLS_KEYS


def test_default_settings_give_the_brief_example() -> None:
    """The shipped defaults (zone and label tables) are the ones the brief's example needs."""
    s = load_settings(environ={})
    options = OlsOptions(
        legacy_timezone=s.ols_legacy_timezone,
        type_labels=s.ols_type_labels,
        status_labels=s.ols_status_labels,
        unknown_type=s.ols_unknown_type,
    )
    assert s.ols_legacy_timezone == "Europe/Berlin"
    assert from_canonical(appointment(), options) == BRIEF_OLS


def test_brief_example_reads_back_to_the_same_canonical_fields() -> None:
    read = to_canonical_fields(BRIEF_OLS, OPTIONS)
    assert read.errors == []
    assert read.values == {
        "date_start": utc(2021, 5, 25, 5, 55),
        "type": "INITIAL",
        "status": "INITIAL",
        "ols": {"type": "HEARING AID EVALUATION", "status": "unknown-status"},
        "salesforce": {
            "appointment_gid": "0Q09E0000012r7ZSAQ",
            "opportunity_gid": "0069E00000HbsUrQAJ",
            "customer_gid": None,
        },
    }


def test_server_owned_keys_are_ignored_on_input() -> None:
    read = to_canonical_fields({"id": "x", "created_at": "nonsense", "updated_at": 5}, OPTIONS)
    assert read.errors == []
    assert read.values == {}


# --------------------------------------------------------------------------- legacy date


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        pytest.param(utc(2021, 5, 25, 5, 55), "2021-05-25T07:55:00.000Z", id="summer-+2h"),
        pytest.param(utc(2021, 1, 15, 9, 0), "2021-01-15T10:00:00.000Z", id="winter-+1h"),
        pytest.param(utc(2021, 12, 31, 23, 30), "2022-01-01T00:30:00.000Z", id="crosses-new-year"),
        pytest.param(utc(2021, 5, 25, 5, 55, 0) + timedelta(milliseconds=123), "2021-05-25T07:55:00.123Z", id="ms"),
    ],
)
def test_legacy_date_is_berlin_wall_clock_labelled_z(start: datetime, expected: str) -> None:
    assert legacy_date(start, "Europe/Berlin") == expected
    assert from_canonical(appointment(start), OPTIONS)["date"] == expected
    assert from_canonical(appointment(start), OPTIONS)["date_v2"] == start.strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{start.microsecond // 1000:03d}Z"
    )


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        # 2021-03-28: Berlin moves from +01:00 to +02:00 at 01:00 UTC (02:00 local becomes 03:00).
        (utc(2021, 3, 28, 0, 59), "2021-03-28T01:59:00.000Z"),
        (utc(2021, 3, 28, 1, 0), "2021-03-28T03:00:00.000Z"),
        (utc(2021, 3, 28, 12, 0), "2021-03-28T14:00:00.000Z"),
        # 2021-10-31: Berlin moves from +02:00 back to +01:00 at 01:00 UTC; 02:00-03:00 local happens twice.
        (utc(2021, 10, 31, 0, 30), "2021-10-31T02:30:00.000Z"),
        (utc(2021, 10, 31, 1, 30), "2021-10-31T02:30:00.000Z"),
        (utc(2021, 10, 31, 12, 0), "2021-10-31T13:00:00.000Z"),
    ],
)
def test_legacy_date_on_dst_transition_days(start: datetime, expected: str) -> None:
    assert legacy_date(start, "Europe/Berlin") == expected


def test_repeated_autumn_hour_reads_back_as_its_first_occurrence() -> None:
    """Two instants share one legacy ``date`` in the repeated hour; reading it back gives the earlier."""
    assert from_legacy_date("2021-10-31T02:30:00.000Z", "Europe/Berlin") == utc(2021, 10, 31, 0, 30)


def test_skipped_spring_hour_reads_with_the_offset_before_the_change() -> None:
    """02:30 never happens in Berlin on 2021-03-28; it is read with +01:00 (01:30 UTC = 03:30 local)."""
    instant = from_legacy_date("2021-03-28T02:30:00.000Z", "Europe/Berlin")
    assert instant == utc(2021, 3, 28, 1, 30)
    assert legacy_date(instant, "Europe/Berlin") == "2021-03-28T03:30:00.000Z"


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("America/New_York", "2021-05-25T01:55:00.000Z"),
        ("Asia/Kolkata", "2021-05-25T11:25:00.000Z"),
        ("UTC", "2021-05-25T05:55:00.000Z"),
    ],
)
def test_legacy_zone_is_configurable(zone: str, expected: str) -> None:
    options = OlsOptions(
        legacy_timezone=zone, type_labels=DEFAULT_OLS_TYPE_LABELS, status_labels=DEFAULT_OLS_STATUS_LABELS
    )
    out = from_canonical(appointment(), options)
    assert out["date"] == expected
    assert out["date_v2"] == "2021-05-25T05:55:00.000Z"
    read = to_canonical_fields({"date": expected}, options)
    assert read.values["date_start"] == utc(2021, 5, 25, 5, 55)


def test_legacy_date_is_read_when_date_v2_is_absent() -> None:
    read = to_canonical_fields({"date": "2021-01-15T10:00:00.000Z"}, OPTIONS)
    assert read.errors == []
    assert read.values == {"date_start": utc(2021, 1, 15, 9, 0)}


def test_date_v2_wins_over_the_legacy_date() -> None:
    read = to_canonical_fields({"date_v2": "2021-05-25T05:55:00.000Z", "date": "2030-01-01T00:00:00.000Z"}, OPTIONS)
    assert read.errors == []
    assert read.values == {"date_start": utc(2021, 5, 25, 5, 55)}


def test_date_v2_with_an_offset_is_converted_to_utc() -> None:
    read = to_canonical_fields({"date_v2": "2021-05-25T07:55:00+02:00"}, OPTIONS)
    assert read.values["date_start"] == utc(2021, 5, 25, 5, 55)
    assert read.values["date_start"].tzinfo == UTC


def test_sub_millisecond_precision_is_truncated() -> None:
    read = to_canonical_fields({"date_v2": "2021-05-25T05:55:00.123999Z"}, OPTIONS)
    assert read.values["date_start"] == utc(2021, 5, 25, 5, 55) + timedelta(milliseconds=123)


# --------------------------------------------------------------------------- legacy date: properties

ZONES = ["Europe/Berlin", "America/New_York", "America/Denver", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]


@cache
def transitions(zone: str) -> tuple[datetime, ...]:
    """The instants (to the minute) in 2019-2031 at which ``zone``'s UTC offset changes."""
    tz = ZoneInfo(zone)
    found = []
    t = utc(2019, 1, 1)
    while t.year < 2032:
        nxt = t + timedelta(days=1)
        if t.astimezone(tz).utcoffset() != nxt.astimezone(tz).utcoffset():
            lo, hi = t, nxt
            while (minutes := (hi - lo) // timedelta(minutes=1)) > 1:
                mid = lo + timedelta(minutes=minutes // 2)
                if mid.astimezone(tz).utcoffset() == lo.astimezone(tz).utcoffset():
                    lo = mid
                else:
                    hi = mid
            found.append(hi)
        t = nxt
    return tuple(found)


def test_transition_finder_finds_berlin_2021() -> None:
    assert utc(2021, 3, 28, 1, 0) in transitions("Europe/Berlin")
    assert utc(2021, 10, 31, 1, 0) in transitions("Europe/Berlin")
    assert transitions("UTC") == ()


def _ms(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


any_instant = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)).map(
    _ms
)


@st.composite
def zone_and_instant(draw: st.DrawFn) -> tuple[str, datetime]:
    """An instant anywhere, or (half the time) within three hours of one of the zone's DST changes."""
    zone = draw(st.sampled_from(ZONES))
    near = transitions(zone)
    if bool(near) and draw(st.booleans()):
        base = draw(st.sampled_from(near))
        return zone, _ms(base + draw(st.timedeltas(min_value=timedelta(hours=-3), max_value=timedelta(hours=3))))
    return zone, draw(any_instant)


def wall_kind(wall: datetime, zone: str) -> str:
    """``"gap"`` (never shown by clocks in ``zone``), ``"fold"`` (shown twice) or ``"normal"`` (PEP 495)."""
    tz = ZoneInfo(zone)
    first, second = wall.replace(tzinfo=tz, fold=0), wall.replace(tzinfo=tz, fold=1)
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall:
        return "gap"
    return "fold" if first.utcoffset() != second.utcoffset() else "normal"


def naive(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp).replace(tzinfo=None)


@hsettings(derandomize=True, max_examples=400, deadline=None)
@given(zone_and_instant())
@example(("Europe/Berlin", utc(2021, 10, 31, 1, 30)))  # second 02:30 of the repeated hour
@example(("Europe/Berlin", utc(2021, 10, 31, 0, 30)))  # first 02:30
@example(("Australia/Lord_Howe", utc(2021, 4, 3, 15, 15)))  # Lord Howe repeats half an hour
def test_instant_to_legacy_and_back(case: tuple[str, datetime]) -> None:
    """Instant → legacy → instant is exact, except in a repeated hour, where the earlier instant comes back."""
    zone, instant = case
    legacy = legacy_date(instant, zone)
    assert STAMP.match(legacy)
    assert naive(legacy) == instant.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    back = from_legacy_date(legacy, zone)
    assert back.tzinfo == UTC
    kind = wall_kind(naive(legacy), zone)
    assert kind != "gap"  # a real instant always shows an existing wall-clock time
    if kind == "normal":
        assert back == instant
    else:
        earlier = naive(legacy).replace(tzinfo=ZoneInfo(zone), fold=0).astimezone(UTC)
        assert back == earlier <= instant
    assert legacy_date(back, zone) == legacy  # the same wall-clock time, so the same legacy date


@st.composite
def zone_and_wall(draw: st.DrawFn) -> tuple[str, datetime]:
    """A wall-clock time anywhere, or (half the time) within three hours of one of the zone's DST changes."""
    zone = draw(st.sampled_from(ZONES))
    near = transitions(zone)
    if bool(near) and draw(st.booleans()):
        change = draw(st.sampled_from(near))
        before = (change - timedelta(minutes=1)).astimezone(ZoneInfo(zone)).utcoffset()
        assert before is not None
        wall = (change + before).replace(tzinfo=None)  # what clocks showed as the change happened
        return zone, _ms(wall + draw(st.timedeltas(min_value=timedelta(hours=-3), max_value=timedelta(hours=3))))
    return zone, draw(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)).map(_ms))


@hsettings(derandomize=True, max_examples=400, deadline=None)
@given(zone_and_wall())
@example(("Europe/Berlin", datetime(2021, 3, 28, 2, 30)))  # skipped
@example(("Europe/Berlin", datetime(2021, 10, 31, 2, 30)))  # repeated
def test_legacy_to_instant_and_back(case: tuple[str, datetime]) -> None:
    """Legacy → instant → legacy is exact, except for a time the clocks skip: it moves forward by the gap."""
    zone, wall = case
    legacy = wall.strftime("%Y-%m-%dT%H:%M:%S.") + f"{wall.microsecond // 1000:03d}Z"
    instant = from_legacy_date(legacy, zone)
    again = legacy_date(instant, zone)
    if wall_kind(wall, zone) == "gap":
        tz = ZoneInfo(zone)
        gap = wall.replace(tzinfo=tz, fold=1).utcoffset() - wall.replace(tzinfo=tz, fold=0).utcoffset()  # type: ignore[operator]
        assert gap > timedelta(0)
        assert naive(again) == wall + gap
    else:
        assert again == legacy


# --------------------------------------------------------------------------- labels


@pytest.mark.parametrize(("label", "canonical"), sorted(DEFAULT_OLS_TYPE_LABELS.items()))
def test_known_type_labels_map_to_canonical_and_are_given_back(label: str, canonical: str) -> None:
    read = to_canonical_fields({"type": label}, OPTIONS)
    assert read.values["type"] == canonical
    assert read.values["ols"] == {"type": label}
    out = from_canonical(appointment(type=canonical, ols=read.values["ols"]), OPTIONS)
    assert out["type"] == label  # not just the first label of that canonical type


@pytest.mark.parametrize(("label", "canonical"), sorted(DEFAULT_OLS_STATUS_LABELS.items()))
def test_known_status_labels_map_to_canonical_and_are_given_back(label: str, canonical: str) -> None:
    read = to_canonical_fields({"status": label}, OPTIONS)
    assert read.values["status"] == canonical
    assert read.values["ols"] == {"status": label}
    out = from_canonical(appointment(status=canonical, ols=read.values["ols"]), OPTIONS)
    assert out["status"] == label


def test_without_a_kept_label_the_first_label_of_the_canonical_value_is_used() -> None:
    out = from_canonical(appointment(type="FOLLOW_UP", status="BOOKED"), OPTIONS)
    assert out["type"] == "FOLLOW UP"
    assert out["status"] == "scheduled"
    out = from_canonical(appointment(type="TECH_SETUP", status="CANCELLED"), OPTIONS)
    assert (out["type"], out["status"]) == ("TECH SETUP", "cancelled")


def test_unknown_labels_map_to_the_defaults_and_are_kept() -> None:
    read = to_canonical_fields({"type": "HOME VISIT", "status": "no-show"}, OPTIONS)
    assert read.errors == []
    assert read.values["type"] == "FOLLOW_UP"
    assert read.values["status"] == "INITIAL"
    assert read.values["ols"] == {"type": "HOME VISIT", "status": "no-show"}
    out = from_canonical(appointment(type="FOLLOW_UP", status="INITIAL", ols=read.values["ols"]), OPTIONS)
    assert (out["type"], out["status"]) == ("HOME VISIT", "no-show")


def test_unknown_type_default_is_configurable() -> None:
    options = OlsOptions(type_labels=DEFAULT_OLS_TYPE_LABELS, unknown_type="TECH_SETUP")
    assert to_canonical_fields({"type": "HOME VISIT"}, options).values["type"] == "TECH_SETUP"


def test_kept_label_is_dropped_once_the_canonical_value_changes() -> None:
    kept = {"type": "HOME VISIT", "status": "no-show"}
    out = from_canonical(appointment(type="INITIAL", status="BOOKED", ols=kept), OPTIONS)
    assert out["type"] == "HEARING AID EVALUATION"
    assert out["status"] == "scheduled"
    # A known label that no longer matches is dropped too.
    out = from_canonical(appointment(type="TECH_SETUP", ols={"type": "FITTING"}), OPTIONS)
    assert out["type"] == "TECH SETUP"


def test_garbage_under_meta_ols_is_ignored() -> None:
    out = from_canonical(appointment(type="INITIAL", ols={"type": 7, "status": None}), OPTIONS)
    assert (out["type"], out["status"]) == ("HEARING AID EVALUATION", "unknown-status")


def test_custom_label_tables() -> None:
    options = OlsOptions(type_labels={"HAE": "INITIAL"}, status_labels={"open": "INITIAL", "gebucht": "BOOKED"})
    read = to_canonical_fields({"type": "HAE", "status": "gebucht"}, options)
    assert (read.values["type"], read.values["status"]) == ("INITIAL", "BOOKED")
    assert to_canonical_fields({"type": "HEARING AID EVALUATION"}, options).values["type"] == "FOLLOW_UP"
    out = from_canonical(appointment(type="INITIAL", status="INITIAL"), options)
    assert (out["type"], out["status"]) == ("HAE", "open")


# --------------------------------------------------------------------------- gids


def test_gids_empty_string_and_null_clear_absent_keys_are_not_touched() -> None:
    read = to_canonical_fields({"opportunity_gid": "", "customer_gid": None, "appointment_gid": "0Q0"}, OPTIONS)
    assert read.values == {"salesforce": {"opportunity_gid": None, "customer_gid": None, "appointment_gid": "0Q0"}}
    assert "salesforce" not in to_canonical_fields({"type": "FITTING"}, OPTIONS).values


def test_absent_gids_are_empty_strings_on_output() -> None:
    out = from_canonical(appointment(salesforce={}), OPTIONS)
    assert (out["appointment_gid"], out["opportunity_gid"], out["customer_gid"]) == ("", "", "")


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"date_v2": "2021-05-25T05:55:00"}, "date_v2"),  # naive
        ({"date_v2": "tomorrow"}, "date_v2"),
        ({"date_v2": 1621922100}, "date_v2"),
        ({"date": "2021-05-25T07:55:00"}, "date"),  # a naive legacy date is refused too
        ({"date": "2021-13-01T00:00:00Z"}, "date"),
        ({"date": ["2021-05-25T07:55:00Z"]}, "date"),
        ({"type": ""}, "type"),
        ({"type": "   "}, "type"),
        ({"type": 3}, "type"),
        ({"type": "X" * 65}, "type"),
        ({"status": {"label": "scheduled"}}, "status"),
        ({"opportunity_gid": 69}, "opportunity_gid"),
        ({"customer_gid": "0" * 65}, "customer_gid"),
        ({"appointment_gid": ["a"]}, "appointment_gid"),
    ],
)
def test_bad_input_names_the_field(payload: dict[str, Any], field: str) -> None:
    read = to_canonical_fields(payload, OPTIONS)
    assert [e.field for e in read.errors] == [field]
    assert all(isinstance(e, FieldError) and e.message for e in read.errors)
    key = {"date_v2": "date_start", "date": "date_start"}.get(field, field)
    assert key not in read.values


def test_every_bad_field_is_reported_at_once() -> None:
    read = to_canonical_fields({"date_v2": "x", "type": "", "status": 1, "customer_gid": 2}, OPTIONS)
    assert sorted(e.field for e in read.errors) == ["customer_gid", "date_v2", "status", "type"]


def test_bad_date_v2_is_reported_even_with_a_good_legacy_date() -> None:
    read = to_canonical_fields({"date_v2": "nope", "date": "2021-05-25T07:55:00.000Z"}, OPTIONS)
    assert [e.field for e in read.errors] == ["date_v2"]


# --------------------------------------------------------------------------- regressions


def test_a_legacy_date_with_an_offset_is_read_by_its_digits() -> None:
    """The digits are Berlin wall-clock time whatever the label; the offset must not shift them."""
    for text in (
        "2021-05-25T07:55:00.000Z",
        "2021-05-25T07:55:00+00:00",
        "2021-05-25T07:55:00+05:00",
        "2021-05-25T07:55:00-07:00",
    ):
        assert from_legacy_date(text, "Europe/Berlin") == utc(2021, 5, 25, 5, 55), text


def test_out_of_range_timestamps_are_field_errors() -> None:
    """0001-01-01T00:30 in Berlin is before year 1 in UTC: a FieldError, not an OverflowError (HTTP 500)."""
    for payload, field in (
        ({"date": "0001-01-01T00:30:00.000Z"}, "date"),
        ({"date_v2": "0001-01-01T00:30:00+01:00"}, "date_v2"),
        ({"date_v2": "9999-12-31T23:30:00-01:00"}, "date_v2"),
    ):
        read = to_canonical_fields(payload, OPTIONS)
        assert [e.field for e in read.errors] == [field], payload
        assert "date_start" not in read.values


def test_canonical_names_given_back_for_want_of_a_label_read_back_unchanged() -> None:
    """With a table that has no label for TECH_SETUP or RESCHEDULED, OLS shows the canonical name; a client
    that sends the record back (GET then PUT) must not turn it into the unknown type/status."""
    options = OlsOptions(type_labels={"HAE": "INITIAL"}, status_labels={"open": "INITIAL"})
    out = from_canonical(appointment(type="TECH_SETUP", status="RESCHEDULED"), options)
    assert (out["type"], out["status"]) == ("TECH_SETUP", "RESCHEDULED")
    read = to_canonical_fields(out, options)
    assert (read.values["type"], read.values["status"]) == ("TECH_SETUP", "RESCHEDULED")
    # The table still wins over a canonical name, and unknown labels still get the defaults.
    table_first = OlsOptions(type_labels={"INITIAL": "TECH_SETUP"})
    assert to_canonical_fields({"type": "INITIAL"}, table_first).values["type"] == "TECH_SETUP"
    assert to_canonical_fields({"type": "initial"}, options).values["type"] == "FOLLOW_UP"
