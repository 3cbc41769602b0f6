"""Notify's durable state in SQLite (see sqlite.py for the exactly-once argument)."""

from casedesk_notify.adapters.store.sqlite import DeliveryStore

__all__ = ["DeliveryStore"]
