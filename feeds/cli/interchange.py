"""``import`` and ``export``: appointments in other systems' formats, from and to files.

``appointment-service import FORMAT FILE`` reads FILE (``-``: standard input) as a JSON array, one JSON
object, or JSON Lines (one object per line), *streaming* it: an array is parsed incrementally (``ijson``),
lines one at a time, and the items are written in chunks, each committed as it is done. So a file of any
size imports in flat memory (``--atomic`` and ``--dry-run`` hold one result per item until the end).
Progress goes to standard error, counted in items: a bar on a terminal (rich; an item's error is printed
above it), a line every ``--progress-every`` seconds otherwise.
Exit status: 0 when every item imported, 1 when any item failed, 2 when the command could not run.

The parser needs none of the libraries a command uses: they are imported when the command runs.

``appointment-service export FORMAT`` writes the appointments matching the filters as a JSON array
(``--jsonl``: JSON Lines), page by page, to standard output or ``--output FILE``.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from feeds.cli.bootstrap import runtime_of, validated
from feeds.cli.json_depth import DepthGuard, TooDeep
from feeds.cli.output import fail, output_file
from feeds.cli.progress import ItemProgress

if TYPE_CHECKING:
    from caldav_bridge.services import interchange as service

__all__ = ["InputError", "read_items", "register"]

_WHITESPACE = b" \t\r\n\xef\xbb\xbf"  # and a UTF-8 byte order mark
FORMAT_HELP = "an interchange format, e.g. canonical or blueprint (an unknown one is answered with the list)"


def register(commands: Any) -> None:
    p = commands.add_parser(
        "import",
        help="import appointments of another system from a file (upsert by the source's id)",
        description="Import appointments in FORMAT from FILE: a JSON array, one JSON object, or JSON Lines "
        "(with the ical format also a whole .ics file); "
        "'-' reads standard input. Items are upserted by the source system's id: importing again updates. "
        "Exit status 1 if any item failed, 2 if the import could not run.",
    )
    p.add_argument("format", metavar="FORMAT", help=FORMAT_HELP)
    p.add_argument("file", metavar="FILE", help="the file to read; '-' for standard input")
    p.add_argument("--dry-run", action="store_true", help="validate and report what would happen; write nothing")
    p.add_argument("--atomic", action="store_true", help="all or nothing: if any item fails, write nothing")
    p.add_argument("--calendar", metavar="ID", help="put new appointments on this calendar (else: each item's own)")
    p.add_argument("--chunk-size", type=int, help="items per transaction (default 1000)")
    p.add_argument(
        "--progress-every",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="when standard error is not a terminal, a progress line this often (default 10)",
    )
    p.add_argument("--json", action="store_true", help="print every item's result and the summary as JSON")
    p.set_defaults(handler=import_command)

    p = commands.add_parser(
        "export",
        help="export appointments in another system's format",
        description="Write the appointments matching the filters in FORMAT, as a JSON array (or JSON Lines). "
        "Appointments the format cannot carry are listed on standard error (exit status 1).",
    )
    p.add_argument("format", metavar="FORMAT", help=FORMAT_HELP)
    p.add_argument("--calendar", help="calendar id")
    p.add_argument("--from", dest="start", help="ISO 8601 time with zone; appointments ending after it")
    p.add_argument("--to", dest="end", help="ISO 8601 time with zone; appointments starting before it")
    p.add_argument("--updated-since", help="ISO 8601 time with zone")
    p.add_argument("--status", help="INITIAL, RESERVED, BOOKED, CANCELLED or RESCHEDULED")
    p.add_argument("--type", help="INITIAL, FOLLOW_UP or TECH_SETUP")
    p.add_argument("--kind", help="appointment (default: customer appointments), busy (busy blocks) or all")
    p.add_argument("--guest", help="guest (customer) id")
    p.add_argument("--opportunity-gid")
    p.add_argument("--customer-gid")
    p.add_argument("--appointment-gid")
    p.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of standard output")
    p.add_argument("--jsonl", action="store_true", help="JSON Lines (one object per line) instead of an array")
    p.add_argument("--ics", action="store_true", help="with ical and --calendar: the calendar as one .ics file")
    p.add_argument("--json", action="store_true", help="print the summary (on standard error) as JSON")
    p.set_defaults(handler=export_command)


def _names() -> list[str]:
    from caldav_bridge.converters import converter_names

    return converter_names()


# --------------------------------------------------------------------------- reading


class InputError(Exception):
    """The input cannot be read as JSON at all (as opposed to one bad item)."""


class _CountingReader(io.RawIOBase):
    """A binary stream: ``prefix`` (bytes already read to sniff the format), then ``stream``; counts bytes."""

    def __init__(self, prefix: bytes, stream: IO[bytes]) -> None:
        self._prefix = prefix
        self._stream = stream
        self.consumed = 0
        #: Set for JSON: every byte read passes it (a nesting limit, checked before ijson builds anything).
        self.guard: DepthGuard | None = None

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._prefix:
            if size is None or size < 0:
                data, self._prefix = self._prefix + self._stream.read(), b""
            else:
                data, self._prefix = self._prefix[:size], self._prefix[size:]
        else:
            data = self._stream.read(size)
        self.consumed += len(data)
        if self.guard is not None:
            try:
                self.guard.feed(data)
            except TooDeep as exc:
                raise InputError(str(exc)) from None
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def read_items(stream: IO[bytes], fmt: str | None = None) -> tuple[Iterator[object], _CountingReader]:
    """The items of ``stream`` (a JSON array, one object, or JSON Lines), read lazily, and a reader
    whose ``consumed`` says how far it got. A JSON Lines line that is not JSON is a
    :class:`service.MalformedItem` (that item's error); an array or object that is not JSON raises
    :class:`InputError` when the reading gets there."""
    head = b""
    while True:
        block = stream.read(1)
        if not block:
            reader = _CountingReader(head, stream)
            return iter(()), reader
        head += block
        if block not in _WHITESPACE:
            break
    reader = _CountingReader(head, stream)
    if block == b"[":
        reader.guard = DepthGuard()  # before ijson, whose cost grows with the square of the nesting
        return _array_items(reader), reader
    if block == b"{":
        return _object_or_lines(reader), reader
    if block == b"B" and fmt == "ical":
        return _calendar_items(reader), reader
    if block == b"B":
        raise InputError("the input looks like an iCalendar file: import it with the ical format")
    raise InputError("the input is not JSON: expected an array, an object or JSON Lines")


def _calendar_items(reader: _CountingReader) -> Iterator[object]:
    """A whole .ics file: every event an item, a recurring one each occurrence from a year ago to a year ahead."""
    from caldav_bridge.clock import utcnow
    from caldav_bridge.converters import ConversionError
    from caldav_bridge.converters.ical_items import IcalOptions, read_calendar

    now = utcnow()
    window = IcalOptions(window_start=now - timedelta(days=365), window_end=now + timedelta(days=365))
    try:
        items = read_calendar(reader.read(), window)
    except ConversionError as exc:
        raise InputError("; ".join(e.message for e in exc.errors)) from None
    yield from items


def _array_items(reader: _CountingReader) -> Iterator[object]:
    import ijson

    count = 0
    try:
        for item in ijson.items(reader, "item", use_float=True):
            count += 1
            yield item
    except ijson.JSONError as exc:
        raise InputError(f"malformed JSON after item {count}: {_parser_reason(exc)}") from None


def _parser_reason(exc: Exception) -> str:
    """The first line of the parser's message: yajl's comes as bytes, with the input and a caret on further lines."""
    detail = exc.args[0] if exc.args else ""
    text = (detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)).strip()
    return text.splitlines()[0].rstrip(".") if text else type(exc).__name__


def _object_or_lines(reader: _CountingReader) -> Iterator[object]:
    from caldav_bridge.services import interchange as service

    buffered = io.BufferedReader(reader, buffer_size=1 << 16)
    first = buffered.readline()
    try:
        first_item = json.loads(first)
    except (ValueError, RecursionError):  # a pretty-printed object: one item
        rest = buffered.read()
        try:
            yield json.loads(first + rest)
        except (ValueError, RecursionError) as exc:
            raise InputError(f"malformed JSON: {exc}") from None
        return
    yield first_item
    for number, line in enumerate(buffered, start=2):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except (ValueError, RecursionError) as exc:
            yield service.MalformedItem(f"line {number} is not JSON: {exc}")


# --------------------------------------------------------------------------- import


def import_command(args: argparse.Namespace) -> int:
    from caldav_bridge.services import interchange as service

    if args.format not in _names():
        return fail(service.UnknownFormat(args.format).detail, code=2)
    if args.chunk_size is not None and args.chunk_size < 1:
        return fail("--chunk-size: must be at least 1", code=2)
    rt = runtime_of(args)
    try:
        with ExitStack() as stack:
            if args.file == "-":
                stream: IO[bytes] = sys.stdin.buffer
            else:
                try:
                    stream = stack.enter_context(Path(args.file).open("rb"))
                except OSError as exc:
                    return fail(f"cannot read {args.file}: {exc.strerror}", code=2)
            try:
                items, _reader = read_items(stream, args.format)
            except InputError as exc:
                return fail(f"{args.file}: {exc}", code=2)
            return _import_items(args, rt, items)
    except service.UnknownFormat as exc:
        return fail(exc.detail, code=2)


def _import_items(args: argparse.Namespace, rt: Any, items: Iterator[object]) -> int:
    from caldav_bridge.services import interchange as service
    from caldav_bridge.services.actor import system_actor

    progress = ItemProgress(f"import {args.format}", every=args.progress_every)
    results = service.import_stream(
        rt.uow(),
        system_actor("cli"),
        args.format,
        items,
        options=rt.converter_options.get(args.format),
        dry_run=args.dry_run,
        atomic=args.atomic,
        calendar_id=args.calendar,
        chunk_size=args.chunk_size or service.DEFAULT_CHUNK_SIZE,
        progress=lambda done, failed: progress.update(done, failed=failed),
    )
    summary = service.ImportSummary(dry_run=args.dry_run, atomic=args.atomic)
    out = sys.stdout
    if args.json:
        out.write('{"results": [')
    with progress:
        try:
            for result in results:
                summary.add(result)
                if args.json:
                    out.write(("\n  " if summary.total == 1 else ",\n  ") + json.dumps(result.as_dict()))
                elif result.status == "error":
                    progress.message(_error_line(result), stream=out)
                progress.update(summary.total, failed=summary.error)
        except InputError as exc:
            if args.json:
                out.write("\n]}\n")
            progress.abandon()
            return fail(f"{args.file}: {exc}; {_written_before(args, summary)}", code=2)
    if args.json:
        out.write(("\n" if summary.total else "") + '], "summary": ' + json.dumps(summary.as_dict()) + "}\n")
    else:
        out.write(_summary_line(args.format, summary) + "\n")
    return 1 if summary.failed else 0


def _written_before(args: argparse.Namespace, summary: service.ImportSummary) -> str:
    """What an import refused part-way through kept: with ``--atomic`` or ``--dry-run`` nothing; else the chunks
    committed before the bad input (their items reported above), never the items read since."""
    if args.atomic or args.dry_run or not summary.total:
        return "nothing was written"
    return f"the first {summary.total} items were imported (reported above), none from item {summary.total} on"


def _error_line(result: service.ItemResult) -> str:
    source = f" ({result.source_id})" if result.source_id else ""
    problems = "; ".join(f"{e.field}: {e.message}" for e in result.errors)
    return f"item {result.index}{source}: error: {problems}"


def _summary_line(fmt: str, summary: service.ImportSummary) -> str:
    line = (
        f"{fmt}: {summary.total} items: {summary.created} created, {summary.updated} updated, "
        f"{summary.unchanged} unchanged, {summary.error} failed"
    )
    if summary.skipped:
        line += f", {summary.skipped} skipped"
    if summary.dry_run:
        line += " (dry run: nothing was written)"
    elif summary.atomic and summary.failed:
        line += " (atomic: nothing was written)"
    return line


# --------------------------------------------------------------------------- export


EXPORT_OPTIONS = {
    "calendar_id": "--calendar",
    "guest_id": "--guest",
    "opportunity_gid": "--opportunity-gid",
    "customer_gid": "--customer-gid",
    "appointment_gid": "--appointment-gid",
    "type": "--type",
    "status": "--status",
    "kind": "--kind",
    "from": "--from",
    "to": "--to",
    "updated_since": "--updated-since",
}


def export_command(args: argparse.Namespace) -> int:
    from caldav_bridge.model.queries import AppointmentFilters
    from caldav_bridge.services import interchange as service

    if args.format not in _names():
        return fail(service.UnknownFormat(args.format).detail, code=2)
    filters = validated(
        AppointmentFilters,
        {
            "calendar_id": args.calendar,
            "guest_id": args.guest,
            "opportunity_gid": args.opportunity_gid,
            "customer_gid": args.customer_gid,
            "appointment_gid": args.appointment_gid,
            "type": args.type,
            "status": args.status,
            "kind": args.kind or "appointment",
            "from": args.start,
            "to": args.end,
            "updated_since": args.updated_since,
        },
        EXPORT_OPTIONS,
    )
    if args.ics and (args.format != "ical" or not args.calendar):
        return fail("--ics: needs the ical format and --calendar", code=2)
    rt = runtime_of(args)
    try:
        return _export_ics(args, rt, filters) if args.ics else _export(args, rt, filters)
    except service.UnknownFormat as exc:
        return fail(exc.detail, code=2)


def _export_ics(args: argparse.Namespace, rt: Any, filters: Any) -> int:
    from caldav_bridge.errors import NotFound
    from caldav_bridge.services.actor import system_actor
    from caldav_bridge.services.ical_export import calendar_ics

    try:
        text = calendar_ics(rt.uow(), system_actor("cli"), args.calendar, start=filters.start, end=filters.end)
    except NotFound as exc:
        return fail(exc.detail, code=2)
    if args.output:
        with output_file(args.output, binary=True) as out:
            out.write(text)
    else:
        sys.stdout.buffer.write(text)
        sys.stdout.flush()
    return 0


def _export(args: argparse.Namespace, rt: Any, filters: Any) -> int:
    from caldav_bridge.services import interchange as service
    from caldav_bridge.services.actor import system_actor

    entries = service.export_stream(
        rt.uow(), system_actor("cli"), args.format, filters, options=rt.converter_options.get(args.format)
    )
    written = failed = 0
    with ExitStack() as stack:
        out: IO[str] = stack.enter_context(output_file(args.output)) if args.output else sys.stdout
        if not args.jsonl:
            out.write("[")
        for entry in entries:
            if isinstance(entry, service.ExportError):
                failed += 1
                problems = "; ".join(f"{e.field}: {e.message}" for e in entry.errors)
                sys.stderr.write(f"appointment {entry.id}: cannot be written as {args.format}: {problems}\n")
                continue
            text = json.dumps(entry, ensure_ascii=False)
            if args.jsonl:
                out.write(text + "\n")
            else:
                out.write(("\n  " if written == 0 else ",\n  ") + text)
            written += 1
        if not args.jsonl:
            out.write(("\n" if written else "") + "]\n")
    summary = {"format": args.format, "exported": written, "failed": failed}
    if args.json:
        sys.stderr.write(json.dumps(summary) + "\n")
    else:
        sys.stderr.write(
            f"{args.format}: exported {written} appointments" + (f", {failed} failed" if failed else "") + "\n"
        )
    return 1 if failed else 0
