"""The pages' German catalogue covers every string of the pages, and its compiled .mo is current;
the message templates exist in both languages with the same fields, and none names the appointment."""

from __future__ import annotations

import io
import string
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from caldav_bridge.selfbooking.templates import LOCALES, TEMPLATES

ROOT = Path(__file__).resolve().parents[2]
DE = ROOT / "feeds" / "translations" / "de" / "LC_MESSAGES"


def _page_strings() -> set[str]:
    method_map = [("feeds/booking_page.py", "python"), ("feeds/templates/booking/**.html", "jinja2")]
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(str(ROOT), method_map=method_map):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_page_string_is_translated_and_the_mo_is_current() -> None:
    with (DE / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="de")
    translated = {m.id: m.string for m in catalog if m.id}
    strings = _page_strings()
    assert len(strings) > 40
    assert strings == set(translated), strings ^ set(translated)
    assert all(translated.values()), [k for k, v in translated.items() if not v]
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    with (DE / "messages.mo").open("rb") as handle:
        shipped = read_mo(handle)
    assert {m.id: m.string for m in shipped if m.id} == translated, "run pybabel compile -d feeds/translations"


def test_message_templates_match_across_languages_and_say_nothing_clinical() -> None:
    kinds = set(TEMPLATES["en"])
    assert kinds == {"confirmation", "rescheduled", "cancelled", "reminder"}
    for locale in LOCALES:
        assert set(TEMPLATES[locale]) == kinds
        for kind, (subject, body) in TEMPLATES[locale].items():
            fields = {f for _, f, _, _ in string.Formatter().parse(subject + body) if f}
            english = {f for _, f, _, _ in string.Formatter().parse("".join(TEMPLATES["en"][kind])) if f}
            assert fields == english, (locale, kind)
            assert fields <= {"first_name", "date", "time", "zone", "company", "company_phone", "manage_url"}
            lowered = (subject + body).lower()
            for word in ("initial", "consult", "beratung", "hearing", "hör", "audiogram", "fitting", "setup"):
                assert word not in lowered, (locale, kind, word)
