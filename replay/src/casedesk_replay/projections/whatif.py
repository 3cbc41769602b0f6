"""What if another SLA policy had been in force: the SLA service's own book, fed case.events.v1.

No clock rule lives here. Each case event goes through the SLA service's codec into its
`SlaBook` (casedesk_sla.domain) under the chosen policy, which decides when a clock starts,
pauses, resumes, warns, breaches and is met, exactly as the service would; this fold only keeps
the SLA facts it decides as one row per clock, in the shape of the fold of sla.events.v1.

Time is never advanced across cases: batches of different partitions arrive in any order, and the
book fires a case's own alarms due before each event of that case anyway. Clocks still running
at the end are judged by letting a copy of the book's time pass up to the as-of instant.

`keep_facts` also keeps every SLA fact decided, in order, to be written out as sla.events.v1
(`--emit`); they are not part of a checkpoint, so such a replay is never resumed.
"""

from __future__ import annotations

import copy
from typing import Any

from casedesk_deadlines import UnknownChannelError
from casedesk_replay.projections.sla import outcome
from casedesk_replay.wire import Micros, micros
from casedesk_sla.replaying import (
    CaseOpened,
    ClockTable,
    PolicyRegistry,
    SlaBook,
    SlaFact,
    SlaKind,
    case_fact,
    case_row,
    restore_rows,
)

Clock = dict[str, Any]

WHATIF_COLUMNS = (
    "case_id", "target", "channel", "policy_version", "calendar_version", "started_at",
    "due_at", "breached_at", "met_at", "late", "pauses", "outcome",
)  # fmt: skip
# The case events that can move a clock; the codec ignores the rest, so they are not decoded.
_CLOCK_PAYLOADS = frozenset({"created", "status_changed", "commented", "escalated"})


class WhatIfClocks:
    def __init__(self, policies: PolicyRegistry, *, keep_facts: bool = False) -> None:
        """New clocks start under `policies.current`, the what-if policy."""
        self.policies = policies
        self.cases: dict[str, dict[str, Clock]] = {}  # case id -> target -> clock row
        self.unknown_channels: dict[str, int] = {}  # channels the policy has no targets for
        self.refused = 0  # case events the service would dead-letter
        self.last_event_at: Micros | None = None  # of every case event, for `--as-of last`
        self.facts: list[SlaFact] | None = [] if keep_facts else None
        self._book = self._new_book(ClockTable())

    def apply(self, event: Any, payload: str | None) -> None:
        at = micros(event.meta.occurred_at)
        if at is not None and (self.last_event_at is None or at > self.last_event_at):
            self.last_event_at = at
        if payload not in _CLOCK_PAYLOADS:
            return
        try:
            fact = case_fact(event)
        except ValueError:
            # No case id, or an enum value unknown here: the service dead-letters it.
            self.refused += 1
            return
        if fact is None:
            return
        try:
            decided = self._book.apply(fact)
        except UnknownChannelError:
            assert isinstance(fact, CaseOpened)  # only a Created looks its channel up
            self.unknown_channels[fact.channel] = self.unknown_channels.get(fact.channel, 0) + 1
            return
        self._book.take_changes()  # nothing stores them; taken so they do not pile up
        for sla_fact in decided:
            self._record(sla_fact)
        if self.facts is not None:
            self.facts.extend(decided)

    def judged(self, as_of: Micros) -> list[SlaFact]:
        """The facts a book would decide by letting time pass up to `as_of` (warnings and
        breaches of running clocks); the book itself is left as it is."""
        return self._new_book(copy.deepcopy(self._book.table)).advance(as_of)

    def rows(self, as_of: Micros, *, details: bool = False) -> list[Clock]:
        """Every clock as of `as_of`: a running clock due before it is breached by then.

        `details`: beyond the table's columns, whether the clock `warned` and the `tier` the
        case was at when it breached, for the report."""
        late: dict[tuple[str, str], SlaFact] = {}
        warned: set[tuple[str, str]] = set()
        for fact in self.judged(as_of):
            key = (fact.case_id, fact.target.value)
            if fact.kind is SlaKind.BREACHED:
                late[key] = fact
            elif fact.kind is SlaKind.WARNING:
                warned.add(key)
        out = []
        for case_id, clocks in self.cases.items():
            for target, clock in clocks.items():
                row = {key: clock[key] for key in WHATIF_COLUMNS if key != "outcome"}
                breach = late.get((case_id, target))
                if breach is not None:
                    row["breached_at"] = breach.at
                row["outcome"] = outcome(row)
                if details:
                    row["warned"] = clock.get("warned", False) or (case_id, target) in warned
                    row["tier"] = breach.tier if breach is not None else clock.get("tier")
                out.append(row)
        return out

    def _new_book(self, table: ClockTable) -> SlaBook:
        # A case with clock rows that is not in the table has finished: as in the service, a
        # Created published again must not start its clocks again.
        return SlaBook(self.policies, is_retired=self.cases.__contains__, table=table)

    def _record(self, fact: SlaFact) -> None:
        kind = fact.kind
        if kind is SlaKind.STARTED:
            clocks = self.cases.setdefault(fact.case_id, {})
            clocks[fact.target.value] = {
                "case_id": fact.case_id, "target": fact.target.value, "channel": fact.channel,
                "policy_version": fact.policy_version, "calendar_version": fact.calendar_version,
                "started_at": fact.at, "due_at": fact.due, "breached_at": None, "met_at": None,
                "late": False, "pauses": 0,
            }  # fmt: skip
            return
        clock = self.cases[fact.case_id][fact.target.value]
        clock["due_at"] = fact.due  # a resume sets a new one; the other facts repeat it
        if kind is SlaKind.PAUSED:
            clock["pauses"] += 1
        elif kind is SlaKind.WARNING:
            clock["warned"] = True
        elif kind is SlaKind.BREACHED:
            clock["breached_at"], clock["tier"] = fact.at, fact.tier
        elif kind is SlaKind.MET:
            clock["met_at"], clock["late"] = fact.at, fact.late

    # -- checkpoint: open clocks as the SLA store keeps them, by case id -----------------------

    def snapshot(self) -> dict[str, Any]:
        table = self._book.table
        open_clocks = {case_id: case_row(table, case) for case_id, case in table.index.items()}
        return {
            "policy": self.policies.current.version,
            "cases": self.cases,
            "open": open_clocks,
            "unknown": self.unknown_channels,
            "refused": self.refused,
            "last_event_at": self.last_event_at,
        }

    def restore(self, state: dict[str, Any]) -> None:
        version = self.policies.current.version
        if state["policy"] != version:
            raise ValueError(f"checkpoint is for policy {state['policy']}, not {version}")
        if "open" not in state:
            raise ValueError("the checkpoint's what-if state is of an earlier release; delete it")
        self.unknown_channels = state["unknown"]
        self.cases = state["cases"]
        self.refused = state.get("refused", 0)
        self.last_event_at = state.get("last_event_at")
        table = ClockTable()
        try:
            restore_rows(table, state["open"].values())
        except ValueError as error:  # rows of another layout (2026.1 added the case's category)
            raise ValueError(
                f"the checkpoint's what-if state is of an earlier release ({error}); delete it"
            ) from error
        self._book = self._new_book(table)
