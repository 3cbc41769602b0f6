"""Case events this process stored lately, by notification id, for the followers of the log.

The outbox relay and the case index read every stored case event back from the notification log
shortly after the command that stored it. Decoding it again (JSON, then value objects) costs about
as much as encoding it did, while the event object the command created is still at hand and equal
to what decoding would give. The followers take it from here and decode only what they miss:
older events, and events stored by other replicas.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from itertools import islice
from typing import Any

from eventsourcing.persistence import Notification, Recording

from casedesk_case.domain.case import CASE_EVENT_TOPICS

# A few seconds of events at full speed: followers normally read them within milliseconds.
DEFAULT_RECENT_EVENTS = 5_000

_CASE_TOPICS = frozenset(CASE_EVENT_TOPICS)


class RecentEvents:
    def __init__(self, maxsize: int = DEFAULT_RECENT_EVENTS) -> None:
        self._maxsize = maxsize
        self._lock = threading.Lock()
        self._events: dict[int, Any] = {}  # insertion order is (about) notification order

    def remember(self, recordings: Iterable[Recording[Any]]) -> None:
        with self._lock:
            for recording in recordings:
                if recording.notification.topic in _CASE_TOPICS:
                    self._events[recording.notification.id] = recording.domain_event
            excess = len(self._events) - self._maxsize
            if excess > 0:
                for notification_id in list(islice(self._events, excess)):
                    del self._events[notification_id]  # the oldest

    def get(self, notification: Notification) -> Any | None:
        """The event stored under this notification by this process, if still remembered."""
        return self._events.get(notification.id)
