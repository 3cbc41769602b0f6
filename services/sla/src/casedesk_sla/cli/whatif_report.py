"""The what-if report: per channel and target, how many clocks warned, breached, met late."""

from __future__ import annotations

from collections import Counter
from io import StringIO

from casedesk_sla.application.replay import Replay
from casedesk_sla.domain import SlaFact, SlaKind, from_micros

_COLUMNS = ("clocks", "warned", "breached", "met", "met late")


def breaches(result: Replay) -> dict[tuple[str, str], SlaFact]:
    return {
        (fact.case_id, fact.target.value): fact
        for fact in result.facts
        if fact.kind is SlaKind.BREACHED
    }


def tally(result: Replay) -> dict[tuple[str, str], Counter[str]]:
    rows: dict[tuple[str, str], Counter[str]] = {}
    names = {
        SlaKind.STARTED: "clocks",
        SlaKind.WARNING: "warned",
        SlaKind.BREACHED: "breached",
        SlaKind.MET: "met",
    }
    for fact in result.facts:
        row = rows.setdefault((fact.channel, fact.target.value), Counter())
        if fact.kind in names:
            row[names[fact.kind]] += 1
        if fact.kind is SlaKind.MET and fact.late:
            row["met late"] += 1
    return rows


def render_report(
    policy: str,
    result: Replay,
    baseline_policy: str | None,
    baseline: Replay | None,
    as_of: str,
    list_breaches: bool = False,
) -> str:
    out = StringIO()
    span = "-"
    if result.first_event_at is not None and result.last_event_at is not None:
        first, last = from_micros(result.first_event_at), from_micros(result.last_event_at)
        span = f"{first.isoformat()} .. {last.isoformat()}"
    out.write(f"What-if replay of {result.events} case events ({span}), as of {as_of}\n")
    if result.rejected:
        out.write(f"{result.rejected} events refused (as the service would dead-letter them)\n")
    calendars = sorted({fact.calendar_version for fact in result.facts})
    out.write(f"policy {policy}, calendar {', '.join(calendars) or '-'}\n\n")
    out.write(f"{'channel':<18}{'target':<16}" + "".join(f"{c:>10}" for c in _COLUMNS) + "\n")
    for (channel, target), counts in sorted(tally(result).items()):
        cells = "".join(f"{counts[c]:>10}" for c in _COLUMNS)
        out.write(f"{channel:<18}{target:<16}{cells}\n")
    ours = breaches(result)
    if baseline is not None:
        theirs = breaches(baseline)
        out.write(
            f"\nbreached under {policy} but not under {baseline_policy}: "
            f"{len(ours.keys() - theirs.keys())}\n"
            f"breached under {baseline_policy} but not under {policy}: "
            f"{len(theirs.keys() - ours.keys())}\n"
        )
    if list_breaches:
        out.write(f"\nbreaches under {policy}:\n")
        for (case_id, target), fact in sorted(ours.items()):
            due = from_micros(fact.due).isoformat()
            out.write(f"  {case_id}  {target:<15} due {due}  tier {fact.tier}\n")
    return out.getvalue().rstrip("\n")
