"""Webhooks: subscriptions, an outbox of signed deliveries with retries, and the delivery log.

Kept import-light: :mod:`caldav_bridge.store.tables` imports :mod:`caldav_bridge.webhooks.tables`.
"""
