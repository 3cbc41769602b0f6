"""What if another SLA policy had been in force: the SLA service's own book, fed case.events.v1.

No clock rule lives here. Each case event goes through the SLA service's codec into its
`SlaBook` (casedesk_sla.domain) under the chosen policy, which decides when a clock starts,
pauses, resumes, warns, breaches and is met, exactly as the service would; this fold only keeps
the SLA facts it decides as one row per clock, in the shape of the fold of sla.events.v1.

Time is never advanced across cases: batches of different partitions arrive in any order, and the
book fires a case's own alarms due before each event of that case anyway. Clocks still running
at the end are judged by letting a copy of the book's time pass up to the as-of instant.
"""

from __future__ import annotations

import copy
from typing import Any

from casedesk_deadlines import UnknownChannelError
from casedesk_replay.projections.sla import outcome
from casedesk_replay.wire import Micros
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
    def __init__(self, policies: PolicyRegistry) -> None:
        """New clocks start under `policies.current`, the what-if policy."""
        self.policies = policies
        self.cases: dict[str, dict[str, Clock]] = {}  # case id -> target -> clock row
        self.unknown_channels: dict[str, int] = {}  # channels the policy has no targets for
        self._book = self._new_book(ClockTable())

    def apply(self, event: Any, payload: str | None) -> None:
        if payload not in _CLOCK_PAYLOADS:
            return
        try:
            fact = case_fact(event)
        except ValueError:
            return  # no case id, or an enum value unknown here: the service dead-letters it
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

    def rows(self, as_of: Micros) -> list[Clock]:
        """Every clock as of `as_of`: a running clock due before it is breached by then."""
        judged = self._new_book(copy.deepcopy(self._book.table))
        breached = {
            (fact.case_id, fact.target.value): fact.at
            for fact in judged.advance(as_of)
            if fact.kind is SlaKind.BREACHED
        }
        out = []
        for case_id, clocks in self.cases.items():
            for target, clock in clocks.items():
                row = {key: clock[key] for key in WHATIF_COLUMNS if key != "outcome"}
                row["breached_at"] = breached.get((case_id, target), row["breached_at"])
                row["outcome"] = outcome(row)
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
        elif kind is SlaKind.BREACHED:
            clock["breached_at"] = fact.at
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
        }

    def restore(self, state: dict[str, Any]) -> None:
        version = self.policies.current.version
        if state["policy"] != version:
            raise ValueError(f"checkpoint is for policy {state['policy']}, not {version}")
        if "open" not in state:
            raise ValueError("the checkpoint's what-if state is of an earlier release; delete it")
        self.unknown_channels = state["unknown"]
        self.cases = state["cases"]
        table = ClockTable()
        restore_rows(table, state["open"].values())
        self._book = self._new_book(table)
