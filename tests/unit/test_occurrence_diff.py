"""``model.occurrence_change.occurrence_changes``: the occurrences a new version of a series changes one by one
(what a CalDAV client's PUT of "this event only" means), as pairs the REST change of one occurrence would give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from caldav_bridge.model.occurrence_change import SeriesTexts, changed_fields, occurrence_changes
from caldav_bridge.model.series import Override, Series

HOUR = timedelta(hours=1)
DAY = [datetime(2027, 1, 5, 16, tzinfo=UTC) + timedelta(days=n) for n in range(4)]
TEXTS = SeriesTexts("Daily check", None, "Main St 1")


def _series(*overrides: Override, exdates: tuple[datetime, ...] = ()) -> tuple[Series, SeriesTexts]:
    return Series("FREQ=DAILY;COUNT=4", exdates, (), overrides, "America/Denver"), TEXTS


def _fields(pairs: list[tuple[Override, Override]]) -> list[tuple[datetime, tuple[str, ...]]]:
    return [(after.recurrence_id, changed_fields(before, after)) for before, after in pairs]


def test_a_moved_a_deleted_and_an_unchanged_occurrence() -> None:
    moved = Override(DAY[1], DAY[1] + 2 * HOUR, DAY[1] + 3 * HOUR, name="Daily check", location="Main St 1")
    pairs = occurrence_changes(_series(), _series(moved, exdates=(DAY[2],)), HOUR)
    assert _fields(pairs) == [(DAY[1], ("date_start", "date_end")), (DAY[2], ("cancelled",))]
    # the deleted one keeps its times (as a REST cancellation); the texts copied from the series are none of its own
    assert pairs[1] == (Override(DAY[2], DAY[2], DAY[2] + HOUR), Override(DAY[2], DAY[2], DAY[2] + HOUR, True))
    assert pairs[0][1].name is None and pairs[0][1].location is None
    # the same version again, and one whose overrides copy the series' texts where the stored ones have none
    assert occurrence_changes(_series(moved), _series(moved), HOUR) == []
    plain = Override(DAY[1], DAY[1] + 2 * HOUR, DAY[1] + 3 * HOUR)
    assert occurrence_changes(_series(plain), _series(moved), HOUR) == []


def test_a_moved_occurrence_deleted_restored_and_put_back() -> None:
    moved = Override(DAY[1], DAY[1] + 2 * HOUR, DAY[1] + 3 * HOUR, name="At the shop")
    deleted = occurrence_changes(_series(moved), _series(exdates=(DAY[1],)), HOUR)
    assert _fields(deleted) == [(DAY[1], ("cancelled",))]
    assert deleted[0][1].start == DAY[1] + 2 * HOUR  # deleted where it stood
    restored = occurrence_changes(_series(exdates=(DAY[1],)), _series(), HOUR)
    assert _fields(restored) == [(DAY[1], ("cancelled",))] and restored[0][0].cancelled
    back = occurrence_changes(_series(moved), _series(), HOUR)
    assert _fields(back) == [(DAY[1], ("date_start", "date_end", "name"))]
    # an EXDATE where a cancelled override was, and an EXDATE kept: nothing changed
    cancelled = Override(DAY[3], DAY[3], DAY[3] + HOUR, True)
    assert occurrence_changes(_series(cancelled), _series(exdates=(DAY[3],)), HOUR) == []
    assert occurrence_changes(_series(exdates=(DAY[3],)), _series(exdates=(DAY[3],)), HOUR) == []
