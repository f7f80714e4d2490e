"""Scheduling by availability: rules, free slots, team assignment, booking flows, holds, chains.

Kept import-light: :mod:`caldav_bridge.store.tables` imports :mod:`caldav_bridge.scheduling.tables`.
"""
