"""Adapters to the outside: the case service, the idempotency database, the attachment vault."""
