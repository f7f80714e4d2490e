"""Radicale storage plugin over ``caldav_bridge`` (``[storage] type = storage_plugin``).

Every Radicale storage call is translated into :class:`caldav_bridge.dav.collections.DavStore`; this
package holds no SQL. The auth and rights plugins are :mod:`storage_plugin.auth` and
:mod:`storage_plugin.rights`.
"""

from storage_plugin.storage import Collection, Storage

__all__ = ["Collection", "Storage"]
