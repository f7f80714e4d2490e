"""The handler registry: which handlers an event goes to, before or after the commit.

Built once per ``Runtime`` (:func:`caldav_bridge.events.wiring.build_bus`) and handed to every
unit of work it makes. Before-commit handlers run in the change's transaction, in registration
order, as soon as a service raises the event (so their refusals reach the service's caller);
events they raise themselves are queued and handled after, in the same transaction. After-commit
handlers (caches) run once the transaction has committed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from caldav_bridge.events.model import Event

__all__ = ["Handler", "MessageBus"]

#: ``handler(uow, event)``: the unit of work is the one the event was raised on (typed loosely here:
#: the unit of work module holds a bus, so this one does not import it).
Handler = Callable[[Any, Any], None]


class MessageBus:
    """Event type → handlers; an event goes to the handlers of its class and of its base classes."""

    def __init__(self) -> None:
        self._before: list[tuple[type[Event], Handler]] = []
        self._after: list[tuple[type[Event], Handler]] = []

    def on(self, event_type: type[Event], handler: Handler, *, after_commit: bool = False) -> None:
        (self._after if after_commit else self._before).append((event_type, handler))

    def handlers(self, event: Event, *, after_commit: bool = False) -> list[Handler]:
        registered = self._after if after_commit else self._before
        return [handler for event_type, handler in registered if isinstance(event, event_type)]

    def registered(self) -> list[tuple[str, str, str]]:
        """(event type, handler, phase) for every registration, in order (for docs and tests)."""
        return [
            (t.__name__, f"{h.__module__}.{h.__qualname__}", phase)
            for phase, pairs in (("before commit", self._before), ("after commit", self._after))
            for t, h in pairs
        ]
