"""Whether two iCalendar texts read the same to icalendar: equal up to what its parse does not see.

A CalDAV PUT's body is parsed by the pre-parse check (:mod:`caldav_bridge.dav.validate`); the store then reads the
text Radicale stores, which is vobject's re-serialisation of that body: properties and parameters reordered, lines
folded anew, parameter values unquoted (``CN="Jane Doe"`` → ``CN=Jane Doe``). When :func:`same_content` says
the two are the same, the body's parse stands for the stored text's (:func:`~caldav_bridge.converters.ical_parse.
read_vevents`), and the text is parsed once.

It only ever errs towards "not the same" (the caller then parses the stored text). Two texts are the same when,
after icalendar's own unfolding and line split, they hold the same components in the same order, each with the same
property lines in the same order per property name, where a line may differ only by the order of its parameters
(of different names) and by a quoted parameter value that needs no quotes. Anything Radicale or vobject changed
beyond that (control characters removed, Evolution's EXDATE dates turned into date-times, a DURATION dropped, a
DTSTAMP added, escapes rewritten, a TZID renamed, a VTIMEZONE's observances reordered) makes them differ; blank
lines, which Radicale drops, icalendar skips too.
"""

from __future__ import annotations

import re

__all__ = ["same_content"]

#: icalendar's unfolding (``icalendar.parser``): a line break, or several, followed by a space or a tab.
_FOLD = re.compile(r"(\r?\n)+[ \t]")
#: A content line's name and parameters, each value quoted or a plain run; anything else is compared as it is.
_PARAMS = re.compile(r'([A-Za-z0-9-]+)((?:;[A-Za-z0-9-]+=(?:"[^"]*"|[^";:,]*)(?:,(?:"[^"]*"|[^";:,]*))*)*):')
#: One parameter of the parameters :data:`_PARAMS` matched.
_PARAM = re.compile(r';([A-Za-z0-9-]+)=((?:"[^"]*"|[^";:,]*)(?:,(?:"[^"]*"|[^";:,]*))*)')
#: A quoted parameter value that reads the same unquoted: letters, digits, ``_./@+-`` and inner spaces (no ``;:,"``,
#: no RFC 6868 ``^``, not empty, no space at either end).
_NEEDLESS_QUOTES = re.compile(r'"([A-Za-z0-9_./@+-](?:[A-Za-z0-9 _./@+-]*[A-Za-z0-9_./@+-])?)"')
#: Lines at most this many (the PUT's own bound is 2,000 content lines): longer texts are not compared.
MAX_LINES = 5000

#: A content line's name and what ends it (``;`` before parameters, ``:`` before the value).
_HEAD = re.compile(r"([^;:]*)([;:]?)")
#: A component: its BEGIN line, its property lines by name (in order), its components (in order).
_Component = tuple[str, dict[str, list[str]], list["_Component"]]


def _unquoted(quoted: re.Match[str]) -> str:
    return quoted.group(1)


def _with_params(line: str) -> str:
    """The line with its parameters in name order (stable) and needless quotes dropped (vobject writes both so)."""
    head = _PARAMS.match(line)
    if head is None:
        return line
    # icalendar reads names in any case: one name's parameters keep their order, whatever case each is written in
    params = sorted(_PARAM.findall(head.group(2)), key=lambda p: p[0].upper())
    written = "".join(f";{name}={_NEEDLESS_QUOTES.sub(_unquoted, value)}" for name, value in params)
    return head.group(1) + written + line[head.end() - 1 :]


def _tree(text: str) -> _Component | None:
    """The text's components (None: not one well-nested VCALENDAR within :data:`MAX_LINES`)."""
    lines = _FOLD.sub("", text).splitlines()
    if len(lines) > MAX_LINES:
        return None
    stack: list[_Component] = []
    done: list[_Component] = []
    for raw in lines:
        if not raw:
            continue
        head = _HEAD.match(raw)
        assert head is not None  # it matches any line
        name, end = head.groups()
        if name in ("BEGIN", "END") and end == ":":
            if name == "BEGIN":
                stack.append((raw, {}, []))
                continue
            if not stack or stack[-1][0][6:] != raw[4:]:
                return None
            closed = stack.pop()
            (stack[-1][2] if stack else done).append(closed)
        elif not stack or name.upper() in ("BEGIN", "END"):
            return None  # a line outside any component, or a component boundary written unusually
        else:
            # by the name as icalendar reads it (upper-cased): one property's lines keep their order in any case
            stack[-1][1].setdefault(name.upper(), []).append(_with_params(raw) if end == ";" else raw)
    return done[0] if len(done) == 1 and not stack else None


def same_content(a: str, b: str) -> bool:
    """Whether icalendar reads ``a`` and ``b`` alike (see the module's docstring); False when unsure."""
    if a == b:
        return True
    tree = _tree(a)
    return tree is not None and tree == _tree(b)
