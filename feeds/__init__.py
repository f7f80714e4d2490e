"""The HTTP edge: the Flask app factory (``feeds.app.create_app``), the REST APIs, feeds and pages; mounts CalDAV.

Importing this package imports nothing else, so the command line (``feeds.cli``) starts without Flask.
"""
