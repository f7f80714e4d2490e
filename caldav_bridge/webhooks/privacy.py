"""How much of an appointment a subscriber receives (per subscription).

``minimal`` (the default): no patient names or notes leave: the appointment's ``name`` and
``description`` are null, guests keep only their id and time zone, ``meta`` only its type and
Salesforce ids. ``full``: the appointment as the API shows it.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

__all__ = ["DEFAULT_PRIVACY", "PRIVACY_LEVELS", "Privacy", "redact"]

Privacy = Literal["minimal", "full"]
PRIVACY_LEVELS: tuple[str, ...] = ("minimal", "full")
DEFAULT_PRIVACY: Privacy = "minimal"


def _minimal(appointment: dict[str, Any]) -> dict[str, Any]:
    appointment["name"] = None
    appointment["description"] = None
    appointment["guests"] = [
        {"id": g.get("id"), "timezone": g.get("timezone")}
        for g in appointment.get("guests") or []
        if isinstance(g, dict)
    ]
    meta = appointment.get("meta")
    if isinstance(meta, dict):
        appointment["meta"] = {k: meta[k] for k in ("type", "salesforce") if k in meta}
    return appointment


def redact(payload: dict[str, Any], privacy: str) -> dict[str, Any]:
    """``payload`` (an event as queued) as a subscriber at ``privacy`` receives it (unknown: minimal)."""
    if privacy == "full":
        return payload
    result = copy.deepcopy(payload)
    data = result.get("data")
    if isinstance(data, dict) and isinstance(data.get("appointment"), dict):
        data["appointment"] = _minimal(data["appointment"])
    return result
