"""One occurrence of a series changed (``PATCH /appointments/{id}/occurrences/{recurrence_id}``): the new
override from the current one and the patch, and what the change gave it (for the appointment's history); and the
occurrences a new version of the whole series changed one by one (a CalDAV client's PUT of "this event only":
:func:`occurrence_changes`).

An occurrence of an all-day series stays all-day when it is moved to midnights of the calendar's zone (other
dates), and is given times of its own (``Override.timed``) by times that are not midnights there; a change that
gives no times leaves it as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from caldav_bridge.errors import FieldError, FieldValueError, ValidationFailed
from caldav_bridge.model.all_day import on_midnights
from caldav_bridge.model.appointment import check_interval
from caldav_bridge.model.requests import OccurrencePatch
from caldav_bridge.model.series import Override, Series

__all__ = ["CHANGEABLE", "SeriesTexts", "changed_fields", "changed_occurrence", "occurrence_changes"]

#: The occurrence's fields a change may give, in the order history names them.
CHANGEABLE = ("date_start", "date_end", "name", "description", "location", "cancelled", "timed")
_TEXTS = ("name", "description", "location")


def changed_occurrence(current: Override, patch: OccurrencePatch, all_day_zone: str | None) -> Override:
    """``current`` with what ``patch`` gives (merge semantics: a field left out stays; null texts are the series').

    ``all_day_zone``: for an all-day series, the calendar's zone (None for a timed series).

    Raises:
        ValidationFailed: one time given alone does not make an interval with the other.
    """
    given = patch.model_fields_set
    start = patch.date_start if "date_start" in given and patch.date_start else current.start
    end = patch.date_end if "date_end" in given and patch.date_end else current.end
    if {"date_start", "date_end"} & given and ("date_start" not in given or "date_end" not in given):
        try:
            check_interval(start, end)
        except FieldValueError as exc:
            raise ValidationFailed([FieldError(exc.field, str(exc))]) from exc
    texts = {k: getattr(patch, k) if k in given else getattr(current, k) for k in _TEXTS}
    cancelled = current.cancelled if patch.cancelled is None else patch.cancelled
    timed = current.timed
    if all_day_zone is not None and {"date_start", "date_end"} & given:
        timed = not on_midnights(start, end, all_day_zone)
    return Override(current.recurrence_id, start, end, cancelled, **texts, timed=timed)


def changed_fields(before: Override, after: Override) -> tuple[str, ...]:
    """The fields (:data:`CHANGEABLE`) whose value ``after`` changed."""
    names = {"date_start": "start", "date_end": "end"}
    return tuple(f for f in CHANGEABLE if getattr(before, names.get(f, f)) != getattr(after, names.get(f, f)))


@dataclass(frozen=True)
class SeriesTexts:
    """A series' own title, notes and place (shown text): an override's own text equal to it is none of its own."""

    name: str | None
    description: str | None
    location: str | None


def occurrence_changes(
    before: tuple[Series, SeriesTexts], after: tuple[Series, SeriesTexts], duration: timedelta
) -> list[tuple[Override, Override]]:
    """The occurrences that a new version of a series (``after``; ``before`` the stored one, each with its own
    texts) changes one by one, as (occurrence before, occurrence after) pairs by original start: an override
    added, changed or removed (the occurrence back at its original time), an EXDATE added or removed.

    Both versions must have the same rule, RDATEs, zone, first occurrence and ``duration`` (a change of those is a
    change of the series, not of its occurrences). An occurrence an EXDATE removes keeps the times and texts it
    had (``cancelled`` is what changed, as a REST cancellation's); one an EXDATE no longer removes comes back
    from being cancelled where it now stands. An override's own texts that say what its series says (a client
    copies SUMMARY into every override it writes) are none of its own, so a client writing back what a REST change
    wrote changes nothing.
    """
    old_removed, new_removed = _removed(before[0]), _removed(after[0])
    old_overrides, new_overrides = _overridden(before[0]), _overridden(after[0])
    pairs = []
    for rid in sorted(old_overrides.keys() | new_overrides.keys() | old_removed | new_removed):
        if rid in old_removed and rid in new_removed:
            continue
        old = _occurrence(old_overrides.get(rid), before[1], rid, duration)
        new = _occurrence(new_overrides.get(rid), after[1], rid, duration)
        if rid in new_removed:
            new = replace(old, cancelled=True)
        elif rid in old_removed:
            old = replace(new, cancelled=True)
        if old != new:
            pairs.append((old, new))
    return pairs


def _removed(series: Series) -> set[datetime]:
    return {d.astimezone(UTC) for d in series.exdates}


def _overridden(series: Series) -> dict[datetime, Override]:
    return {o.recurrence_id.astimezone(UTC): o for o in series.overrides}


def _occurrence(override: Override | None, texts: SeriesTexts, rid: datetime, duration: timedelta) -> Override:
    """The occurrence ``rid`` of a version of the series: its override (own texts only where they differ from the
    series' ``texts``), else unchanged at its original time."""
    if override is None:
        return Override(rid, rid, rid + duration)
    return replace(
        override,
        recurrence_id=rid,
        name=None if override.name == texts.name else override.name,
        description=None if override.description == texts.description else override.description,
        location=None if override.location == texts.location else override.location,
    )
