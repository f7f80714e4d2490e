"""One occurrence of a series changed (``PATCH /appointments/{id}/occurrences/{recurrence_id}``): the new
override from the current one and the patch, and what the change gave it (for the appointment's history).

An occurrence of an all-day series stays all-day when it is moved to midnights of the calendar's zone (other
dates), and is given times of its own (``Override.timed``) by times that are not midnights there; a change that
gives no times leaves it as it is.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from caldav_bridge.errors import FieldError, FieldValueError, ValidationFailed
from caldav_bridge.model.appointment import check_interval
from caldav_bridge.model.requests import OccurrencePatch
from caldav_bridge.model.series import Override

__all__ = ["CHANGEABLE", "changed_fields", "changed_occurrence"]

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
        timed = not (_is_midnight(start, all_day_zone) and _is_midnight(end, all_day_zone))
    return Override(current.recurrence_id, start, end, cancelled, **texts, timed=timed)


def _is_midnight(instant: datetime, zone: str) -> bool:
    return instant.astimezone(ZoneInfo(zone)).time() == time()


def changed_fields(before: Override, after: Override) -> tuple[str, ...]:
    """The fields (:data:`CHANGEABLE`) whose value ``after`` changed."""
    names = {"date_start": "start", "date_end": "end"}
    return tuple(f for f in CHANGEABLE if getattr(before, names.get(f, f)) != getattr(after, names.get(f, f)))
