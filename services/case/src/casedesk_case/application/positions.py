"""Names under which the followers of the notification log record their positions.

Shared by the followers and by the tools that read their progress from the store.
"""

from __future__ import annotations


def outbox_tracking_name(application_name: str, topic: str) -> str:
    """The name under which the outbox relay records its position in the event store."""
    return f"{application_name}.outbox.{topic}"


def index_tracking_name(application_name: str) -> str:
    """The name under which the case index records the position it reflects."""
    return f"{application_name}.case_index"
