"""Refusals of the key service's own rules (the keys' errors are casedesk_keys.errors')."""

from __future__ import annotations


class InvalidOrder(ValueError):
    """A request that cannot be carried out as written: `field` names the request's field, the
    message the rule it broke (never the value: it may be a citizen's identifier)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field
        self.problem = problem


class NotPermitted(Exception):
    """The person is known but may not do this (a role is missing)."""


class PositionAhead(ValueError):
    """A watch asked to resume after a position the erasure journal has not reached: the client
    followed another journal (a restored backup, another installation)."""


class WatchClosed(Exception):
    """The erasure feed is closed (the process is stopping): watch again, on another replica."""
