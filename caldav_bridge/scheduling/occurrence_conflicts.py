"""A moved (or brought back) occurrence of a series re-checked against the calendar's other bookings, in the
change's transaction (the handler of :class:`~caldav_bridge.events.model.OccurrenceChanged`).

The rules a reschedule of a single appointment meets (:mod:`caldav_bridge.scheduling.hooks`), for the
occurrence's new time:

- a slot booked through scheduling (a slot claim, with the calendar's buffers around the occurrence) is never
  overlapped;
- nor, unless the change says ``allow_overlap`` (as a follow-up may; :attr:`OverlapCheck.CLAIMS`), is any other
  busy time of the calendar as availability sees it: other appointments, occurrences of other series, long
  calendar-only events, and the same series' other occurrences (moved ones where they were moved to).

An occurrence a CalDAV client moved by writing its whole series (:attr:`OverlapCheck.NONE`) is not checked: a
CalDAV PUT of any appointment is checked only for a slot claim of its own (:mod:`caldav_bridge.scheduling.hooks`),
since the calendar is the fitter's own (docs/caldav.md, "Series").

An occurrence that shows as free (a transparent series) or is cancelled takes no time and is not checked. A
refusal is a :class:`~caldav_bridge.scheduling.hooks.SlotUnavailable` (409 ``slot-unavailable``) naming the time
in the way; nothing of the change is written.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from caldav_bridge.clock import utcnow
from caldav_bridge.events.model import OccurrenceChanged, OverlapCheck
from caldav_bridge.model.appointment import SHOW_AS_META
from caldav_bridge.model.series import Series, TooManyOccurrences, expand
from caldav_bridge.model.timestamps import format_timestamp
from caldav_bridge.scheduling.claims import SlotClaims
from caldav_bridge.scheduling.hooks import SlotUnavailable
from caldav_bridge.scheduling.queries import SchedulingQueries
from caldav_bridge.scheduling.rules import DEFAULT_RULES
from caldav_bridge.store.tables import AppointmentRow
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["OccurrenceConflict", "on_occurrence_changed"]

Interval = tuple[datetime, datetime]


class OccurrenceConflict(SlotUnavailable):
    """The occurrence's new time overlaps other busy time on its calendar (``members``: that time)."""

    def __init__(self, detail: str, taken: Interval) -> None:
        super().__init__(detail)
        self.members = {
            "conflicting_time": {"date_start": format_timestamp(taken[0]), "date_end": format_timestamp(taken[1])}
        }


def on_occurrence_changed(uow: UnitOfWork, event: OccurrenceChanged) -> None:
    if event.overlap == OverlapCheck.NONE or not event.occupies_new_time or event.after is None:
        return
    row = uow.appointments.get(event.appointment_id)
    if row is None or (row.meta_extra or {}).get(SHOW_AS_META) == "free":
        return
    start, end = event.after.start.astimezone(UTC), event.after.end.astimezone(UTC)
    rules = uow.repo(SchedulingQueries).rules_of(row.calendar) or DEFAULT_RULES
    padded = (
        start - timedelta(minutes=rules.buffer_before_minutes),
        end + timedelta(minutes=rules.buffer_after_minutes),
    )
    if uow.repo(SlotClaims).overlapping(row.calendar_id, *padded, exclude=row.id):
        raise SlotUnavailable("the occurrence's new time overlaps a slot booked through scheduling")
    if event.overlap == OverlapCheck.CLAIMS:
        return
    taken = _taken(uow, row, event, (start, end))
    if taken is not None:
        raise OccurrenceConflict(
            f"the occurrence's new time overlaps other busy time on the calendar ({format_timestamp(taken[0])} "
            f"to {format_timestamp(taken[1])}); send allow_overlap true to move it there anyway",
            taken,
        )


def _taken(uow: UnitOfWork, row: AppointmentRow, event: OccurrenceChanged, span: Interval) -> Interval | None:
    """The first busy interval overlapping ``span``: of the calendar's other appointments and events, or of
    the series' own other occurrences (the series as changed)."""
    busy = uow.repo(SchedulingQueries).busy_intervals([row.calendar_id], *span, utcnow(), exclude=[row.id])
    found = [i for i in busy.get(row.calendar_id, []) if i[0] < span[1] and i[1] > span[0]]
    series = Series.of_meta(row.meta_extra)
    rid = event.after.recurrence_id if event.after is not None else None
    if series is not None:
        try:
            own = expand(series, row.date_start, row.date_end, row.calendar.timezone, *span)
        except TooManyOccurrences:
            own = []
        found += [(o.start, o.end) for o in own if o.recurrence_id != rid]
    return min(found, default=None)
