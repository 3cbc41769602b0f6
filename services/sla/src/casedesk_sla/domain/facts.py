"""What the SLA book consumes (facts about a case) and what it records (facts about its clocks).

Both sides are plain values in the domain's words; the protobuf envelopes of case.events.v1 and
sla.events.v1 are translated at the edge (`casedesk_sla.wire`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from casedesk_sla.domain.instants import Micros
from casedesk_vocabulary.enums import DeadlineTarget, Status

# Case facts name statuses, channels, categories and tiers by their vocabulary member's name
# (= value).
WAITING_FOR_CITIZEN = Status.WAITING_FOR_CITIZEN.value
RESOLVING_STATUSES = frozenset({Status.ANSWER_READY.value, Status.CLOSED.value})


@dataclass(frozen=True, slots=True)
class CaseFact:
    case_id: str
    case_version: int
    at: Micros
    event_id: str
    correlation_id: str
    # The W3C traceparent the case event travelled with: the trace the clocks it starts or
    # resumes keep for their warning and breach (domain.trace_context).
    traceparent: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True, slots=True)
class CaseOpened(CaseFact):
    channel: str  # a casedesk_vocabulary Channel name, the key of the policy's channel table
    tier: str
    # A casedesk_vocabulary Category name, "" when the case has none: a policy may set targets
    # by category (2026.1: sign-in problems answered within 24 hours whatever the channel).
    category: str = ""


@dataclass(frozen=True, slots=True)
class StatusChanged(CaseFact):
    from_status: str
    to_status: str
    by_citizen: bool  # the citizen's answer resumes the work; it is no response from support


@dataclass(frozen=True, slots=True)
class PublicReply(CaseFact):
    """A specialist's public comment, or a callback that reached the citizen of a phone case:
    the first one meets the first-response target."""


@dataclass(frozen=True, slots=True)
class TierChanged(CaseFact):
    tier: str


class SlaKind(StrEnum):
    STARTED = "ClockStarted"
    PAUSED = "ClockPaused"
    RESUMED = "ClockResumed"
    WARNING = "Warning"
    BREACHED = "Breached"
    MET = "Met"


@dataclass(frozen=True, slots=True)
class SlaFact:
    """One thing that happened to one clock, with the instants and versions it was computed with.

    `at` is the logical instant of the fact: the case event's time for started, paused, resumed
    and met, the scheduled instant for warning and breached. It never depends on when the service
    happened to run, which is what lets a replay reproduce the facts exactly.
    """

    kind: SlaKind
    case_id: str
    case_version: int
    target: DeadlineTarget
    channel: str
    policy_version: str
    calendar_version: str
    due: Micros
    at: Micros
    run: int  # pauses so far: tells repeated pause/resume facts with equal due instants apart
    event_id: str
    causation_id: str
    correlation_id: str = ""
    warn_at: Micros | None = None
    remaining: Micros | None = None
    tier: str = ""  # the case's tier when a warning or a breach fired ("" for the other kinds)
    late: bool = False
    elapsed_fraction: float = 0.0
    # Where the fact belongs in tracing: the cause's trace, or for a warning and a breach the one
    # of the event that set the clock running. Context, not content: a replay without headers
    # decides equal facts.
    traceparent: str | None = field(default=None, compare=False)
