"""What if another SLA policy had been in force? Replays case.events.v1 and reports breaches.

    python -m casedesk_sla.cli.whatif --policy test-seconds --bootstrap 127.0.0.1:9092
    python -m casedesk_sla.cli.whatif --policy 2023.1 --events case-events.jsonl --baseline 2023.1

Events come from the topic (every partition, up to its end when the command starts) or from a
file of protobuf-JSON CaseEvents, one per line. Clocks still running at the end are judged as of
`--as-of` (default: the last event's time, so the same input always gives the same report).
`--emit FILE` writes the replayed SLA events as protobuf-JSON lines, to diff with sla.events.v1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from google.protobuf import json_format

from casedesk.case.v1 import events_pb2 as case_events
from casedesk_deadlines import CalendarOverrides, DeadlineError, russian_calendar
from casedesk_runtime.settings import ServiceSettings
from casedesk_sla.cli.case_log import read_file, read_topic
from casedesk_sla.cli.whatif_report import render_report
from casedesk_sla.domain import Micros, PolicyRegistry
from casedesk_sla.replaying import Replay, merge_partitions, replay, sla_event
from casedesk_sla.wire.case_events import event_time
from casedesk_vocabulary.moscow import from_micros, to_micros
from casedesk_vocabulary.topics import CASE_EVENTS


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m casedesk_sla.cli.whatif",
        description="Replay case events under an SLA policy version and report what breaches.",
    )
    parser.add_argument("--policy", required=True, help="policy version to replay under")
    parser.add_argument("--baseline", help="policy version to compare with (e.g. the recorded one)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--bootstrap", help="Kafka bootstrap servers, host:port")
    source.add_argument("--events", help="file of protobuf-JSON CaseEvents, one per line")
    parser.add_argument("--topic", default=CASE_EVENTS)
    parser.add_argument("--as-of", help="ISO instant or 'now' (default: the last event's time)")
    parser.add_argument("--calendar-overrides", help="production calendar override file (TOML)")
    parser.add_argument("--list", action="store_true", help="list every breach")
    parser.add_argument("--emit", help="write the replayed SLA events here (protobuf JSON lines)")
    return parser.parse_args(argv)


def load_events(args: argparse.Namespace) -> list[case_events.CaseEvent]:
    if args.events:
        return list(read_file(args.events))
    settings = ServiceSettings(kafka_bootstrap_servers=args.bootstrap)
    return list(merge_partitions(asyncio.run(read_topic(settings, args.topic))))


def as_of(value: str | None, events: Sequence[case_events.CaseEvent]) -> Micros | None:
    if value == "now":
        return to_micros(datetime.now(UTC))
    if value:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError(f"--as-of {value}: give a time zone, e.g. {value}+03:00")
        return to_micros(moment)
    if not events:
        return None
    # Just after the last event, so that an alarm due exactly then fires as it would live.
    return max(event_time(event) for event in events) + 1


def run(args: argparse.Namespace) -> str:
    overrides = (
        CalendarOverrides.from_file(args.calendar_overrides) if args.calendar_overrides else None
    )
    calendar = russian_calendar(overrides)
    events = load_events(args)
    until = as_of(args.as_of, events)
    result = replay(events, PolicyRegistry(args.policy, calendar), until)
    baseline: Replay | None = None
    if args.baseline:
        baseline = replay(events, PolicyRegistry(args.baseline, calendar), until)
    if args.emit:
        write_sla_events(args.emit, result)
    as_of_text = from_micros(until).isoformat() if until is not None else "-"
    return render_report(
        args.policy, result, args.baseline, baseline, as_of_text, list_breaches=args.list
    )


def write_sla_events(path: str, result: Replay) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.writelines(_json_lines(result))


def _json_lines(result: Replay) -> Iterable[str]:
    for fact in result.facts:
        yield json_format.MessageToJson(sla_event(fact), indent=None) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        print(run(args))
    except (DeadlineError, ValueError, LookupError, OSError) as error:
        print(f"whatif: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
