"""The escalation desk: folds consumed events into per-case state and lets the policy decide.

One call decides one consumed batch and returns what has to be committed atomically: the changed
case states, a journal entry per decision (with the Escalate command of an accepted one) and the
next offset of every partition. Nothing is sent from here; the command runner and the journal
relay act only on what the store has committed.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from opentelemetry import propagate

from casedesk_escalation.application.ports import DecisionEncoding, DecisionStore
from casedesk_escalation.application.records import DecidedBatch, JournalEntry, Partition
from casedesk_escalation.domain.case_state import CaseState
from casedesk_escalation.domain.decisions import Decision
from casedesk_escalation.domain.observation import Observation
from casedesk_escalation.domain.policy import EscalationPolicy
from casedesk_escalation.domain.triggers import Trigger
from casedesk_runtime.kafka import extract_trace_context
from casedesk_runtime.logs import get_logger
from casedesk_runtime.telemetry import tracer

log = get_logger(__name__)
_tracer = tracer(__name__)


@dataclass(frozen=True)
class Consumed:
    """One consumed record, decoded (observation) or not (None: it was dead-lettered)."""

    partition: Partition
    offset: int
    observation: Observation | None
    headers: tuple[tuple[str, bytes], ...] = ()


class EscalationDesk:
    def __init__(
        self,
        policy: EscalationPolicy,
        store: DecisionStore,
        cache_size: int,
        encoding: DecisionEncoding,
    ) -> None:
        self.policy = policy
        self._store = store
        self._encoding = encoding
        self._cache: OrderedDict[str, CaseState] = OrderedDict()
        self._cache_size = cache_size

    def forget(self) -> None:
        """Drop cached states, which may be ahead of the store after a failed commit or belong
        to another process after a rebalance."""
        self._cache.clear()

    async def decide(
        self, items: Sequence[Consumed], stored: Mapping[Partition, int | None]
    ) -> DecidedBatch:
        cases = await self._states({i.observation.case_id for i in items if i.observation})
        batch = DecidedBatch()
        for item in items:
            observation = item.observation
            if observation is not None:
                state = cases[observation.case_id]
                for fact in observation.facts:
                    state.apply(fact)
                trigger = observation.trigger
                if trigger is not None and state.is_redelivery(trigger):
                    log.info(
                        "trigger delivered again; already decided",
                        extra={"case_id": trigger.case_id, "trigger_event_id": trigger.event_id},
                    )
                elif trigger is not None:
                    self._decide(batch, state, trigger, item.headers)
                batch.cases[state.case_id] = state
            batch.advance(item.partition, stored.get(item.partition), item.offset + 1)
        self._remember(batch.cases)
        return batch

    def _decide(
        self,
        batch: DecidedBatch,
        state: CaseState,
        trigger: Trigger,
        headers: Sequence[tuple[str, bytes]],
    ) -> None:
        parent = extract_trace_context(headers)
        with _tracer.start_as_current_span("escalation.decide", context=parent) as span:
            decision = self.policy.decide(state, trigger)
            state.record(decision)
            span.set_attribute("casedesk.case_id", trigger.case_id)
            span.set_attribute("casedesk.escalation.accepted", decision.accepted)
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            _log(decision)
        encoded = self._encoding.encode(decision, state.version)
        entry = JournalEntry(
            decision_id=encoded.decision_id,
            case_id=trigger.case_id,
            record=encoded.record,
            command=encoded.command,
            trace=json.dumps(carrier) if carrier else "",
        )
        batch.entries.append(entry)
        batch.decisions.append(decision)

    async def _states(self, case_ids: set[str]) -> dict[str, CaseState]:
        missing = [case_id for case_id in case_ids if case_id not in self._cache]
        loaded = await self._store.load_cases(missing) if missing else {}
        states = {}
        for case_id in case_ids:
            states[case_id] = self._cache.get(case_id) or loaded.get(case_id) or CaseState(case_id)
        return states

    def _remember(self, cases: Mapping[str, CaseState]) -> None:
        for case_id, state in cases.items():
            self._cache[case_id] = state
            self._cache.move_to_end(case_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def _log(decision: Decision) -> None:
    # The journal carries every decision with its explanation; the log keeps a short line per
    # escalation for operators, and rejections only at DEBUG (they are the bulk of a replay).
    trigger = decision.trigger
    if decision.accepted:
        log.info(
            "escalation accepted",
            extra={
                "case_id": trigger.case_id,
                "reason": trigger.reason.value,
                "from_tier": decision.from_tier.name,
                "to_tier": decision.to_tier.name if decision.to_tier else "",
            },
        )
    elif log.isEnabledFor(logging.DEBUG):
        log.debug(
            "escalation rejected",
            extra={
                "case_id": trigger.case_id,
                "reason": trigger.reason.value,
                "explanation": decision.explanation,
            },
        )
