"""icalendar's parse of a text, with parameter values read as RFC 5545 writes them (backslash is a plain character).

RFC 5545 §3.1 has no escapes in parameter values: a value holding ``;``, ``:`` or ``,`` is DQUOTE-quoted, a backslash
is an ordinary character, and RFC 6868 encodes what quoting cannot hold (``^'`` a DQUOTE, ``^n`` a line break,
``^^`` a caret). icalendar 7 writes them so, but reads a parameter value as if it were TEXT: ``\\\\``, ``\\,``,
``\\;`` and ``\\:`` lose their backslash, and outside quotes a backslash hides the ``;`` or ``:`` after it, so the
next parameter, or the property's value, ends up in the one before. A guest ``O'Brien \\\\ Sons`` (CN) came back as
``O'Brien \\ Sons`` from every channel icalendar read (a CalDAV PUT, a re-rendered item, an ``.ics`` import), and a
name ending in a backslash swallowed the next parameter (vobject, Radicale's parser, reads them as written).

:func:`parse_calendar` hands icalendar the text with every parameter value that holds a backslash quoted and its
backslashes doubled: what icalendar then unescapes is exactly the value as written. Texts without a backslash in any
parameter go to icalendar unchanged (the same string). Every parse of client or stored text in the service goes
through here.
"""

from __future__ import annotations

import re
from typing import Any

import icalendar
from icalendar.parser_tools import to_unicode

__all__ = ["literal_parameter_backslashes", "parse_calendar", "parse_component"]

#: A property line with parameters (its name, then ``;``) and the lines folded into it (icalendar's unfolding: line
#: breaks followed by a space or a tab). Continuation lines start with a blank, so only a property's first line matches.
_PARAMETER_LINE = re.compile(r"^[A-Za-z0-9-]+;[^\r\n]*(?:(?:\r?\n)+[ \t][^\r\n]*)*", re.MULTILINE)
_FOLD = re.compile(r"(?:\r?\n)+[ \t]")


def parse_calendar(text: str | bytes) -> icalendar.Calendar:
    """``icalendar.Calendar.from_ical`` of ``text``, parameter values read as written (raises as icalendar does)."""
    return icalendar.Calendar.from_ical(literal_parameter_backslashes(text))


def parse_component(text: str | bytes, kind: type[Any] = icalendar.Event) -> Any:
    """``kind.from_ical`` of ``text`` (one component, e.g. a VEVENT icalendar wrote), parameter values as written."""
    return kind.from_ical(literal_parameter_backslashes(text))


def literal_parameter_backslashes(text: str | bytes) -> str | bytes:
    """``text`` with each parameter value holding a backslash quoted and its backslashes doubled (those lines unfolded),
    so that icalendar reads it as RFC 5545 says; ``text`` itself when none holds one. Only the lines of properties with
    parameters are looked at (a long DESCRIPTION has none: it costs one regular-expression scan)."""
    if isinstance(text, bytes):
        if b"\\" not in text:
            return text
        decoded = to_unicode(text)
    else:
        if "\\" not in text:
            return text
        decoded = text
    parts: list[str] = []
    done = 0
    for match in _PARAMETER_LINE.finditer(decoded):
        if "\\" not in match.group():
            continue
        line = _FOLD.sub("", match.group())
        written = _line(line)
        if written is not line:
            parts += [decoded[done : match.start()], written]
            done = match.end()
    return "".join([*parts, decoded[done:]]) if parts else text


def _line(line: str) -> str:
    """The content line with its parameters rewritten (the same object when it has no backslash in them)."""
    separator = _value_start(line)
    head = line if separator < 0 else line[:separator]
    semicolon = head.find(";")
    if semicolon < 0 or "\\" not in head[semicolon:]:
        return line
    params = _split(head[semicolon + 1 :], ";")
    return head[: semicolon + 1] + ";".join(_param(p) for p in params) + ("" if separator < 0 else line[separator:])


def _value_start(line: str) -> int:
    """The index of the ``:`` before the value: the first outside quotes (RFC 5545 §3.1); -1 if none."""
    quoted = False
    for i, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == ":" and not quoted:
            return i
    return -1


def _split(text: str, separator: str) -> list[str]:
    """``text`` split at each ``separator`` outside quotes."""
    parts: list[str] = []
    quoted = False
    start = 0
    for i, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _param(param: str) -> str:
    name, equals, values = param.partition("=")
    if not equals or "\\" not in values:
        return param
    return name + "=" + ",".join(_value(v) for v in _split(values, ","))


def _value(value: str) -> str:
    if "\\" not in value:
        return value
    inner = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if '"' in inner:  # not a parameter value RFC 5545 allows: left to icalendar as it is
        return value
    return '"' + inner.replace("\\", "\\\\") + '"'
