"""The customer messages, in English and German: the minimum necessary and nothing more.

Each holds only the customer's first name, the date and time (in the customer's zone and locale),
the company's name and phone, and the manage link: never the nature of the appointment, notes, the
consultant's name or anything clinical. ``docs/self-booking.md`` shows them.
"""

from __future__ import annotations

__all__ = ["LOCALES", "TEMPLATES"]

LOCALES = ("en", "de")

#: ``TEMPLATES[locale][kind] = (subject, body)``; fields: first_name, date, time, zone, company,
#: company_phone, manage_url (empty for a cancellation: the link no longer works).
TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "en": {
        "confirmation": (
            "Your appointment with {company} on {date}",
            "Hello {first_name},\n\n"
            "your appointment is booked for {date} at {time} ({zone}).\n"
            "The invitation is attached; add it to your calendar.\n\n"
            "To reschedule or cancel: {manage_url}\n\n"
            "Questions? Call {company} at {company_phone}.\n\n{company}\n",
        ),
        "rescheduled": (
            "Your appointment with {company} has moved to {date}",
            "Hello {first_name},\n\n"
            "your appointment is now on {date} at {time} ({zone}).\n"
            "The attached update replaces the earlier invitation in your calendar.\n\n"
            "To reschedule or cancel: {manage_url}\n\n"
            "Questions? Call {company} at {company_phone}.\n\n{company}\n",
        ),
        "cancelled": (
            "Your appointment with {company} on {date} is cancelled",
            "Hello {first_name},\n\n"
            "your appointment on {date} at {time} ({zone}) is cancelled.\n"
            "The attachment removes it from your calendar.\n\n"
            "To book a new one, call {company} at {company_phone}.\n\n{company}\n",
        ),
        "reminder": (
            "Reminder: your appointment with {company} on {date}",
            "Hello {first_name},\n\n"
            "a reminder of your appointment on {date} at {time} ({zone}).\n\n"
            "To reschedule or cancel: {manage_url}\n\n"
            "Questions? Call {company} at {company_phone}.\n\n{company}\n",
        ),
    },
    "de": {
        "confirmation": (
            "Ihr Termin bei {company} am {date}",
            "Hallo {first_name},\n\n"
            "Ihr Termin ist gebucht: {date} um {time} ({zone}).\n"
            "Die Einladung ist angehängt; übernehmen Sie sie in Ihren Kalender.\n\n"
            "Verschieben oder absagen: {manage_url}\n\n"
            "Fragen? Rufen Sie {company} an: {company_phone}.\n\n{company}\n",
        ),
        "rescheduled": (
            "Ihr Termin bei {company} wurde auf den {date} verschoben",
            "Hallo {first_name},\n\n"
            "Ihr Termin ist jetzt am {date} um {time} ({zone}).\n"
            "Die angehängte Aktualisierung ersetzt die frühere Einladung in Ihrem Kalender.\n\n"
            "Verschieben oder absagen: {manage_url}\n\n"
            "Fragen? Rufen Sie {company} an: {company_phone}.\n\n{company}\n",
        ),
        "cancelled": (
            "Ihr Termin bei {company} am {date} ist abgesagt",
            "Hallo {first_name},\n\n"
            "Ihr Termin am {date} um {time} ({zone}) ist abgesagt.\n"
            "Der Anhang entfernt ihn aus Ihrem Kalender.\n\n"
            "Für einen neuen Termin rufen Sie {company} an: {company_phone}.\n\n{company}\n",
        ),
        "reminder": (
            "Erinnerung: Ihr Termin bei {company} am {date}",
            "Hallo {first_name},\n\n"
            "wir erinnern Sie an Ihren Termin am {date} um {time} ({zone}).\n\n"
            "Verschieben oder absagen: {manage_url}\n\n"
            "Fragen? Rufen Sie {company} an: {company_phone}.\n\n{company}\n",
        ),
    },
}
