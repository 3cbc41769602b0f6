"""`casedesk-replay`: the analysts' command line (see replay/README.md for examples)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from rich.console import Console

from casedesk_deadlines import DeadlineError
from casedesk_replay import commands, render
from casedesk_replay.checkpoint import CheckpointError
from casedesk_replay.export import Format
from casedesk_replay.reports import DIMENSIONS
from casedesk_replay.settings import ReplaySettings
from casedesk_replay.sources import SourceError, TimeRange
from casedesk_replay.tables import TABLES
from casedesk_replay.topics import Stream
from casedesk_runtime.logs import configure_logging
from casedesk_runtime.settings import SettingsError, load_settings

EXIT_FAILED, EXIT_INTERRUPTED = 1, 130
# `report --compare-with-store`: the topic misses events of the store (an operator's script acts).
EXIT_TOPIC_INCOMPLETE = 3


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    out, err = render.console(), render.console(stderr=True)
    try:
        settings = load_settings(ReplaySettings)
        configure_logging("replay", "INFO" if args.verbose else "WARNING")
        options = commands.ReplayOptions(
            settings=settings, bootstrap=args.bootstrap, topic_prefix=args.topic_prefix,
            topic_names=dict(args.topic), streams=args.streams,
            case_events_from=args.case_events_from, file=args.file,
            time_range=TimeRange(args.since, args.until), checkpoint=args.checkpoint,
            checkpoint_every_s=args.checkpoint_every, progress=not args.no_progress,
        )  # fmt: skip
        return asyncio.run(_run(args, options, out, err))
    except (SettingsError, SourceError, CheckpointError, DeadlineError, ValueError) as error:
        err.print(f"casedesk-replay: {error}", style="red", markup=False, highlight=False)
        return EXIT_FAILED
    except KeyboardInterrupt:
        where = f"; rerun with --checkpoint {args.checkpoint} to resume" if args.checkpoint else ""
        err.print(f"casedesk-replay: interrupted{where}", markup=False)
        return EXIT_INTERRUPTED


async def _run(args: argparse.Namespace, options: commands.ReplayOptions,
               out: Console, err: Console) -> int:  # fmt: skip
    if args.command == "report":
        complete = await commands.report(options, args.by, args.json, out, err,
                                         args.compare_with_store)  # fmt: skip
        return 0 if complete else EXIT_TOPIC_INCOMPLETE
    elif args.command == "export":
        await commands.export(options, args.out, args.format, args.tables, err)
    elif args.command == "case":
        found = await commands.case(options, args.case, args.as_of, out, err)
        return 0 if found else EXIT_FAILED
    elif args.command == "what-if":
        question = commands.WhatIfQuestion(
            policy=args.policy, as_of=args.as_of, baseline=args.baseline,
            calendar_overrides=args.calendar_overrides, list_breaches=args.list, emit=args.emit,
        )  # fmt: skip
        await commands.whatif(options, question, args.out, args.format, args.json, out, err)
    else:
        await commands.capture(options, args.out, err)
    return 0


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    source = common.add_argument_group("what to replay")
    source.add_argument(
        "--bootstrap", metavar="HOST:PORT", help="Kafka (default: CASEDESK_KAFKA_BOOTSTRAP_SERVERS)"
    )
    source.add_argument(
        "--topic-prefix",
        default="",
        metavar="PREFIX",
        help="read PREFIX + case.events.v1 and so on (mirrors, benchmarks)",
    )
    source.add_argument(
        "--topic",
        type=_topic,
        action="append",
        default=[],
        metavar="STREAM=NAME",
        help="read this stream from exactly NAME (repeatable; e.g. case=my.case.events)",
    )
    source.add_argument(
        "--streams",
        type=_streams,
        default=tuple(Stream),
        metavar="LIST",
        help="comma-separated: case,sla,notification,escalation",
    )
    source.add_argument(
        "--case-events-from",
        choices=("kafka", "store"),
        default="kafka",
        help="store: the case service's event store (PERSISTENCE_MODULE, "
        "SQLITE_DBNAME, POSTGRES_*) instead of case.events.v1",
    )
    source.add_argument("--file", type=Path, help="a record file written by `capture`")
    source.add_argument(
        "--since",
        type=_instant,
        metavar="TIME",
        help="ISO 8601 with offset; Kafka record time, event time in the store",
    )
    source.add_argument("--until", type=_instant, metavar="TIME", help="exclusive end")
    run = common.add_argument_group("how")
    run.add_argument(
        "--checkpoint",
        type=Path,
        metavar="FILE",
        help="resume from FILE if present; save progress to it",
    )
    run.add_argument("--checkpoint-every", type=float, default=30.0, metavar="SECONDS")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("-v", "--verbose", action="store_true", help="log Kafka client messages")

    parser = argparse.ArgumentParser(
        prog="casedesk-replay",
        description="Replay Casedesk's event streams without disturbing any service.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    report = sub.add_parser("report", parents=[common], help="print summary reports")
    report.add_argument(
        "--by",
        type=_dimensions,
        default=DIMENSIONS,
        metavar="LIST",
        help=f"SLA compliance groupings, of {','.join(DIMENSIONS)}",
    )
    report.add_argument("--json", action="store_true")
    report.add_argument(
        "--compare-with-store",
        action="store_true",
        help="also read the case event store (PERSISTENCE_MODULE, SQLITE_DBNAME, POSTGRES_*) "
        f"and count stored events missing from the topic; exit {EXIT_TOPIC_INCOMPLETE} if any",
    )
    export = sub.add_parser("export", parents=[common], help="write flat tables")
    export.add_argument("--out", type=Path, required=True, metavar="DIR")
    export.add_argument(
        "--tables",
        type=_tables,
        default=tuple(TABLES),
        metavar="LIST",
        help=f"of {','.join(TABLES)}",
    )
    _formats(export)
    case = sub.add_parser("case", parents=[common], help="one case as of a moment")
    case.add_argument("case", help="case id or number (2026-0001234)")
    case.add_argument("--as-of", type=_instant, metavar="TIME", help="default: now")
    whatif = sub.add_parser("what-if", parents=[common], help="SLA outcomes under another policy")
    whatif.add_argument("--policy", required=True, metavar="VERSION", help="e.g. 2023.1")
    whatif.add_argument(
        "--as-of",
        type=_as_of,
        metavar="TIME",
        help="clocks still running are judged at TIME, 'now' (the default) or 'last': just "
        "after the last case event",
    )
    whatif.add_argument(
        "--baseline",
        metavar="VERSION",
        help="compare with this policy, replayed in the same pass, instead of sla.events.v1",
    )
    whatif.add_argument(
        "--calendar-overrides",
        type=Path,
        metavar="FILE",
        help="production calendar overrides (TOML), the file the SLA service reads from "
        "CASEDESK_SLA_CALENDAR_OVERRIDES",
    )
    whatif.add_argument("--list", action="store_true", help="list every breached clock")
    whatif.add_argument(
        "--emit",
        type=Path,
        metavar="FILE",
        help="write the SLA events decided as sla.events.v1 protobuf-JSON lines",
    )
    whatif.add_argument("--out", type=Path, metavar="DIR", help="also export whatif_outcomes")
    whatif.add_argument("--json", action="store_true")
    _formats(whatif)
    capture = sub.add_parser("capture", parents=[common], help="copy records to a record file")
    capture.add_argument("--out", type=Path, required=True, metavar="FILE")
    return parser  # fmt: skip


def _formats(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        type=_format_list,
        default=(Format.PARQUET,),
        metavar="LIST",
        help="parquet, csv or parquet,csv",
    )


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset, e.g. {text}+03:00")
    return moment


def _as_of(text: str) -> datetime | str:
    return text if text in ("last", "now") else _instant(text)


def _topic(text: str) -> tuple[Stream, str]:
    stream, _, name = text.partition("=")
    if stream not in [s.value for s in Stream] or not name:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give STREAM=NAME, STREAM one of {', '.join(s.value for s in Stream)}"
        )
    return Stream(stream), name


def _choices(text: str, allowed: Sequence[str], what: str) -> tuple[str, ...]:
    chosen = tuple(part.strip() for part in text.split(",") if part.strip())
    if not chosen or any(choice not in allowed for choice in chosen):
        raise argparse.ArgumentTypeError(f"{what} must be some of {', '.join(allowed)}")
    return chosen


def _streams(text: str) -> tuple[Stream, ...]:
    return tuple(Stream(s) for s in _choices(text, [s.value for s in Stream], "streams"))


def _dimensions(text: str) -> tuple[str, ...]:
    return _choices(text, DIMENSIONS, "groupings")


def _tables(text: str) -> tuple[str, ...]:
    return _choices(text, tuple(TABLES), "tables")


def _format_list(text: str) -> tuple[Format, ...]:
    return tuple(Format(f) for f in _choices(text, [f.value for f in Format], "formats"))


if __name__ == "__main__":
    sys.exit(main())
