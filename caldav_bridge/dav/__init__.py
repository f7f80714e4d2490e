"""The CalDAV store: DAV collections and items in SQL, kept in step with appointments.

``storage_plugin`` (Radicale's storage, auth and rights plugins) only translates Radicale calls
into :class:`caldav_bridge.dav.collections.DavStore`; no SQL lives there.
"""
