"""Comparing the SLA outcomes that happened with those a what-if policy would have produced."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from casedesk_replay.projections import ReplayState
from casedesk_replay.projections.sla import BREACHED, MET, MET_LATE, outcome
from casedesk_replay.wire import Micros

_MISSED = frozenset({MET_LATE, BREACHED})


@dataclass(frozen=True)
class WhatIfRow:
    channel: str
    target: str
    clocks: int
    actual: float | None  # compliance under the policies the SLA service used (None: unknown)
    whatif: float | None  # compliance under the what-if policy
    changed: int  # clocks whose outcome differs
    newly_breached: int  # met on time in fact, missed under the what-if policy
    no_longer_breached: int  # missed in fact, met on time under the what-if policy


def compare(state: ReplayState, as_of: Micros) -> list[WhatIfRow]:
    """Per channel and target; `actual` needs sla.events.v1 in the replay."""
    if state.whatif is None:
        raise ValueError("this replay ran without a what-if policy")
    actual = {key: outcome(row) for key, row in state.sla.clocks.items()}
    groups: dict[tuple[str, str], list[tuple[str | None, str]]] = defaultdict(list)
    for row in state.whatif.rows(as_of):
        key = (row["case_id"], row["target"])
        groups[(row["channel"], row["target"])].append((actual.get(key), row["outcome"]))
    return [_row(channel, target, pairs) for (channel, target), pairs in sorted(groups.items())]


def _row(channel: str, target: str, pairs: list[tuple[str | None, str]]) -> WhatIfRow:
    known = [(before, after) for before, after in pairs if before is not None]
    return WhatIfRow(
        channel=channel,
        target=target,
        clocks=len(pairs),
        actual=_rate(before for before, _ in known) if known else None,
        whatif=_rate(after for _, after in pairs),
        changed=sum(1 for before, after in known if before != after),
        newly_breached=sum(1 for before, after in known if before == MET and after in _MISSED),
        no_longer_breached=sum(1 for before, after in known if before in _MISSED and after == MET),
    )


def _rate(outcomes: object) -> float | None:
    decided = [o for o in outcomes if o in (MET, *_MISSED)]  # type: ignore[attr-defined]
    return sum(1 for o in decided if o == MET) / len(decided) if decided else None
