"""Radicale storage, auth and rights plugins over ``caldav_bridge`` (the CalDAV issue fills this in)."""
