"""The canonical REST API, ``/api/v1``."""

# Importing the route modules registers their operations on ``bp`` (defined apart, so no module imports this package
# that imports it: no cycle).
from feeds.api import appointments, availability, bookings, calendars, schema, webhooks  # noqa: F401
from feeds.api import booking_links as _booking_links  # noqa: F401
from feeds.api import feeds as _feeds  # noqa: F401
from feeds.api import interchange as _interchange  # noqa: F401
from feeds.api import messages as _messages  # noqa: F401
from feeds.api import no_shows as _no_shows  # noqa: F401
from feeds.api import sync as _sync  # noqa: F401
from feeds.api.blueprint import bp

__all__ = ["bp"]
