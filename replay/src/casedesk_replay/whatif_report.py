"""Comparing the SLA outcomes that happened (sla.events.v1), or those of a baseline policy, with
those a what-if policy would have produced."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from casedesk_replay.projections import ReplayState
from casedesk_replay.projections.sla import BREACHED, MET, MET_LATE, outcome
from casedesk_replay.wire import Micros

_MISSED = frozenset({MET_LATE, BREACHED})


@dataclass(frozen=True)
class WhatIfRow:
    channel: str
    target: str
    clocks: int
    # actual: compliance under the policies the SLA service used, or under the baseline policy
    # (None: unknown, neither sla.events.v1 nor a baseline was replayed)
    actual: float | None
    whatif: float | None  # compliance under the what-if policy
    changed: int  # clocks whose outcome differs
    newly_breached: int  # met on time in fact, missed under the what-if policy
    no_longer_breached: int  # missed in fact, met on time under the what-if policy
    # Under the what-if policy, as the SLA service would publish them:
    warned: int = 0  # clocks that warned
    breached: int = 0  # clocks that breached (met late ones included)
    met: int = 0  # clocks met (late ones included)
    met_late: int = 0


def compare(state: ReplayState, as_of: Micros) -> list[WhatIfRow]:
    """Per channel and target; `actual` needs sla.events.v1 or a baseline in the replay."""
    if state.whatif is None:
        raise ValueError("this replay ran without a what-if policy")
    if state.baseline is not None:
        actual = {(r["case_id"], r["target"]): r["outcome"] for r in state.baseline.rows(as_of)}
    else:
        actual = {key: outcome(row) for key, row in state.sla.clocks.items()}
    groups: dict[tuple[str, str], list[tuple[str | None, dict[str, Any]]]] = defaultdict(list)
    for row in state.whatif.rows(as_of, details=True):
        key = (row["case_id"], row["target"])
        groups[(row["channel"], row["target"])].append((actual.get(key), row))
    return [_row(channel, target, pairs) for (channel, target), pairs in sorted(groups.items())]


def breach_difference(state: ReplayState, as_of: Micros) -> tuple[int, int]:
    """Clocks breached under the what-if policy but not under the baseline, and the reverse
    (a clock met late was breached first); needs a baseline in the replay."""
    if state.whatif is None or state.baseline is None:
        raise ValueError("this replay ran without a what-if and a baseline policy")
    ours, theirs = (_breached(clocks.rows(as_of)) for clocks in (state.whatif, state.baseline))
    return len(ours - theirs), len(theirs - ours)


def _breached(rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(row["case_id"], row["target"]) for row in rows if row["breached_at"] is not None}


def breaches(state: ReplayState, as_of: Micros) -> list[dict[str, Any]]:
    """Every clock the what-if policy breaches by `as_of`, by case and target."""
    if state.whatif is None:
        raise ValueError("this replay ran without a what-if policy")
    rows = (r for r in state.whatif.rows(as_of, details=True) if r["breached_at"] is not None)
    return sorted(rows, key=lambda row: (row["case_id"], row["target"]))


def _row(channel: str, target: str, clocks: list[tuple[str | None, dict[str, Any]]]) -> WhatIfRow:
    pairs = [(before, row["outcome"]) for before, row in clocks]
    known = [(before, after) for before, after in pairs if before is not None]
    rows = [row for _, row in clocks]
    return WhatIfRow(
        channel=channel,
        target=target,
        clocks=len(pairs),
        actual=_rate(before for before, _ in known) if known else None,
        whatif=_rate(after for _, after in pairs),
        changed=sum(1 for before, after in known if before != after),
        newly_breached=sum(1 for before, after in known if before == MET and after in _MISSED),
        no_longer_breached=sum(1 for before, after in known if before in _MISSED and after == MET),
        warned=sum(1 for row in rows if row["warned"]),
        breached=sum(1 for row in rows if row["breached_at"] is not None),
        met=sum(1 for row in rows if row["met_at"] is not None),
        met_late=sum(1 for row in rows if row["met_at"] is not None and row["late"]),
    )


def _rate(outcomes: object) -> float | None:
    decided = [o for o in outcomes if o in (MET, *_MISSED)]  # type: ignore[attr-defined]
    return sum(1 for o in decided if o == MET) / len(decided) if decided else None
