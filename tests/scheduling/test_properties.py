"""Hypothesis: no returned slot overlaps a busy interval, leaves working hours, or breaks a buffer;
and every aligned candidate that satisfies the rules is returned."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from caldav_bridge.scheduling.intervals import Interval, SlotSpec, free_slots, overlaps, unfit_reason, working_intervals
from caldav_bridge.scheduling.rules import AvailabilityRules

BASE = datetime(2026, 3, 27, tzinfo=UTC)  # spans Europe's and (a week earlier) America's DST change
ZONES = ["UTC", "Europe/Berlin", "America/Denver", "Asia/Kolkata", "Australia/Lord_Howe"]
M = timedelta(minutes=1)

clock = st.integers(0, 24 * 4).map(lambda q: "24:00" if q == 96 else f"{q // 4:02d}:{q % 4 * 15:02d}")


@st.composite
def day_hours(draw: st.DrawFn) -> list[dict[str, str]]:
    ranges = []
    for _ in range(draw(st.integers(0, 3))):
        a, b = sorted(draw(st.lists(clock, min_size=2, max_size=2, unique=True)))
        if a == "24:00" or b <= a:
            continue
        ranges.append({"start": a, "end": b})
    return ranges


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list[Interval], list[Interval], SlotSpec]:
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    rules = AvailabilityRules.model_validate(
        {
            "weekly_hours": {d: draw(day_hours()) for d in days if draw(st.booleans())},
            "breaks": {d: draw(day_hours()) for d in days if draw(st.booleans())},
        }
    )
    first = date(2026, 3, 26)
    working = working_intervals(rules, {}, zone, [first + timedelta(days=n) for n in range(4)])
    busy = []
    for _ in range(draw(st.integers(0, 12))):
        start = BASE + draw(st.integers(-24 * 60, 4 * 24 * 60)) * M
        busy.append((start, start + draw(st.integers(1, 240)) * M))
    spec = SlotSpec(
        duration=draw(st.sampled_from([15, 30, 45, 60, 90])) * M,
        step=draw(st.sampled_from([5, 15, 30, 60])) * M,
        before=draw(st.integers(0, 60)) * M,
        after=draw(st.integers(0, 60)) * M,
        not_before=BASE + draw(st.integers(-600, 1440)) * M,
        not_after=BASE + draw(st.integers(1440, 5 * 1440)) * M,
        max_per_day=draw(st.none() | st.integers(1, 4)),
        zone=zone,
    )
    return working, busy, spec


@settings(max_examples=150, deadline=None)
@given(scenario())
def test_slots_respect_busy_time_working_hours_and_buffers(
    case: tuple[list[Interval], list[Interval], SlotSpec],
) -> None:
    working, busy, spec = case
    slots = free_slots(working, busy, spec)
    for start, end in slots:
        assert end - start == spec.duration
        assert any(w0 <= start and end <= w1 for w0, w1 in working), "leaves working hours"
        for b in busy:
            assert not overlaps((start, end), b), "overlaps a busy interval"
            assert not overlaps((start - spec.before, end + spec.after), (b[0] - spec.before, b[1] + spec.after)), (
                "breaks a buffer"
            )
        assert spec.not_before is None or start >= spec.not_before
        assert spec.not_after is None or start <= spec.not_after
        assert unfit_reason((start, end), working, busy, spec) is None  # a booking accepts what is offered
    assert slots == sorted(set(slots))


@settings(max_examples=100, deadline=None)
@given(scenario())
def test_every_aligned_slot_that_fits_is_offered(case: tuple[list[Interval], list[Interval], SlotSpec]) -> None:
    working, busy, spec = case
    offered = set(free_slots(working, busy, spec))
    for w0, w1 in working:
        candidate = w0
        for _ in range(2000):
            if candidate + spec.duration > w1:
                break
            slot = (candidate, candidate + spec.duration)
            assert (unfit_reason(slot, working, busy, spec) is None) == (slot in offered)
            candidate += spec.step
