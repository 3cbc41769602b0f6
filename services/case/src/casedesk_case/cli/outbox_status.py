"""`python -m casedesk_case.cli.outbox_status`: how far the outbox relay has got (from the store).

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
from typing import Any

from casedesk_case.export import CaseStoreReader
from casedesk_case.settings import CaseSettings
from casedesk_runtime.settings import SettingsError, load_settings

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


def read_status(topic: str, env: dict[str, Any] | None = None) -> OutboxStatus:
    reader = CaseStoreReader(env=env)
    try:
        now = time.time()
        position = reader.outbox_position(topic)
        newest = reader.last_notification_id()
        unpublished, oldest = reader.count_case_events_after(position, _COUNT_AT_MOST)
    finally:
        reader.close()
    return OutboxStatus(
        topic=topic,
        position=position,
        newest=newest,
        unpublished=unpublished,
        unpublished_is_lower_bound=unpublished >= _COUNT_AT_MOST,
        oldest_unpublished_age_s=None if oldest is None else round(max(0.0, now - oldest), 1),
    )


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
