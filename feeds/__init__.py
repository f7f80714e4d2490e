"""The HTTP edge: the Flask app factory, the REST APIs, feeds and pages; mounts CalDAV."""

from feeds.app import create_app

__all__ = ["create_app"]
