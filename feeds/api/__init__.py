"""The canonical REST API, ``/api/v1``."""

from flask import Blueprint

bp = Blueprint("api_v1", __name__)

# Importing the route modules registers their operations on ``bp``.
from feeds.api import appointments, availability, bookings, calendars, schema, webhooks  # noqa: E402,F401
from feeds.api import booking_links as _booking_links  # noqa: E402,F401
from feeds.api import feeds as _feeds  # noqa: E402,F401
from feeds.api import interchange as _interchange  # noqa: E402,F401
from feeds.api import messages as _messages  # noqa: E402,F401
from feeds.api import no_shows as _no_shows  # noqa: E402,F401
from feeds.api import sync as _sync  # noqa: E402,F401

__all__ = ["bp"]
