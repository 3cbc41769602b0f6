"""Reports on the terminal (rich tables) and as JSON (for scripts and notebooks)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from casedesk_replay.gaps import CaseExample, GapReport, version_ranges
from casedesk_replay.reports import (
    PERCENTILES,
    SCORES,
    Compliance,
    Durations,
    Ratings,
    Repeats,
    SummaryReport,
)
from casedesk_replay.scope import ReadScope
from casedesk_replay.storecheck import StoreComparison
from casedesk_replay.topics import Stream
from casedesk_replay.whatif_report import WhatIfRow
from casedesk_replay.wire import from_micros

_WARNING = "bold yellow"
# Wider than any report: lines are as long as their content where no terminal sets a width.
_UNBOUNDED_WIDTH = 10_000


def console(*, stderr: bool = False) -> Console:
    """A console for stdout or stderr. On a terminal rich fits tables to its width; a file or a
    pipe has none, and rich would assume 80 columns and cut names (FIRST_RESPON…) that scripts
    and spreadsheets then cannot match: there, tables keep their full width."""
    if _is_tty(sys.stderr if stderr else sys.stdout):
        return Console(stderr=stderr)
    return Console(stderr=stderr, width=_UNBOUNDED_WIDTH)


def _is_tty(stream: TextIO) -> bool:
    # The device, not rich's is_terminal: FORCE_COLOR (set by many CI systems) makes rich treat
    # a redirected stream as a terminal, which is right for colours but not for the width.
    try:
        return stream.isatty()
    except ValueError:  # closed
        return False


def report_json(report: SummaryReport, comparison: StoreComparison | None = None) -> str:
    data = asdict(report)
    if comparison is not None:
        data["store_comparison"] = {**asdict(comparison),
                                    "topic_complete": comparison.topic_complete}  # fmt: skip
    for dimension, rows in report.compliance.items():
        for row, plain in zip(rows, data["compliance"][dimension], strict=True):
            plain["rate"] = row.rate
    for repeat, plain in zip(report.repeats, data["repeats"], strict=True):
        plain["rate"] = repeat.rate
    for dimension, ratings in report.ratings.items():
        for rated, plain in zip(ratings, data["ratings"][dimension], strict=True):
            plain["mean"] = rated.mean
    return json.dumps(data, indent=2, ensure_ascii=False)


def print_report(report: SummaryReport, console: Console, scope: ReadScope) -> None:
    """The report's tables; a table with no rows is replaced by one line saying why."""
    console.print(f"Events replayed: {_counts(report.events)}")
    why = _EmptyReasons(report, scope)
    for dimension, rows in report.compliance.items():
        _print_table(console, _compliance_table(dimension, rows), why.compliance())
    _print_table(console, _times_table(report.response_times), why.response_times())
    e = report.escalations
    console.print(
        f"Escalations: {e.escalations:,} ({e.escalated_cases:,} of {e.cases:,} cases), "
        f"{e.requests:,} citizen requests, decisions {e.decisions_accepted:,} accepted / "
        f"{e.decisions_rejected:,} rejected; by reason {_counts(e.by_reason)}; "
        f"to tier {_counts(e.by_tier)}"
    )
    c = report.closures
    console.print(f"Closures: {c.closed:,}; by reason {_counts(c.by_reason)}")
    for dimension, ratings in report.ratings.items():
        _print_table(console, _ratings_table(dimension, ratings), why.ratings())
    _print_table(console, _repeats_table(report.repeats), why.repeats())


class _EmptyReasons:
    """Why a table of the report has no rows, from what was read and what it held."""

    def __init__(self, report: SummaryReport, scope: ReadScope) -> None:
        self._scope = scope
        self._sla_events = report.events.get(Stream.SLA.value, 0)
        self._case_events = report.events.get(Stream.CASE.value, 0)
        self._cases = report.escalations.cases
        # Cases whose registration was read: the repeat rate's overall row counts exactly those.
        self._registered = next((r.cases for r in report.repeats if r.channel == "ALL"), 0)

    def compliance(self) -> str:
        if not self._sla_events:
            return self._scope.no_events(Stream.SLA, "SLA events")
        return f"no SLA clock among the {_many(self._sla_events, 'SLA event')} read"

    def response_times(self) -> str:
        if not self._case_events:
            return self._scope.no_events(Stream.CASE, "case events")
        if not self._registered:
            return self._unregistered()
        return (
            f"none of the {_many(self._registered, 'case')} registered in what was read has a "
            "first response or a resolution yet"
        )

    def ratings(self) -> str:
        if not self._case_events:
            return self._scope.no_events(Stream.CASE, "case events")
        return f"no answer rated in the {_many(self._case_events, 'case event')} read"

    def repeats(self) -> str:
        if not self._case_events:
            return self._scope.no_events(Stream.CASE, "case events")
        return self._unregistered()

    def _unregistered(self) -> str:
        return (
            f"no case registered in what was read: the {_many(self._cases, 'case')} read were "
            "registered before it began"
        )


def _print_table(console: Console, table: Table, why_empty: str) -> None:
    if table.row_count:
        console.print(table)
        return
    console.print(f"{table.title}: {why_empty}", markup=False, highlight=False, soft_wrap=True)


def warn_about_gaps(gaps: GapReport, console: Console) -> None:
    """A loud note on stderr when the case stream has holes; nothing when it has none."""
    if not gaps.cases_with_gaps:
        return
    _say(
        console,
        f"WARNING: gaps in the case stream: {_many(gaps.missing_events, 'event')} missing in "
        f"{gaps.cases_with_gaps:,} of {_many(gaps.cases, 'case')} (versions expected from "
        f"{gaps.judged_from}); {_many(gaps.duplicate_records, 'duplicate record')} (re-sent, "
        "counted once). Figures about these cases are incomplete.",
    )
    _examples(console, gaps.examples, gaps.cases_with_gaps, "missing ")
    _say(
        console,
        "  Cases of which no event arrived cannot show as gaps: compare the topic with the case "
        "event store (casedesk-replay report --compare-with-store).",
    )


def print_store_comparison(c: StoreComparison, console: Console) -> None:
    lines = [
        "Topic compared with the case event store",
        f"  events in the store: {c.stored_events:,} ({_many(c.stored_cases, 'case')})",
        f"  distinct events on the topic (by event id): {c.topic_events:,}",
        f"  stored events missing from the topic: {c.missing_from_topic:,} "
        f"(in {_many(c.cases_missing_events, 'case')}, {c.cases_absent_from_topic:,} of them "
        "with no event on the topic)",
        *_example_lines(c.missing_examples, c.cases_missing_events),
        f"  events on the topic not in the store: {c.not_in_store:,} "
        f"(in {_many(c.cases_not_in_store, 'case')})",
        *_example_lines(c.not_in_store_examples, c.cases_not_in_store),
        f"  duplicate records on the topic: {c.topic_duplicates:,}",
    ]
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def warn_about_missing(c: StoreComparison, console: Console) -> None:
    if c.topic_complete:
        return
    _say(
        console,
        f"WARNING: the topic misses {c.missing_from_topic:,} of the "
        f"{_many(c.stored_events, 'event')} in the case event store "
        f"({_many(c.cases_missing_events, 'case')}).",
    )
    _examples(console, c.missing_examples, c.cases_missing_events, "missing ")


def _examples(console: Console, examples: list[CaseExample], cases: int, what: str) -> None:
    for line in _example_lines(examples, cases, what):
        _say(console, line)


def _example_lines(examples: list[CaseExample], cases: int, what: str = "") -> list[str]:
    lines = [
        f"    case {e.case_id}: {what}version{'s' if len(e.versions) > 1 else ''} "
        f"{version_ranges(e.versions)}"
        for e in examples
    ]
    if cases > len(examples):
        lines.append(f"    ... and {cases - len(examples):,} more cases")
    return lines


def _many(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _say(console: Console, line: str) -> None:
    # soft_wrap: one line per message however narrow the terminal, so scripts can grep it.
    console.print(line, style=_WARNING, markup=False, highlight=False, soft_wrap=True)


def _compliance_table(dimension: str, rows: list[Compliance]) -> Table:
    table = _table(f"SLA compliance per {dimension}", (dimension, "target"),
                   ("met", "met late", "breached", "open", "compliance"))  # fmt: skip
    for row in rows:
        table.add_row(row.group, row.target, f"{row.met:,}", f"{row.met_late:,}",
                      f"{row.breached:,}", f"{row.open:,}", _percent(row.rate))  # fmt: skip
    return table


def _times_table(rows: list[Durations]) -> Table:
    table = _table("Time to first response and to resolution (wall clock)",
                   ("channel", "measure"), ("cases", *(f"p{p}" for p in PERCENTILES)))  # fmt: skip
    for row in rows:
        table.add_row(row.channel, row.measure, f"{row.count:,}",
                      *(_duration(row.percentiles[p]) for p in PERCENTILES))  # fmt: skip
    return table


def _ratings_table(dimension: str, rows: list[Ratings]) -> Table:
    scores = sorted({*SCORES, *(score for row in rows for score in row.scores)})
    table = _table(f"Answer ratings per {dimension} (when rated)", (dimension,),
                   ("ratings", "mean", *(f"{score}" for score in scores)))  # fmt: skip
    for row in rows:
        mean = "-" if row.mean is None else f"{row.mean:.2f}"
        table.add_row(row.group, f"{row.count:,}", mean,
                      *(f"{row.scores.get(score, 0):,}" for score in scores))  # fmt: skip
    return table


def _repeats_table(rows: list[Repeats]) -> Table:
    table = _table("Repeat rate (cases that repeat an earlier answered case)", ("channel",),
                   ("cases", "repeats", "rate"))  # fmt: skip
    for row in rows:
        table.add_row(row.channel, f"{row.cases:,}", f"{row.repeats:,}", _percent(row.rate))
    return table


def _table(title: str, labels: tuple[str, ...], numbers: tuple[str, ...]) -> Table:
    table = Table(title=title)
    for column in labels:
        table.add_column(column)
    for column in numbers:
        table.add_column(column, justify="right")
    return table


def print_whatif(rows: list[WhatIfRow], policy: str, console: Console, scope: ReadScope,
                 case_events: int, baseline: str | None = None) -> None:  # fmt: skip
    """`actual`: compliance as published on sla.events.v1, or under the `baseline` policy."""
    title = f"What if policy {policy} had been in force"
    if baseline:
        title += f" instead of {baseline}"
    table = _table(title, ("channel", "target"),
                   ("clocks", baseline or "actual", "what-if", "changed", "newly breached",
                    "no longer breached", "warned", "breached", "met", "met late"))  # fmt: skip
    for r in rows:
        table.add_row(r.channel, r.target, f"{r.clocks:,}", _percent(r.actual),
                      _percent(r.whatif), f"{r.changed:,}", f"{r.newly_breached:,}",
                      f"{r.no_longer_breached:,}", f"{r.warned:,}", f"{r.breached:,}",
                      f"{r.met:,}", f"{r.met_late:,}")  # fmt: skip
    if case_events:
        read = _many(case_events, "case event")
        why = f"no SLA clock of policy {policy} started in the {read} read"
    else:
        why = scope.no_events(Stream.CASE, "case events")
    _print_table(console, table, why)


def print_breaches(breaches: list[dict[str, Any]], policy: str, console: Console) -> None:
    """One line per breached clock (`--list`): case, target, due instant, tier at the breach."""
    console.print(f"breaches under {policy}: {len(breaches):,}", markup=False, highlight=False)
    for row in breaches:
        due = from_micros(row["due_at"]).isoformat()
        line = f"  {row['case_id']}  {row['target']:<15} due {due}  tier {row['tier']}"
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def print_breach_difference(difference: tuple[int, int], policy: str, baseline: str,
                            console: Console) -> None:  # fmt: skip
    ours, theirs = difference
    for line in (f"breached under {policy} but not under {baseline}: {ours:,}",
                 f"breached under {baseline} but not under {policy}: {theirs:,}"):  # fmt: skip
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def whatif_json(rows: list[WhatIfRow], policy: str, baseline: str | None = None,
                breaches: list[dict[str, Any]] | None = None,
                difference: tuple[int, int] | None = None) -> str:  # fmt: skip
    result: dict[str, Any] = {"policy": policy, "rows": [asdict(r) for r in rows]}
    if baseline:
        result["baseline"] = baseline
    if difference is not None:
        result["breached_only_under_policy"], result["breached_only_under_baseline"] = difference
    if breaches is not None:
        result["breaches"] = [
            {"case_id": row["case_id"], "target": row["target"],
             "due": from_micros(row["due_at"]).isoformat(), "tier": row["tier"]}
            for row in breaches
        ]  # fmt: skip
    return json.dumps(result, indent=2)


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.1%}"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} d"


def _counts(counts: dict[str, Any]) -> str:
    return ", ".join(f"{key} {value:,}" for key, value in counts.items()) or "none"
