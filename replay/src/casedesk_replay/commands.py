"""The commands of `casedesk-replay`: each builds its sources and fold, replays, then reports.

This is the composition root: the only module that knows every adapter, projection and output.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from google.protobuf import json_format
from rich.console import Console

from casedesk_deadlines import CalendarOverrides, russian_calendar
from casedesk_replay import render, reports, storecheck, tables, whatif_report
from casedesk_replay.checkpoint import CheckpointFile
from casedesk_replay.export import Format, write_tables
from casedesk_replay.gaps import find_gaps
from casedesk_replay.history import CaseTimeline, NumberLookup, parse_case_ref
from casedesk_replay.progress import ReplayProgress, RichProgress, SilentProgress
from casedesk_replay.projections import CaseVersions, ReplayState, WhatIfClocks
from casedesk_replay.runner import Fold, Replay, ReplayResult
from casedesk_replay.scope import ReadScope
from casedesk_replay.settings import ReplaySettings
from casedesk_replay.sources import EVERYTHING, Source, TimeRange
from casedesk_replay.sources.kafka import KafkaSource
from casedesk_replay.sources.recordfile import RecordFileSource, RecordFileWriter, read_header
from casedesk_replay.sources.store import EventStoreSource, find_case_by_number
from casedesk_replay.topics import Stream, TopicMap
from casedesk_replay.wire import to_micros
from casedesk_runtime.kafka import connection_config
from casedesk_sla.replaying import PolicyRegistry, sla_event


@dataclass(frozen=True)
class ReplayOptions:
    """Where to read from and how: the options every command shares."""

    settings: ReplaySettings
    bootstrap: str | None = None
    topic_prefix: str = ""
    topic_names: dict[Stream, str] = field(default_factory=dict)  # exact names (`--topic`)
    streams: tuple[Stream, ...] = tuple(Stream)
    case_events_from: str = "kafka"  # or "store": the case service's event store
    file: Path | None = None
    time_range: TimeRange = EVERYTHING
    checkpoint: Path | None = None
    checkpoint_every_s: float = 30.0
    progress: bool = True

    def sources(self, case_id: str | None = None) -> list[Source]:
        """`case_id`: read only what concerns that case (its partitions, its stored stream)."""
        if self.file is not None:
            return [RecordFileSource(self.file, self.streams)]
        sources: list[Source] = []
        kafka_streams = list(self.streams)
        if self.case_events_from == "store" and Stream.CASE in kafka_streams:
            kafka_streams.remove(Stream.CASE)
            store_case = UUID(case_id) if case_id else None
            sources.append(EventStoreSource(time_range=self.time_range, case_id=store_case))
        if kafka_streams:
            connection = connection_config(self.settings)
            if self.bootstrap:
                connection["bootstrap_servers"] = self.bootstrap
            keys = [case_id.encode()] if case_id else []
            sources.append(KafkaSource(connection, self.topic_map(), kafka_streams,
                                       self.time_range, keys))  # fmt: skip
        return sources

    def fingerprint(self, whatif_policy: str = "") -> dict[str, str]:
        bootstrap = self.bootstrap or self.settings.kafka_bootstrap_servers
        origin = f"file:{self.file.resolve()}" if self.file else f"kafka:{bootstrap}"
        fingerprint = {
            "origin": origin,
            "topic_prefix": self.topic_prefix,
            "streams": ",".join(stream.value for stream in self.streams),
            "case_events_from": "file" if self.file else self.case_events_from,
            "range": self.time_range.describe(),
            "whatif_policy": whatif_policy,
        }
        if self.topic_names:  # only then, so that earlier checkpoints still match
            fingerprint["topics"] = ",".join(f"{s}={n}" for s, n in self.topic_names.items())
        return fingerprint

    def scope(self) -> ReadScope:
        """What this replay reads, for saying why a table is empty."""
        return ReadScope({stream: self._origin(stream) for stream in self.streams}, self.window())

    def _origin(self, stream: Stream) -> str:
        if self.file is not None:
            return f"in the record file {self.file}"
        if stream is Stream.CASE and self.case_events_from == "store":
            return "in the case event store"
        return f"on {self.topic_map().topic(stream)}"

    def topic_map(self) -> TopicMap:
        return TopicMap(self.topic_prefix, self.topic_names)

    def progress_bar(self) -> ReplayProgress:
        return RichProgress() if self.progress else SilentProgress()

    def window(self) -> TimeRange | None:
        """The window of the streams this replay reads; None when unknown. A record file holds
        what it was captured from (the range options do not apply to it)."""
        if self.file is not None:
            return read_header(self.file).window
        return self.time_range

    def reads_from_start(self) -> bool:
        """Whether every case's events are read from its first one, so that versions are
        expected from 1 (CaseVersions). A window opened at `--since` starts in the middle of
        cases; so may a record file that does not say what it holds."""
        window = self.window()
        return window is not None and window.since is None


async def replay(options: ReplayOptions, fold: Fold, sources: Sequence[Source],
                 fingerprint: dict[str, str] | None, console: Console,
                 done: str = "replayed") -> ReplayResult:  # fmt: skip
    """Run one replay; `fingerprint` None: a one-off (a case, a capture), never checkpointed."""
    checkpoint = CheckpointFile(options.checkpoint) if options.checkpoint and fingerprint else None
    runner = Replay(sources, fold, options.progress_bar(), checkpoint, fingerprint,
                    options.checkpoint_every_s)  # fmt: skip
    result = await runner.run()
    rate = result.events / result.seconds if result.seconds > 0 else 0.0
    resumed = " (resumed from the checkpoint)" if result.resumed else ""
    console.print(f"{done} {result.events:,} events in {result.seconds:.1f} s "
                  f"({rate:,.0f} events/s){resumed}", style="dim")  # fmt: skip
    return result


async def report(options: ReplayOptions, dimensions: Sequence[str], as_json: bool,
                 out: Console, err: Console, compare_with_store: bool = False) -> bool:  # fmt: skip
    """Print the reports; False when compared with the store and the topic misses events."""
    stored = await _stored_versions(options, err) if compare_with_store else None
    state = ReplayState(from_start=options.reads_from_start())
    await replay(options, state, options.sources(), options.fingerprint(), err)
    summary = reports.summarize(state, dimensions)
    comparison = storecheck.compare(stored, state.versions) if stored is not None else None
    if as_json:
        out.print_json(render.report_json(summary, comparison))
    else:
        render.print_report(summary, out, options.scope())
        if comparison is not None:
            render.print_store_comparison(comparison, out)
    render.warn_about_gaps(summary.gaps, err)
    if comparison is None:
        return True
    render.warn_about_missing(comparison, err)
    return comparison.topic_complete


async def _stored_versions(options: ReplayOptions, err: Console) -> CaseVersions:
    """The store's side of a comparison, read whole (never checkpointed) and before the topic:
    the topic's end is then fixed after the store's, so an event stored just before the store
    was read has had the relay's lag to reach the topic instead of being reported missing."""
    if options.case_events_from == "store":
        raise ValueError("--compare-with-store compares the topic with the store: "
                         "leave out --case-events-from store")  # fmt: skip
    if Stream.CASE not in options.streams:
        raise ValueError("--compare-with-store needs the case stream in --streams")
    # Kafka's window is by publication time, the store's by occurred-at: during an outage they
    # differ by hours, and a window would report events published late as missing.
    if options.time_range != EVERYTHING:
        raise ValueError("--compare-with-store compares whole histories: "
                         "leave out --since and --until")  # fmt: skip
    if not options.reads_from_start():
        raise ValueError(f"{options.file} does not say it holds the streams from their "
                         "beginning (captured with --since, or by an older casedesk-replay): "
                         "it cannot be compared with the store")  # fmt: skip
    fold = storecheck.StoredVersions()
    await replay(options, fold, [EventStoreSource()], None, err, "read the case event store:")
    return fold.versions


async def export(options: ReplayOptions, directory: Path, formats: tuple[Format, ...],
                 names: Sequence[str], err: Console) -> list[Path]:  # fmt: skip
    state = ReplayState(from_start=options.reads_from_start())
    await replay(options, state, options.sources(), options.fingerprint(), err)
    written = write_tables({name: tables.TABLES[name](state) for name in names}, directory, formats)
    for path in written:
        err.print(f"wrote {path}", style="dim")
    render.warn_about_gaps(find_gaps(state.versions), err)
    return written


async def case(options: ReplayOptions, reference: str, as_of: datetime | None,
               out: Console, err: Console) -> bool:  # fmt: skip
    ref = parse_case_ref(reference)
    case_id = ref.case_id or await _find_number(options, ref.number or "", err)
    if case_id is None:
        err.print(f"no case numbered {reference} in the replayed range")
        return False
    timeline = CaseTimeline(case_id, to_micros(as_of) if as_of else None,
                            from_start=options.reads_from_start())  # fmt: skip
    await replay(options, timeline, options.sources(case_id), None, err)
    view = timeline.view()
    if view is None:
        err.print(f"case {reference} ({case_id}) has no events in the replayed range")
        return False
    out.print_json(data=view)
    render.warn_about_gaps(find_gaps(timeline.state.versions), err)
    return True


async def _find_number(options: ReplayOptions, number: str, err: Console) -> str | None:
    """The store knows a number with one read; a topic or file has to be scanned for it."""
    if options.file is None and options.case_events_from == "store":
        return await asyncio.to_thread(find_case_by_number, number)
    lookup = NumberLookup(number)
    scan = replace(options, streams=(Stream.CASE,))
    await replay(scan, lookup, scan.sources(), None, err)
    return lookup.case_id


@dataclass(frozen=True)
class WhatIfQuestion:
    """What `what-if` asks: outcomes under `policy`, compared with sla.events.v1 or with the
    outcomes under `baseline` (decided in the same pass; then sla.events.v1 is not read)."""

    policy: str
    as_of: datetime | str | None = None  # None or "now"; "last": just after the last case event
    baseline: str | None = None
    calendar_overrides: Path | None = None  # as CASEDESK_SLA_CALENDAR_OVERRIDES
    list_breaches: bool = False
    emit: Path | None = None  # write every decided SLA fact here as sla.events.v1 JSON lines

    def fingerprint(self) -> str:
        # Just the policy for a plain what-if, so that earlier checkpoints still match.
        parts = [self.policy]
        if self.baseline:
            parts.append(f"baseline={self.baseline}")
        if self.calendar_overrides:
            parts.append(f"calendar={self.calendar_overrides.resolve()}")
        return ";".join(parts)


async def whatif(options: ReplayOptions, question: WhatIfQuestion,
                 directory: Path | None, formats: tuple[Format, ...], as_json: bool,
                 out: Console, err: Console) -> None:  # fmt: skip
    if question.emit is not None and options.checkpoint is not None:
        raise ValueError("--emit writes every SLA event of one whole pass: leave out --checkpoint")
    overrides = question.calendar_overrides
    calendar = russian_calendar(CalendarOverrides.from_file(overrides) if overrides else None)
    # The SLA service's own registry: its book starts every clock under the what-if policy.
    policies = PolicyRegistry(question.policy, calendar)
    policy = policies.current
    clocks = WhatIfClocks(policies, keep_facts=question.emit is not None)
    baseline = None
    if question.baseline:
        baseline = WhatIfClocks(PolicyRegistry(question.baseline, calendar))
        # Compared with the baseline, not with what was published: sla.events.v1 is not needed.
        options = replace(options, streams=tuple(s for s in options.streams if s is not Stream.SLA))
    state = ReplayState(clocks, from_start=options.reads_from_start(), baseline=baseline)
    await replay(options, state, options.sources(), options.fingerprint(question.fingerprint()),
                 err)  # fmt: skip
    moment = _as_of(question.as_of, clocks)
    rows = whatif_report.compare(state, moment)
    if clocks.unknown_channels:
        skipped = ", ".join(
            f"{name} ({count:,} cases)" for name, count in clocks.unknown_channels.items()
        )
        err.print(f"policy {policy.version} has no targets for {skipped}: not counted")
    if clocks.refused:
        err.print(f"{clocks.refused:,} case events refused (the SLA service dead-letters them)")
    if question.emit is not None:
        written = write_sla_events(question.emit, [*(clocks.facts or []), *clocks.judged(moment)])
        err.print(f"wrote {written:,} SLA events to {question.emit}", style="dim")
    if directory is not None:
        table = {"whatif_outcomes": tables.whatif_outcomes(state, moment)}
        for path in write_tables(table, directory, formats):
            err.print(f"wrote {path}", style="dim")
    breaches = whatif_report.breaches(state, moment) if question.list_breaches else None
    difference = whatif_report.breach_difference(state, moment) if baseline else None
    if as_json:
        out.print_json(render.whatif_json(rows, policy.version, question.baseline, breaches,
                                          difference))  # fmt: skip
    else:
        render.print_whatif(rows, policy.version, out, options.scope(),
                            state.events[Stream.CASE.value], question.baseline)  # fmt: skip
        if question.baseline and difference is not None:
            render.print_breach_difference(difference, policy.version, question.baseline, out)
        if breaches is not None:
            render.print_breaches(breaches, policy.version, out)
    render.warn_about_gaps(find_gaps(state.versions), err)


def _as_of(as_of: datetime | str | None, clocks: WhatIfClocks) -> int:
    if as_of == "last":
        # Just after the last event, so that an alarm due exactly then fires as it would live.
        return clocks.last_event_at + 1 if clocks.last_event_at is not None else 0
    return to_micros(as_of if isinstance(as_of, datetime) else datetime.now(UTC))


def write_sla_events(path: Path, facts: Sequence[Any]) -> int:
    """The facts as sla.events.v1 messages in protobuf JSON, one per line, in decision order."""
    with path.open("w", encoding="utf-8") as lines:
        for fact in facts:
            lines.write(json_format.MessageToJson(sla_event(fact), indent=None) + "\n")
    return len(facts)


class RecordCapture:
    """A fold that writes what it is fed to a record file (no checkpoint: rerun it instead)."""

    def __init__(self, writer: RecordFileWriter) -> None:
        self._writer = writer
        self.events = 0

    def apply(self, stream: Stream, events: Sequence[Any]) -> None:
        self._writer.write_all(stream, (event.SerializeToString() for event in events))
        self.events += len(events)

    def snapshot(self) -> dict[str, Any]:
        raise NotImplementedError("a capture is not checkpointed")

    def restore(self, state: dict[str, Any]) -> None:
        raise NotImplementedError("a capture is not checkpointed")


async def capture(options: ReplayOptions, path: Path, err: Console) -> int:
    # The file says which window it holds, so that its replays judge gaps as this read would.
    with RecordFileWriter(path, options.window()) as writer:
        fold = RecordCapture(writer)
        await replay(options, fold, options.sources(), None, err)
    err.print(f"wrote {fold.events:,} records to {path}", style="dim")
    return fold.events
