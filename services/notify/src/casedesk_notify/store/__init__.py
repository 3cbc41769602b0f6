"""Notify's durable state in SQLite (see sqlite.py for the exactly-once argument)."""

from casedesk_notify.store.sqlite import ConsumedBatch, DeliveryStore

__all__ = ["ConsumedBatch", "DeliveryStore"]
