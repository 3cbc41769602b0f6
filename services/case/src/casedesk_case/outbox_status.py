"""`python -m casedesk_case.outbox_status`: how far the outbox relay has got, read from the store.

For an operator (and `make status`) while Kafka is away or the relay seems stuck: the position
the relay recorded, the case events stored after it (not yet acknowledged by Kafka) and the age
of the oldest of them. It reads the same database as the case service, chosen by the same
variables (PERSISTENCE_MODULE, SQLITE_DBNAME, POSTGRES_*; the topic by
CASEDESK_CASE_EVENTS_TOPIC), never creates tables and writes nothing. It prints no personal data.
Exit status 0 when the store could be read, 2 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder

from casedesk_case.application import CaseApplication
from casedesk_case.domain.case import CASE_EVENT_TOPICS
from casedesk_case.relay import tracking_name
from casedesk_case.settings import CaseSettings
from casedesk_case.transcodings import register_domain_transcodings
from casedesk_runtime.settings import SettingsError, load_settings

_PAGE = 10_000
_COUNT_AT_MOST = 1_000_000  # beyond this, "at least" is all an operator needs to know


@dataclass(frozen=True)
class OutboxStatus:
    topic: str
    position: int  # notification id of the last event Kafka acknowledged
    newest: int  # notification id of the newest record in the store
    unpublished: int  # case events stored after the position
    unpublished_is_lower_bound: bool
    oldest_unpublished_age_s: float | None

    def line(self) -> str:
        if not self.unpublished:
            return f"outbox: every case event is on {self.topic} (position {self.position})"
        count = f"{self.unpublished}{'+' if self.unpublished_is_lower_bound else ''}"
        age = self.oldest_unpublished_age_s or 0.0
        return (
            f"outbox: {count} case events not yet on {self.topic}, oldest {age:.0f} s old "
            f"(position {self.position} of {self.newest})"
        )


class _OutboxReader(Application):
    """The case service's store, read only (same name, so the same variables)."""

    name = CaseApplication.name
    env: ClassVar[dict[str, str]] = {"CREATE_TABLE": "no"}

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_domain_transcodings(transcoder)

    def status(self, topic: str, now: float) -> OutboxStatus:
        positions = self.factory.tracking_recorder()
        position = positions.max_tracking_id(tracking_name(self.name, topic)) or 0
        newest = self.recorder.max_notification_id() or 0
        unpublished, start, oldest = 0, position, None
        while unpublished < _COUNT_AT_MOST:
            page = self.recorder.select_notifications(
                start, _PAGE, topics=CASE_EVENT_TOPICS, inclusive_of_start=False
            )
            if not page:
                break
            if oldest is None:
                oldest = self.mapper.to_domain_event(page[0]).timestamp.timestamp()
            unpublished += len(page)
            start = page[-1].id
        return OutboxStatus(
            topic=topic,
            position=position,
            newest=newest,
            unpublished=unpublished,
            unpublished_is_lower_bound=unpublished >= _COUNT_AT_MOST,
            oldest_unpublished_age_s=None if oldest is None else round(max(0.0, now - oldest), 1),
        )


def read_status(topic: str, env: dict[str, Any] | None = None) -> OutboxStatus:
    reader = _OutboxReader(env=env)
    try:
        return reader.status(topic, time.time())
    finally:
        reader.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON object instead of a line")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(CaseSettings)
        status = read_status(settings.case_events_topic)
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    except Exception as error:  # an operator's tool: say what failed, without a traceback
        print(f"outbox status unavailable: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    print(json.dumps(asdict(status)) if args.json else status.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
