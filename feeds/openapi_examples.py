"""Descriptions and examples for the OpenAPI document (``/api/docs``), kept apart from the routes.

:func:`feeds.openapi.openapi_document` puts a schema's example (``examples``) and, where the model has no
docstring, its description into ``components.schemas``; each operation gets its description here and
examples derived from the schemas it sends and returns. Every example validates against its schema
(``tests/e2e/test_api_docs.py``), so a model that changes shape fails a test until its example follows.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "OPERATION_DESCRIPTIONS",
    "OPERATION_EXAMPLES",
    "PARAMETER_EXAMPLES",
    "SCHEMA_DESCRIPTIONS",
    "SCHEMA_EXAMPLES",
]

_APPOINTMENT_ID = "8b1a4f52-3c1e-4d7a-9a55-0f6d2b9e7c11"
_FOLLOW_UP_ID = "0f3c2d8e-9b7a-4c61-8e25-6a1b9d4e2f70"
_CALENDAR_ID = "c5d1e2f3-4a5b-4c6d-8e7f-901a2b3c4d5e"
_TEAM_ID = "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918"
_TOKEN_ID = "f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9"  # noqa: S105 (an id, not a secret)
_SF = {"appointment_gid": "a0B9E000002kLm3UAE", "opportunity_gid": "0069E00000HbsUrQAJ", "customer_gid": "0039E00001"}
_GUEST = {"id": "cust-4711", "first_name": "Jane", "last_name": "Doe", "timezone": "America/Chicago"}

APPOINTMENT: dict[str, Any] = {
    "calendar": {"id": _CALENDAR_ID, "name": "fitter.denver"},
    "created_at": "2026-11-20T09:12:44.120Z",
    "date_end": "2026-12-01T17:00:00.000Z",
    "date_start": "2026-12-01T16:00:00.000Z",
    "description": "First consultation; bring the hearing test results",
    "guests": [_GUEST],
    "id": _APPOINTMENT_ID,
    "meta": {"salesforce": _SF, "type": "INITIAL"},
    "name": "Initial consultation Jane Doe",
    "status": "BOOKED",
    "updated_at": "2026-11-21T14:03:10.500Z",
}
_FOLLOW_UP = {
    **APPOINTMENT,
    "id": _FOLLOW_UP_ID,
    "date_start": "2026-12-15T16:00:00.000Z",
    "date_end": "2026-12-15T16:30:00.000Z",
    "meta": {"salesforce": {**_SF, "appointment_gid": None}, "type": "FOLLOW_UP"},
    "name": "Follow-up Jane Doe",
    "status": "INITIAL",
}
_TECH_SETUP = {
    **APPOINTMENT,
    "id": "3d2c1b0a-9f8e-4d7c-8b6a-5f4e3d2c1b0a",
    "calendar": {"id": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", "name": "techsetup.berlin"},
    "date_start": "2026-11-29T15:00:00.000Z",
    "date_end": "2026-11-29T15:30:00.000Z",
    "meta": {"salesforce": {**_SF, "appointment_gid": None}, "type": "TECH_SETUP"},
    "name": "Tech setup call Jane Doe",
}
_CALENDAR = {
    "id": _CALENDAR_ID,
    "name": "fitter.denver",
    "kind": "fitter",
    "timezone": "America/Denver",
    "owner_user_id": "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
    "team_id": _TEAM_ID,
    "created_at": "2026-01-05T08:00:00.000Z",
    "updated_at": "2026-01-05T08:00:00.000Z",
}
_SLOT = {
    "date_start": "2026-12-03T16:00:00.000Z",
    "date_end": "2026-12-03T17:00:00.000Z",
    "calendar_id": _CALENDAR_ID,
    "start": "2026-12-03T09:00:00-07:00",
    "end": "2026-12-03T10:00:00-07:00",
    "start_utc": "2026-12-03T16:00:00.000Z",
    "end_utc": "2026-12-03T17:00:00.000Z",
}
_RULES = {
    "weekly_hours": {
        day: [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]
        for day in ("mon", "tue", "wed", "thu", "fri")
    },
    "breaks": {"fri": [{"start": "15:00", "end": "15:30"}]},
    "durations": {"INITIAL": 60, "FITTING": 90, "FOLLOW_UP": 30, "TECH_SETUP": 30},
    "buffer_before_minutes": 0,
    "buffer_after_minutes": 30,
    "min_notice_minutes": 240,
    "horizon_days": 60,
    "max_per_day": 6,
    "slot_step_minutes": 30,
}
_EXCEPTION = {"date": "2026-12-24", "hours": [{"start": "08:00", "end": "12:00"}], "reason": "Christmas Eve"}
_LINK = {
    "id": "b7c6d5e4-f3a2-4b1c-9d8e-7f6a5b4c3d2e",
    "kind": "team",
    "team_id": _TEAM_ID,
    "purpose": "INITIAL",
    "name": "Spring campaign",
    "salesforce": {"opportunity_gid": None, "customer_gid": None},
    "expires_at": "2027-03-31T22:00:00.000Z",
    "revoked_at": None,
    "created_at": "2026-11-02T10:00:00.000Z",
    "created_by": "dispatcher",
    "bookings": 12,
    "active": True,
}
_FEED_TOKEN = {
    "id": _TOKEN_ID,
    "calendar_id": _CALENDAR_ID,
    "name": "phone",
    "privacy": "minimal",
    "alarm_minutes": 30,
    "created_at": "2026-11-01T12:00:00.000Z",
    "revoked_at": None,
    "last_used_at": "2026-12-01T06:15:02.000Z",
}
_FEED_SECRET = "fst_Q2hhbmdlTWVGb3JSZWFsVXNlT25seU9uY2U"  # noqa: S105 (a made-up example)
_FEED_URLS = {
    "url": f"https://appointments.example.com/feeds/{_FEED_SECRET}.ics",
    "webcal": f"webcal://appointments.example.com/feeds/{_FEED_SECRET}.ics",
    "google": "https://calendar.google.com/calendar/r?cid=webcal%3A%2F%2Fappointments.example.com%2Ffeeds%2F…",
    "page": f"https://appointments.example.com/calendar/{_FEED_SECRET}",
}
_SUBSCRIPTION = {
    "id": "e4d3c2b1-a0f9-4e8d-9c7b-6a5f4e3d2c1b",
    "url": "https://crm.example.com/hooks/appointments",
    "events": ["appointment.created", "appointment.cancelled"],
    "description": "CRM timeline",
    "active": True,
    "created_at": "2026-10-01T09:00:00.000Z",
}
_ATTEMPT = {"at": "2026-12-01T16:00:02.000Z", "status": 200, "error": None, "duration_ms": 84}
_DELIVERY = {
    "id": "d1c2b3a4-9e8f-4a7b-8c6d-5e4f3a2b1c0d",
    "subscription_id": _SUBSCRIPTION["id"],
    "event_type": "appointment.created",
    "appointment_id": _APPOINTMENT_ID,
    "state": "delivered",
    "attempts": 1,
    "next_attempt_at": "2026-12-01T16:00:01.000Z",
    "last_status": 200,
    "last_error": None,
    "created_at": "2026-12-01T16:00:01.000Z",
    "delivered_at": "2026-12-01T16:00:02.000Z",
    "log": [_ATTEMPT],
}
_MESSAGE = {
    "id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    "appointment_id": _APPOINTMENT_ID,
    "kind": "confirmation",
    "state": "sent",
    "attempts": 1,
    "last_error": None,
    "created_at": "2026-11-21T14:03:11.000Z",
    "next_attempt_at": "2026-11-21T14:03:11.000Z",
    "sent_at": "2026-11-21T14:03:12.000Z",
}
_HISTORY = {
    "old_status": "INITIAL",
    "new_status": "BOOKED",
    "old_start": "2026-12-01T16:00:00.000Z",
    "new_start": "2026-12-01T16:00:00.000Z",
    "at": "2026-11-21T14:03:10.500Z",
    "actor": "dispatcher",
    "channel": "api",
    "reason": None,
    "recurrence_id": None,
    "changed": None,
}
_IMPORT_RESULT = {"index": 0, "source_id": "BP-100234", "status": "created", "id": _APPOINTMENT_ID}
_IMPORT_ERROR = {
    "index": 1,
    "source_id": "BP-100235",
    "status": "error",
    "errors": [{"field": "end_time", "message": "must be after start_time"}],
}
_FETCH = {
    "at": "2026-12-01T06:15:02.000Z",
    "token_id": _TOKEN_ID,
    "calendar_id": _CALENDAR_ID,
    "user_agent": "Google-Calendar-Importer",
    "client_addr": "66.249.84.0",
    "status": 200,
}
_TECH_SETUP_RESULT = {
    "status": "booked",
    "appointment": _TECH_SETUP,
    "team_id": _TEAM_ID,
    "requested_date": "2026-11-29",
    "chosen_date": "2026-11-29",
    "fallback": False,
    "detail": None,
}
_OLS = {
    "appointment_gid": "a0B9E000002kLm3UAE",
    "created_at": "2026-11-20T09:12:44.120Z",
    "customer_gid": "0039E00001",
    "date_v2": "2026-12-01T16:00:00.000Z",
    "date": "2026-12-01 09:00:00",
    "id": _APPOINTMENT_ID,
    "opportunity_gid": "0069E00000HbsUrQAJ",
    "status": "scheduled",
    "type": "FITTING",
    "updated_at": "2026-11-21T14:03:10.500Z",
}
_DEAD_LETTER = {
    "id": 42,
    "appointment_id": _APPOINTMENT_ID,
    "operation": "upsert",
    "attempts": 8,
    "last_error": "FIELD_CUSTOM_VALIDATION_EXCEPTION: Opportunity is closed",
    "created_at": "2026-11-30T10:00:00.000Z",
}

#: One example per component schema, by schema name.
SCHEMA_EXAMPLES: dict[str, Any] = {
    "Appointment": APPOINTMENT,
    "ListedAppointment": {**APPOINTMENT, "recurrence_id": None},
    "ListedKind": "all",
    "AppointmentDraft": {
        "calendar": {"id": _CALENDAR_ID},
        "date_start": "2026-12-01T16:00:00.000Z",
        "date_end": "2026-12-01T17:00:00.000Z",
        "name": "Initial consultation Jane Doe",
        "description": "First consultation; bring the hearing test results",
        "guests": [_GUEST],
        "meta": {
            "salesforce": {"opportunity_gid": "0069E00000HbsUrQAJ", "customer_gid": "0039E00001"},
            "type": "INITIAL",
        },
        "status": "INITIAL",
    },
    "AppointmentPage": {"items": [APPOINTMENT, _FOLLOW_UP], "next_cursor": "MjAyNi0xMi0xNVQxNjowMDowMC4wMDBafDBmM2M"},
    "AppointmentPatch": {"name": "Initial consultation Jane Doe (with partner)", "description": None},
    "AppointmentStatus": "BOOKED",
    "AppointmentType": "FOLLOW_UP",
    "AvailabilityOut": {
        "calendar_id": _CALENDAR_ID,
        "team_id": None,
        "type": "FITTING",
        "timezone": "America/Denver",
        "duration_minutes": 60,
        "slots": [_SLOT],
    },
    "AvailabilityRules": _RULES,
    "BookingLink": _LINK,
    "BookingLinkList": {"items": [_LINK]},
    "BookingMeta": {"salesforce": {"opportunity_gid": "0069E00000HbsUrQAJ", "customer_gid": "0039E00001"}},
    "BookingResponse": {"appointment": APPOINTMENT, "hold_expires_at": None, "tech_setup": _TECH_SETUP_RESULT},
    "Calendar": _CALENDAR,
    "CalendarDraft": {
        "name": "fitter.denver",
        "kind": "fitter",
        "timezone": "America/Denver",
        "owner_username": "fitter.denver",
        "team_id": _TEAM_ID,
    },
    "CalendarKind": "fitter",
    "CalendarPatch": {"name": "Hearing care Denver"},
    "CalendarList": {"items": [_CALENDAR]},
    "CalendarRef": {"id": _CALENDAR_ID, "name": "fitter.denver"},
    "CalendarRefInput": {"id": _CALENDAR_ID},
    "CancelBookingRequest": {"reason": "Customer postponed the purchase"},
    "CancelBookingResponse": {"appointment": {**APPOINTMENT, "status": "CANCELLED"}, "cancelled": [_TECH_SETUP["id"]]},
    "CancelRequest": {"reason": "Customer is ill"},
    "DeadLetter": _DEAD_LETTER,
    "DeadLetterList": {"items": [_DEAD_LETTER]},
    "Delivery": _DELIVERY,
    "DeliveryAttempt": _ATTEMPT,
    "DeliveryList": {"items": [_DELIVERY]},
    "ExceptionDraft": _EXCEPTION,
    "ExceptionList": {"items": [_EXCEPTION, {"date": "2026-12-25", "hours": [], "reason": "Christmas Day"}]},
    "ExportItemError": {
        "id": _TECH_SETUP["id"],
        "errors": [{"field": "meta.type", "message": "calendly has no event type for TECH_SETUP"}],
    },
    "ExportPage": {
        "items": [
            {"appointment_id": "BP-100234", "start_time": "2026-12-01T16:00:00Z", "end_time": "2026-12-01T17:00:00Z"}
        ],
        "next_cursor": None,
        "errors": [],
    },
    "FeedFetch": _FETCH,
    "FeedFetchList": {"items": [_FETCH]},
    "FeedToken": _FEED_TOKEN,
    "FeedTokenDraft": {"name": "phone", "privacy": "minimal", "alarm_minutes": 30},
    "FeedTokenList": {"items": [_FEED_TOKEN]},
    "FeedUrls": _FEED_URLS,
    "FollowOnBookingRequest": {
        "date_start": "2026-12-10T16:00:00.000Z",
        "team_id": _TEAM_ID,
        "appointment_id": _APPOINTMENT_ID,
        "name": "Fitting Jane Doe",
        "hold": False,
    },
    "FollowUpRequest": {
        "date_start": "2026-12-15T16:00:00.000Z",
        "date_end": "2026-12-15T16:30:00.000Z",
        "name": "Follow-up Jane Doe",
    },
    "Guest": _GUEST,
    "HistoryEntry": _HISTORY,
    "HistoryList": {"items": [_HISTORY]},
    "ImportFieldError": {"field": "end_time", "message": "must be after start_time"},
    "ImportItemResult": _IMPORT_RESULT,
    "ImportResponse": {
        "results": [_IMPORT_RESULT, _IMPORT_ERROR],
        "summary": {
            "total": 2,
            "created": 1,
            "updated": 0,
            "unchanged": 0,
            "error": 1,
            "skipped": 0,
            "dry_run": False,
            "atomic": False,
        },
    },
    "ImportSummary": {
        "total": 120,
        "created": 110,
        "updated": 6,
        "unchanged": 2,
        "error": 2,
        "skipped": 0,
        "dry_run": False,
        "atomic": False,
    },
    "InitialBookingRequest": {
        "date_start": "2026-12-03T16:00:00.000Z",
        "team_id": _TEAM_ID,
        "name": "Initial consultation Jane Doe",
        "guests": [_GUEST],
        "meta": {"salesforce": {"opportunity_gid": "0069E00000HbsUrQAJ", "customer_gid": "0039E00001"}},
        "hold": False,
    },
    "IssuedBookingLink": {
        "link": _LINK,
        "secret": "bkl_R2l2ZU1lQVNlY3JldFRoaXNJc0p1c3RBbkV4YW1wbGU",
        "url": "https://appointments.example.com/book/bkl_R2l2ZU1lQVNlY3JldFRoaXNJc0p1c3RBbkV4YW1wbGU",
    },
    "IssuedFeedToken": {
        "token": _FEED_TOKEN,
        "secret": _FEED_SECRET,
        "urls": _FEED_URLS,
        "warning": None,
    },
    "LinkDraft": {
        "kind": "team",
        "team_id": _TEAM_ID,
        "purpose": "INITIAL",
        "name": "Spring campaign",
        "expires_at": "2027-03-31T22:00:00.000Z",
    },
    "LinkSalesforce": {"opportunity_gid": "0069E00000HbsUrQAJ", "customer_gid": "0039E00001"},
    "MessageInfo": _MESSAGE,
    "MessageList": {"items": [_MESSAGE]},
    "MessageStatus": {
        "pending": 2,
        "sent": 318,
        "dead": 1,
        "no_shows": 4,
        "oldest_pending_at": "2026-12-01T15:58:00.000Z",
    },
    "Meta": {"salesforce": _SF, "type": "INITIAL"},
    "MetaInput": {"salesforce": {"opportunity_gid": "0069E00000HbsUrQAJ"}, "type": "FOLLOW_UP"},
    "NoShowOut": {
        "appointment_id": _APPOINTMENT_ID,
        "no_show": True,
        "marked_at": "2026-12-01T17:20:00.000Z",
        "self_booked": False,
    },
    "OlsAppointment": _OLS,
    "OlsAppointmentInput": {
        "opportunity_gid": "0069E00000HbsUrQAJ",
        "customer_gid": "0039E00001",
        "date_v2": "2026-12-01T16:00:00.000Z",
        "type": "FITTING",
        "status": "scheduled",
        "calendar_id": _CALENDAR_ID,
    },
    "Privacy": "minimal",
    "Problem": {
        "type": "https://appointments.example.com/problems/invalid-request",
        "title": "Invalid request",
        "status": 422,
        "detail": "guests.0.timezone: unknown time zone 'Mars/Olympus'",
        "instance": "/api/v1/appointments",
        "errors": [{"field": "guests.0.timezone", "message": "unknown time zone 'Mars/Olympus'"}],
    },
    "ProblemFieldError": {"field": "date_end", "message": "must be after date_start"},
    "Purpose": "FITTING",
    "RescheduleBookingRequest": {
        "date_start": "2026-12-04T16:00:00.000Z",
        "reason": "Customer asked for Friday",
        "move_tech_setup": True,
    },
    "RescheduleBookingResponse": {
        "appointment": {
            **APPOINTMENT,
            "status": "RESCHEDULED",
            "date_start": "2026-12-04T16:00:00.000Z",
            "date_end": "2026-12-04T17:00:00.000Z",
        },
        "tech_setup_offer": {
            "appointment_id": _TECH_SETUP["id"],
            "date_start": "2026-12-02T15:00:00.000Z",
            "date_end": "2026-12-02T15:30:00.000Z",
            "moved": True,
            "detail": None,
        },
    },
    "OccurrencePatch": {
        "date_start": "2026-12-09T17:00:00.000Z",
        "date_end": "2026-12-09T18:00:00.000Z",
        "name": "Weekly check (at the shop)",
    },
    "RescheduleRequest": {
        "date_start": "2026-12-02T16:00:00.000Z",
        "date_end": "2026-12-02T17:00:00.000Z",
        "reason": "Fitter is ill on Tuesday",
    },
    "Retried": {"retried": 1},
    "RulesOut": {**_RULES, "source": "team"},
    "SalesforceIds": _SF,
    "SlotOut": _SLOT,
    "Subscription": _SUBSCRIPTION,
    "SubscriptionCreated": {**_SUBSCRIPTION, "secret": "whsec_8c1f0e2a7b4d4e9f9a3c5b6d7e8f9a0b"},
    "SubscriptionDraft": {
        "url": "https://crm.example.com/hooks/appointments",
        "events": ["appointment.created", "appointment.cancelled"],
        "description": "CRM timeline",
    },
    "SubscriptionList": {"items": [_SUBSCRIPTION]},
    "SyncStatus": {
        "configured": True,
        "mode": "live",
        "watermarks": [{"sobject": "Event", "watermark": "2026-12-01T15:59:00.000Z", "lag_seconds": 42}],
        "last_runs": {"salesforce_pull": [{"at": "2026-12-01T16:00:00.000Z", "ok": True}]},
        "outbox": {"pending": 3, "dead": 1},
        "dead_letters": 1,
        "unassigned": 0,
        "api_usage": {"used": 1520, "limit": 100000},
    },
    "TechSetupOffer": {
        "appointment_id": _TECH_SETUP["id"],
        "date_start": "2026-12-02T15:00:00.000Z",
        "date_end": "2026-12-02T15:30:00.000Z",
        "moved": False,
        "detail": "the call was not moved; confirm this time with POST /api/v1/bookings/{id}/reschedule",
    },
    "TechSetupRequest": {"team_id": _TEAM_ID, "mode": "automatic"},
    "TechSetupResult": _TECH_SETUP_RESULT,
    "TimeRange": {"start": "08:00", "end": "12:00"},
}

#: Descriptions of the schemas whose model has no docstring.
SCHEMA_DESCRIPTIONS: dict[str, str] = {
    "AppointmentPage": "One page of appointments in (date_start, id) order; pass next_cursor as cursor for the next",
    "AppointmentStatus": "An appointment's status; the allowed transitions are in docs/api.md",
    "AppointmentType": "What an appointment is for (meta.type)",
    "AvailabilityOut": "Free slots of a calendar or a team, each naming the calendar that would take it",
    "BookingLink": "A customer self-booking link (never its secret)",
    "BookingLinkList": "Booking links",
    "BookingResponse": "The booked (or held) appointment, and for an INITIAL the tech-setup call scheduled with it",
    "Calendar": "A calendar: a fitter's, a consultant's, a tech-setup member's, or a team's",
    "CalendarDraft": "A new calendar (admin scope)",
    "CalendarKind": "Whose calendar it is",
    "CalendarPatch": "A calendar's new name (trimmed; 1 to 255 characters)",
    "CalendarList": "The calendars this token reaches",
    "CalendarRefInput": "The calendar an appointment is on, by id",
    "CancelBookingRequest": "Why the booking is cancelled",
    "CancelBookingResponse": "The cancelled booking and the ids of the linked calls cancelled with it",
    "CancelRequest": "Why the appointment is cancelled (kept in its history)",
    "DeadLetter": "A change that Salesforce refused after every retry",
    "DeadLetterList": "Changes Salesforce refused",
    "Delivery": "One webhook event sent to a subscription, with every attempt",
    "DeliveryAttempt": "One HTTP attempt of a webhook delivery",
    "DeliveryList": "The newest deliveries of a subscription",
    "ExceptionList": "A calendar's dates with other hours than the week's",
    "ExportItemError": "An appointment of the page that the format cannot carry, with the canonical fields to blame",
    "ExportPage": "One page of appointments in another system's format (docs/converters.md)",
    "FeedFetchList": "Recent fetches of a calendar's feeds and page",
    "FeedTokenList": "A calendar's feed tokens (never their secrets)",
    "HistoryList": "Status and time changes of an appointment, oldest first",
    "ImportFieldError": "One wrong field of an imported item, named in the source format's terms",
    "ImportItemResult": "What became of one imported item",
    "ImportResponse": "The result of every imported item, and the counts",
    "ImportSummary": "Counts of an import's results",
    "LinkSalesforce": "The Salesforce records a booking made through the link is filed under",
    "MessageInfo": "A customer message (never its address or body)",
    "MessageList": "Customer messages, newest first",
    "MessageStatus": "Customer messages per state, and the no-shows counted",
    "NoShowOut": "An appointment marked as a no-show, and whether the customer had booked it themselves",
    "ProblemFieldError": "One invalid field: its dotted location and what is wrong with it",
    "RescheduleBookingRequest": "The new start (the end follows the purpose's duration unless given)",
    "RescheduleBookingResponse": "The moved booking, and for an INITIAL the tech-setup call offered (or moved) along",
    "RescheduleRequest": "The new times of an appointment",
    "OccurrencePatch": "A change of one occurrence of a series: new times, its own title, notes or place, or "
    "cancelled (a merge patch: what is left out stays)",
    "Retried": "How many items were queued again",
    "RulesOut": "The availability rules in force for a calendar, and where they come from",
    "Subscription": "A webhook subscription (never its signing secret)",
    "SubscriptionCreated": "A new webhook subscription, with its signing secret (shown once)",
    "SubscriptionList": "Webhook subscriptions",
    "TechSetupOffer": "The tech-setup call offered (or moved) with a rescheduled INITIAL",
    "TechSetupRequest": "Where and how to schedule a missing tech-setup call",
}

#: Examples of path and query parameters, by name.
PARAMETER_EXAMPLES: dict[str, Any] = {
    "id": _APPOINTMENT_ID,
    "token_id": _TOKEN_ID,
    "date": "2026-12-24",
    "format": "calendly",
    "opportunity_gid": "0069E00000HbsUrQAJ",
    "calendar_id": _CALENDAR_ID,
    "team_id": _TEAM_ID,
    "guest_id": "cust-4711",
    "customer_gid": "0039E00001",
    "appointment_gid": "a0B9E000002kLm3UAE",
    "type": "FOLLOW_UP",
    "status": "BOOKED",
    "from": "2026-12-01T00:00:00Z",
    "to": "2026-12-08T00:00:00Z",
    "updated_since": "2026-11-30T00:00:00Z",
    "limit": 50,
    "cursor": "MjAyNi0xMi0xNVQxNjowMDowMC4wMDBafDBmM2M",
    "timezone": "America/Denver",
    "dry_run": True,
    "atomic": False,
    "Idempotency-Key": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "If-Match": '"8b1a4f52-3-2d70af9d"',  # mapping.etag_of of APPOINTMENT at version 3
    "state": "dead",
    "kind": "confirmation",
    "expand": False,
    "recurrence_id": "2026-12-09T16:00:00.000Z",
}

_BLUEPRINT_ITEM = {
    "appointment_id": "BP-100234",
    "provider_id": "fitter.denver",
    "start_time": "2026-12-01T09:00:00-07:00",
    "end_time": "2026-12-01T10:00:00-07:00",
    "appointment_type": "FOLLOW_UP",
    "status": "confirmed",
}

#: Examples of operations whose body or response is not one model (health, import, ``?format=``).
OPERATION_EXAMPLES: dict[str, dict[str, Any]] = {
    "health_healthz": {"response": {"status": "ok"}},
    "health_readyz": {"response": {"status": "ok", "database": "ok", "migration": "0012"}},
    "api_v1_import_appointments": {"request": [_BLUEPRINT_ITEM]},
    "api_v1_get_appointment": {"response": APPOINTMENT},
    "ols_list_appointments": {"response": [_OLS]},
    "ols_opportunity_appointments": {"response": [_OLS]},
    "api_v1_appointment_schema": {
        "response": {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Appointment",
            "type": "object",
        }
    },
}

#: What each operation does, beyond its summary.
OPERATION_DESCRIPTIONS: dict[str, str] = {
    "health_healthz": "Answers 200 while the process runs; no database access. For liveness probes.",
    "health_readyz": "Answers 200 when the database answers and its migrations are current, else a 503 problem "
    "of type not-ready saying which. For readiness probes and load balancers.",
    "api_v1_import_appointments": "Reads one item (a JSON object) or an array of items of `format` and upserts each "
    "by its id in the source system: importing the same item again updates (or leaves unchanged) the appointment "
    "it became. Every item gets a result; a bad item does not stop the others unless `atomic` is set. "
    "`dry_run` reports what would happen and writes nothing. Formats and their fields: docs/converters.md. "
    "For `ical`, the body may also be a whole iCalendar file (`Content-Type: text/calendar`, a fitter's old "
    "calendar): every event is an item, a recurring one each of its occurrences between `from` and `to`. "
    "Needs the write scope.",
    "api_v1_export_calendar_ics": "Every appointment of the calendar (optionally only those overlapping "
    "`from`..`to`) as one iCalendar file, at full detail, times in the calendar's zone with its VTIMEZONE: "
    "for moving a calendar to another calendar program. For a live subscription use a feed instead.",
    "api_v1_export_appointments": "The appointments matching the same filters as `GET /appointments`, written in "
    "`format`, a page at a time. An appointment the format cannot carry is listed under `errors` instead of "
    "stopping the export. `calendar_id` must name a calendar the token reaches (else 422).",
    "api_v1_list_appointments": "Appointments the token reaches, in (date_start, id) order. `from`/`to` select "
    "appointments overlapping the range; `calendar_id` must name a calendar the token reaches (else 422). Pass "
    "`next_cursor` as `cursor` for the next page.",
    "api_v1_create_appointment": "Creates an appointment on a calendar the token reaches. `status` defaults to "
    "INITIAL; `date_end` must be after `date_start` and at most 14 days later. Send an `Idempotency-Key` to make "
    "a retry return the first result instead of creating a second appointment.",
    "api_v1_get_appointment": "The canonical appointment with its ETag (send it as If-Match to change it safely). "
    "With `?format=` (one of the formats `GET /export/{format}` lists) the appointment in that system's "
    "shape, with an ETag of its own.",
    "api_v1_patch_appointment": "A JSON merge patch (RFC 7396) of the appointment's fields: send only what changes; "
    "null clears an optional field. `If-Match` makes the change conditional on the version you read.",
    "api_v1_delete_appointment": "Deletes the appointment for good (prefer cancelling it, which keeps its history). "
    "Synced channels (CalDAV, feeds, Salesforce) drop it too.",
    "api_v1_book_appointment": "Confirms the appointment: INITIAL or RESERVED becomes BOOKED. Other statuses answer "
    "409 Invalid status transition.",
    "api_v1_reschedule_appointment": "Moves the appointment to new times; its status becomes RESCHEDULED and the "
    "change is kept in its history with the reason.",
    "api_v1_change_occurrence": "Moves, retitles or cancels one occurrence of a series (the one whose original "
    "start is `recurrence_id`, as `GET /appointments?expand=true` lists it), as a phone's RECURRENCE-ID override "
    "does: the rest of the series stays. CalDAV, feeds and REST show the change, and the history records it. 404 "
    "for an occurrence the series does not have, 409 for an appointment that is no series, 409 slot-unavailable "
    "for a new time other bookings take (unless `allow_overlap`; never over a slot booked through scheduling).",
    "api_v1_cancel_appointment": "Cancels the appointment with a reason (kept in its history). Feeds show it as "
    "cancelled; the slot becomes free.",
    "api_v1_create_follow_up": "Creates a FOLLOW_UP appointment for the same customer and opportunity (guests and "
    "Salesforce ids are copied), on the same calendar unless another is given.",
    "api_v1_mark_no_show": "Records that the customer did not come: kept on the appointment (`meta.no_show` and "
    "its history), counted in the messages status, and pushed to Salesforce when a no-show field is configured.",
    "api_v1_appointment_history": "Every change of status or start time, oldest first, with who made it through "
    "which channel and why.",
    "api_v1_get_availability": "Free slots between `from` and `to` for a purpose: the calendar's (or each team "
    "member's) working hours minus busy time, buffers, breaks, exceptions and the minimum notice. Each slot names "
    "the calendar that would take it. Any token with the read scope may ask (free/busy carries no patient data).",
    "api_v1_get_availability_rules": "The rules in force for the calendar and where they come from: its own, its "
    "team's, or the service default.",
    "api_v1_put_availability_rules": "Replaces the calendar's (or team's) weekly hours, breaks, durations, buffers, "
    "notice, horizon and daily maximum. Admin scope.",
    "api_v1_list_availability_exceptions": "Dates on which the calendar has other hours than its week says; a date "
    "without hours is closed (a holiday).",
    "api_v1_put_availability_exception": "Sets the hours of one date, replacing any exception of that date; no hours "
    "closes the day. Admin scope.",
    "api_v1_delete_availability_exception": "Removes the exception of one date: the week's hours apply again. "
    "Admin scope.",
    "api_v1_book_initial": "Books an INITIAL consultation in a free slot of a consultant (or of the team's members, "
    "by the configured assignment) and, unless `hold` is set, schedules its tech-setup call two days before. "
    "A taken slot answers 409 Slot unavailable.",
    "api_v1_book_fitting": "Books the fitting after an INITIAL consultation in a free slot of a fitter (or a team), "
    "filed under the same customer and opportunity.",
    "api_v1_book_follow_up": "Books a follow-up after a fitting in a free slot of a fitter (or a team), filed under "
    "the same customer and opportunity.",
    "api_v1_schedule_tech_setup": "Schedules the tech-setup call of a booked INITIAL appointment that has none "
    "(`automatic`: booked at once; `proposed`: held until confirmed).",
    "api_v1_confirm_booking": "Turns a hold (RESERVED) into a booking (BOOKED) before it expires; a confirmed INITIAL "
    "gets its tech-setup call.",
    "api_v1_reschedule_booking": "Moves the booking to another free slot. For an INITIAL, the tech-setup call is "
    "moved along (`move_tech_setup`) or a new time is offered.",
    "api_v1_cancel_booking": "Cancels the booking with a reason and frees its slot; an INITIAL's pending tech-setup "
    "call is cancelled with it (listed in `cancelled`).",
    "api_v1_list_calendars": "Every calendar this token reaches: its own and its team's for fitters, consultants and "
    "tech-setup staff; all of them for dispatchers, admins and service tokens.",
    "api_v1_create_calendar": "Creates a calendar, optionally owned by a user and in a team. Admin scope.",
    "api_v1_get_calendar": "One calendar, if the token reaches it.",
    "api_v1_rename_calendar": (
        "Renames a calendar (write scope; a team calendar: admin scope). The new name shows on every channel: "
        "CalDAV's DAV:displayname, the feed's X-WR-CALNAME, the calendar page. A CalDAV client renaming the "
        "calendar (PROPPATCH of DAV:displayname) renames it here too."
    ),
    "api_v1_appointment_schema": "The JSON Schema (2020-12) of the canonical appointment, for clients that validate "
    "before sending.",
    "api_v1_create_webhook": "Subscribes a URL to appointment events. Deliveries are signed with the secret shown "
    "once in the answer. Admin scope.",
    "api_v1_list_webhooks": "Every webhook subscription (never its secret). Admin scope.",
    "api_v1_get_webhook": "One webhook subscription (never its secret). Admin scope.",
    "api_v1_delete_webhook": "Removes the subscription; pending deliveries are dropped. Admin scope.",
    "api_v1_list_webhook_deliveries": "The newest deliveries of the subscription, each with its attempts, status "
    "codes and errors, for debugging a receiver. Admin scope.",
    "api_v1_issue_booking_link": "Issues a customer self-booking link for a team. Its URL (with the secret) is shown "
    "once; only a hash is stored.",
    "api_v1_list_booking_links": "Every booking link with its state and number of bookings (never the secret).",
    "api_v1_revoke_booking_link": "Revokes a booking link: it answers 404 from now on. Bookings made through it are "
    "kept.",
    "api_v1_list_feeds": "The calendar's feed tokens: name, privacy level, alarm and last use (never the secret).",
    "api_v1_issue_feed": "Issues a feed token for subscribing to the calendar from Google, Outlook or Apple Calendar. "
    "The secret and its URLs are shown once. `busy` shows only busy time, `minimal` types and initials, `full` "
    "customers' names and notes (Google and Microsoft keep copies of what a feed shows).",
    "api_v1_rotate_feed": "Replaces a feed token with a new secret (same name, privacy and alarm); the old URL stops "
    "working at once.",
    "api_v1_revoke_feed": "Revokes a feed token: its URL answers 404 from now on.",
    "api_v1_list_feed_fetches": "The newest fetches of the calendar's feeds and calendar page: when, which token, "
    "which client, which status. For seeing whether a subscription still polls.",
    "api_v1_message_status": "Counts of customer messages (confirmations, reminders, invitations) per state, the "
    "oldest pending one, and the no-shows counted.",
    "api_v1_list_messages": "Customer messages, newest first, with their state, attempts and last error; never an "
    "address or a body.",
    "api_v1_retry_message": "Sends a dead-lettered message again; its attempts start over.",
    "api_v1_sync_status": "The state of the Salesforce sync as the running service records it: watermarks and lag, "
    "last runs per job, outbox depth, dead letters and API usage.",
    "api_v1_list_dead_letters": "Changes Salesforce refused after every retry, with the last error.",
    "api_v1_retry_dead_letter": "Queues a dead-lettered change again, after the appointment or the org is fixed.",
    "ols_list_appointments": "Appointments in the OLS shape, for the legacy OLS clients: filtered by opportunity, "
    "customer, calendar or change time, a page at a time.",
    "ols_create_appointment": "Creates an appointment from an OLS payload (`date_v2` or the legacy local `date`, "
    "an OLS type and status label).",
    "ols_opportunity_appointments": "Every appointment of one Salesforce opportunity, in the OLS shape.",
    "ols_get_appointment": "One appointment in the OLS shape.",
    "ols_replace_appointment": "Replaces the appointment's OLS fields (type, status and date are required).",
    "ols_patch_appointment": "Changes only the OLS fields sent.",
    "ols_delete_appointment": "Deletes the appointment for good, as DELETE /api/v1/appointments/{id} does.",
}
