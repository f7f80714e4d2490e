"""Appointment formats ↔ the canonical model, behind one interface.

Each format is one pure module (no I/O, no logging, no clock) with ``to_canonical(payload, options)``,
``from_canonical(appointment, options)``, a frozen ``…Options`` dataclass of its tables, and a
``CONVERTER`` that this registry lists::

    converter = get_converter("blueprint")
    item = converter.to_canonical(payload, BlueprintOptions(include_patient_details=True))
    appointment = item.to_appointment(id=uuid4(), calendar=CalendarRef(id="cal-1"), now=utcnow())
    payload = converter.from_canonical(appointment)

Tables, defaults and what each format cannot carry: ``docs/converters.md``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from caldav_bridge.converters import blueprint, calendly, canonical, ical_items, onsched, system_formats, timekit
from caldav_bridge.converters.base import CalendarHint, ConvertedAppointment, Converter, FormatConverter
from caldav_bridge.converters.blueprint import BlueprintOptions
from caldav_bridge.converters.calendly import CalendlyOptions
from caldav_bridge.converters.canonical import CanonicalOptions
from caldav_bridge.converters.errors import ConversionError, UnknownFormatError
from caldav_bridge.converters.ical_items import IcalOptions
from caldav_bridge.converters.ols import OlsOptions
from caldav_bridge.converters.onsched import OnschedOptions
from caldav_bridge.converters.salesforce import SalesforceMapping
from caldav_bridge.converters.timekit import TimekitOptions

__all__ = [
    "BlueprintOptions",
    "CalendarHint",
    "CalendlyOptions",
    "CanonicalOptions",
    "ConversionError",
    "ConvertedAppointment",
    "Converter",
    "FormatConverter",
    "IcalOptions",
    "OlsOptions",
    "OnschedOptions",
    "SalesforceMapping",
    "TimekitOptions",
    "UnknownFormatError",
    "convert_all",
    "converter_names",
    "get_converter",
]

_CONVERTERS: dict[str, Converter] = {
    c.name: c
    for c in (
        canonical.CONVERTER,
        blueprint.CONVERTER,
        calendly.CONVERTER,
        timekit.CONVERTER,
        onsched.CONVERTER,
        ical_items.CONVERTER,
        system_formats.OLS,
        system_formats.SALESFORCE,
    )
}


def converter_names() -> list[str]:
    """The registered format names, sorted."""
    return sorted(_CONVERTERS)


def get_converter(name: str) -> Converter:
    """The converter registered as ``name``. Raises :class:`UnknownFormatError`."""
    try:
        return _CONVERTERS[name]
    except KeyError:
        raise UnknownFormatError(name, converter_names()) from None


def convert_all(
    name: str, payloads: Iterable[object], options: Any = None
) -> list[ConvertedAppointment | ConversionError]:
    """Convert every item on its own: one result per item, in order; a bad item does not stop the rest.

    Whether one error fails the whole batch (``atomic``) is the caller's decision.
    """
    converter = get_converter(name)
    results: list[ConvertedAppointment | ConversionError] = []
    for payload in payloads:
        try:
            results.append(converter.to_canonical(payload, options))
        except ConversionError as exc:
            results.append(exc)
    return results
