"""Domain events: what happened to appointments, raised by the services on the unit of work.

:mod:`.model` holds the plain event objects, :mod:`.bus` the registry that dispatches them to
handlers, :mod:`.wiring` the one function that registers every handler (called when the
``Runtime`` is built). See ``docs/architecture.md`` for the flow and the list of handlers.
"""
