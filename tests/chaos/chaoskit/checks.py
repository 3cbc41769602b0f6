"""The verdict of a chaos run: what the callers were told against what the system holds.

Cases: every case acknowledged to the frontend must be in the case event store (the replay's
export from the store) and on case.events.v1, created once: one distinct `Created` event id,
and no second case for the same submission (each submission has a citizen of its own). Every
comment acknowledged must be on the topic once.

Notices: every notifying case event on the topic (registration, status change, escalation, a
specialist's public reply; the reply window is off) must have reached the SMTP server once and
the SMS gateway once, by Message-ID / client message id (uuid5 of event id and channel). No
deduplication is applied: a message accepted twice is a duplicate, listed with its cause.

Breaches: for every clock the replay (`what-if` under the recorded policy) decides breached up
to the cut-off instant, exactly one distinct `Breached` event on sla.events.v1, counted by event
id and per (case, target).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2 as T
from casedesk.notification.v1 import events_pb2 as journal_pb2
from casedesk.sla.v1 import events_pb2 as sla_pb2
from casedesk_notify.domain import DeliveryChannel
from casedesk_notify.domain.identity import notification_id
from casedesk_notify.testing.sinks import AcceptedEmail, AcceptedSms

from .load import Ledger
from .reading import Rec
from .supervisor import Exit

NOTIFYING = frozenset({"created", "status_changed", "escalated"})
CHANNELS = (DeliveryChannel.EMAIL, DeliveryChannel.SMS)
# Case events that can stop, pause or meet a clock (services/sla README, "Clock rules").
CLOCK_EVENTS = frozenset({"status_changed", "commented"})
# Why a breach on sla.events.v1 that the replay does not decide is there (_unexpected_cause).
RELAY_LAGGED, READ_LATE, UNEXPLAINED = "relay_lagged", "read_late", "unexplained"


@dataclass(frozen=True)
class Problem:
    """One thing lost, doubled or unexpected, named by case number / ids only."""

    what: str
    case: str  # "number (case id)"
    detail: str

    def line(self) -> str:
        return f"  {self.what}: case {self.case}: {self.detail}"


@dataclass
class Verdict:
    cases_acknowledged: int = 0
    cases_lost: list[Problem] = field(default_factory=list)
    cases_doubled: list[Problem] = field(default_factory=list)
    comments_lost: list[Problem] = field(default_factory=list)
    comments_doubled: list[Problem] = field(default_factory=list)
    case_event_records: int = 0
    case_events: int = 0  # distinct by event id
    store_comparison: dict[str, Any] = field(default_factory=dict)
    notifications_expected: int = 0
    notifications_missing: list[Problem] = field(default_factory=list)
    notifications_duplicated: list[Problem] = field(default_factory=list)
    notifications_unexplained_duplicates: int = 0
    notifications_unexpected: int = 0  # received, but for no notifying event
    breaches_expected: int = 0
    breaches_missed: list[Problem] = field(default_factory=list)
    breaches_doubled: list[Problem] = field(default_factory=list)
    breaches_unexpected: list[Problem] = field(default_factory=list)
    breaches_unexpected_by_cause: Counter[str] = field(default_factory=Counter)
    breach_ids_differ: int = 0
    breach_records_republished: int = 0
    breaches_after_cut_off: int = 0


# -- cases ---------------------------------------------------------------------------------------


def distinct(records: Iterable[Rec[Any]]) -> dict[str, Rec[Any]]:
    """The first record of every event id (a relay re-sends with the same id)."""
    first: dict[str, Rec[Any]] = {}
    for record in records:
        first.setdefault(record.event.meta.event_id, record)
    return first


def check_cases(
    verdict: Verdict,
    ledger: Ledger,
    case_records: Sequence[Rec[events_pb2.CaseEvent]],
    stored_cases: set[str],
) -> None:
    events = distinct(case_records)
    verdict.case_event_records, verdict.case_events = len(case_records), len(events)
    verdict.cases_acknowledged = len(ledger.acknowledged)
    created: dict[str, list[str]] = defaultdict(list)  # case id -> Created event ids
    cases_of: dict[str, set[str]] = defaultdict(set)  # citizen login -> case ids
    numbers: dict[str, str] = {}
    for event_id, record in events.items():
        event = record.event
        if event.WhichOneof("payload") == "created":
            created[event.meta.case_id].append(event_id)
            cases_of[event.created.citizen.account_login].add(event.meta.case_id)
            numbers[event.meta.case_id] = event.created.number
    name = _namer(numbers)
    for case_id, case in ledger.acknowledged.items():
        where = [
            place
            for place, holds in (("the event store", case_id in stored_cases),
                                 ("case.events.v1", case_id in created))
            if not holds
        ]  # fmt: skip
        if where:
            verdict.cases_lost.append(
                Problem("case lost", f"{case.number} ({case_id})", "not in " + " nor ".join(where))
            )
        if len(created.get(case_id, ())) > 1:
            verdict.cases_doubled.append(Problem(
                "case created twice", name(case_id),
                f"{len(created[case_id])} distinct Created events",
            ))  # fmt: skip
    for login, case_ids in cases_of.items():
        if login in ledger.submitted and len(case_ids) > 1:
            verdict.cases_doubled.append(Problem(
                "one submission, several cases", ", ".join(sorted(map(name, case_ids))),
                f"{len(case_ids)} cases for one idempotency key",
            ))  # fmt: skip
    _check_comments(verdict, ledger, events.values(), name)


def _check_comments(
    verdict: Verdict, ledger: Ledger, events: Iterable[Rec[events_pb2.CaseEvent]], name: Any
) -> None:
    stored: Counter[str] = Counter()
    for record in events:
        if record.event.WhichOneof("payload") == "commented":
            body = record.event.commented.body
            if body.endswith("]") and "[" in body:
                stored[body.rsplit("[", 1)[1][:-1]] += 1
    for marker, case_id in ledger.comments.items():
        if not stored[marker]:
            verdict.comments_lost.append(Problem("comment lost", name(case_id), marker))
        elif stored[marker] > 1:
            verdict.comments_doubled.append(
                Problem("comment stored twice", name(case_id), f"{marker}: {stored[marker]}")
            )


# -- notices -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    case_id: str
    number: str
    kind: str
    channel: DeliveryChannel


def expected_notices(case_records: Sequence[Rec[events_pb2.CaseEvent]]) -> dict[str, Expected]:
    """Notification id -> what it announces, for every notifying event on the topic."""
    numbers: dict[str, str] = {}
    wanted: dict[str, Expected] = {}
    for record in distinct(case_records).values():
        event = record.event
        kind = event.WhichOneof("payload")
        if kind == "created":
            numbers[event.meta.case_id] = event.created.number
        by_specialist = event.meta.actor.kind == T.Actor.SPECIALIST
        reply = kind == "commented" and event.commented.public and by_specialist
        if kind in NOTIFYING or reply:
            for channel in CHANNELS:
                key = notification_id(event.meta.event_id, channel)
                wanted[key] = Expected(event.meta.case_id, "", str(kind), channel)
    return {
        key: Expected(e.case_id, numbers.get(e.case_id, "?"), e.kind, e.channel)
        for key, e in wanted.items()
    }


def mail_ids(mails: Iterable[AcceptedEmail]) -> Counter[str]:
    """Notification id (the Message-ID's left-hand side) -> e-mails accepted with it."""
    return Counter(mail.message_id.strip("<>").split("@")[0] for mail in mails)


def sms_ids(texts: Iterable[AcceptedSms]) -> Counter[str]:
    return Counter(sms.fields.get("client_message_id", "") for sms in texts)


def check_notices(
    verdict: Verdict,
    wanted: dict[str, Expected],
    mails: Sequence[AcceptedEmail],
    texts: Sequence[AcceptedSms],
    texts_absorbed: Sequence[AcceptedSms],
    journal: Sequence[Rec[journal_pb2.NotificationEvent]],
    journal_rows: dict[str, dict[str, Any]],
    exits: Sequence[Exit],
) -> None:
    verdict.notifications_expected = len(wanted)
    received = {DeliveryChannel.EMAIL: mail_ids(mails), DeliveryChannel.SMS: sms_ids(texts)}
    absorbed = sms_ids(texts_absorbed)  # sent again, dropped by the deduplicating gateway
    accepted_at = _accepted_at(mails, texts, texts_absorbed)
    unknown_outcomes = _unknown_outcomes(journal)
    notify_down = sorted(e.at for e in exits if e.service == "notify")
    for key, notice in sorted(wanted.items(), key=lambda item: item[1].number):
        case = f"{notice.number} ({notice.case_id})"
        got = received[notice.channel][key]
        label = f"{notice.kind} {notice.channel.value} {key}"
        if not got:
            row = journal_rows.get(key)
            state = f"journal: {row['state']}, {row['attempts']} attempts" if row else (
                "no journal entry: notify never planned it"
            )  # fmt: skip
            verdict.notifications_missing.append(
                Problem("notice missing", case, f"{label}; {state}")
            )
        extra = got - 1 + absorbed[key]
        if extra > 0:
            cause = _duplicate_cause(
                accepted_at.get(key, []), unknown_outcomes.get(key), notify_down
            )
            how = "absorbed by the SMS gateway" if absorbed[key] else "delivered"
            if cause.startswith("unexplained"):
                verdict.notifications_unexplained_duplicates += extra
            verdict.notifications_duplicated.extend(
                Problem("notice sent again", case, f"{label}; {how}; {cause}") for _ in range(extra)
            )
    verdict.notifications_unexpected = sum(
        n for counts in received.values() for key, n in counts.items() if key not in wanted
    )


def _accepted_at(*sinks: Iterable[Any]) -> dict[str, list[float]]:
    instants: dict[str, list[float]] = defaultdict(list)
    for sink in sinks:
        for message in sink:
            if isinstance(message, AcceptedEmail):
                key = message.message_id.strip("<>").split("@")[0]
            else:
                key = message.fields.get("client_message_id", "")
            instants[key].append(message.accepted_at)
    return {key: sorted(times) for key, times in instants.items()}


def _unknown_outcomes(journal: Iterable[Rec[journal_pb2.NotificationEvent]]) -> dict[str, int]:
    """Notification id -> attempts the journal recorded with an unknown outcome."""
    found: Counter[str] = Counter()
    for record in journal:
        entry = record.event
        if entry.WhichOneof("payload") == "failed" and "outcome unknown" in entry.failed.error:
            found[entry.notification_id] += 1
    return found


# How long a request notify wrote before a kill may wait for the sink's loop to answer it.
IN_FLIGHT_S = 2.0


def _duplicate_cause(accepted: list[float], unknown: int | None, notify_down: list[float]) -> str:
    if unknown:
        return (
            f"the provider's answer was lost ({unknown} attempts with an unknown outcome in the "
            "journal): resent under the same id, as notify's README documents"
        )
    first, last = (accepted[0], accepted[-1]) if accepted else (0.0, 0.0)
    # A request notify wrote just before it was killed can be answered by the sink after the kill
    # was recorded (the sinks run on this harness's event loop, as the supervisor does): a kill
    # up to IN_FLIGHT_S before the first acceptance still falls in the crash window.
    crashes = [at for at in notify_down if first - IN_FLIGHT_S <= at <= last]
    if crashes:
        return (
            "notify was killed after the provider accepted and before `sent` committed (the "
            "crash window notify's README documents): resent after the restart"
        )
    return "unexplained: no unknown outcome journalled and no notify crash in between"


# -- breaches ------------------------------------------------------------------------------------


def check_breaches(
    verdict: Verdict,
    decided: Sequence[sla_pb2.SlaEvent],
    sla_records: Sequence[Rec[sla_pb2.SlaEvent]],
    case_records: Sequence[Rec[events_pb2.CaseEvent]],
    cut_off: datetime,
) -> None:
    numbers = {
        r.event.meta.case_id: r.event.created.number
        for r in case_records
        if r.event.WhichOneof("payload") == "created"
    }
    name = _namer(numbers)
    limit = cut_off.timestamp()
    expected = {
        (e.meta.case_id, e.target): e
        for e in decided
        if e.due_at.ToDatetime(UTC).timestamp() <= limit
    }
    verdict.breaches_expected = len(expected)
    breach_records = [r for r in sla_records if r.event.WhichOneof("payload") == "breached"]
    published = distinct(breach_records)
    verdict.breach_records_republished = len(breach_records) - len(published)
    ids_of: dict[tuple[str, int], set[str]] = defaultdict(set)
    for event_id, record in published.items():
        event = record.event
        if event.due_at.ToDatetime(UTC).timestamp() > limit:
            verdict.breaches_after_cut_off += 1
            continue
        ids_of[(event.meta.case_id, event.target)].add(event_id)
    for key, event in expected.items():
        target = sla_pb2.Target.Name(key[1])
        found = ids_of.get(key, set())
        if not found:
            verdict.breaches_missed.append(Problem("breach missed", name(key[0]), target))
        elif len(found) > 1:
            verdict.breaches_doubled.append(
                Problem("breach doubled", name(key[0]), f"{target}: {len(found)} distinct ids")
            )
        if found and event.meta.event_id not in found:
            verdict.breach_ids_differ += 1
    late = _late_clock_events(case_records)
    for key, ids in ids_of.items():
        if key in expected:
            continue
        due = published[next(iter(ids))].event.due_at.ToDatetime(UTC).timestamp()
        target = sla_pb2.Target.Name(key[1])
        category, cause = _unexpected_cause(late.get(key[0], []), due)
        verdict.breaches_unexpected_by_cause[category] += 1
        verdict.breaches_unexpected.append(
            Problem("breach the replay does not decide", name(key[0]), f"{target}; {cause}")
        )
        if len(ids) > 1:
            verdict.breaches_doubled.append(
                Problem("breach doubled", name(key[0]), f"{target}: {len(ids)} distinct ids")
            )


def _late_clock_events(
    case_records: Sequence[Rec[events_pb2.CaseEvent]],
) -> dict[str, list[tuple[float, float, int]]]:
    """Case id -> (occurred, first published, version) of its events that can stop a clock."""
    found: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    for record in distinct(case_records).values():
        event = record.event
        if event.WhichOneof("payload") in CLOCK_EVENTS:
            occurred = event.meta.occurred_at.ToDatetime(UTC).timestamp()
            found[event.meta.case_id].append(
                (occurred, record.published_at, event.meta.case_version)
            )
    return found


def _unexpected_cause(events: list[tuple[float, float, int]], due: float) -> tuple[str, str]:
    """(category, words) of a breach the replay does not decide, from the case's events that
    could have stopped the clock: one on Kafka only after the due instant (the relay lagged:
    the divergence services/sla/README.md documents), or one timed before it that the SLA
    service could read only after firing (chaos defect 1 before its fix; since, a record readable
    later than its time says)."""
    lagged = [
        (v, published - due) for occurred, published, v in events if occurred <= due < published
    ]
    if lagged:
        version, seconds = min(lagged)
        return RELAY_LAGGED, (
            f"case event v{version}, made before the due instant, reached Kafka {seconds:.1f} s "
            "after it (a lagging relay: the divergence services/sla/README.md documents)"
        )
    on_time = [(due - published, v) for occurred, published, v in events if published <= due]
    if on_time:
        seconds, version = min(on_time)
        return READ_LATE, (
            f"case event v{version} bears a time {seconds:.1f} s before the due instant, yet the "
            "SLA service fired first: alarms fire up to the broker's last answer (less 250 ms) "
            "that showed the partition read whole, so the record became readable only after it "
            "(awaiting its in-sync replicas, a leader moving)"
        )
    return UNEXPLAINED, "unexplained: no case event made before the due instant"


def _namer(numbers: dict[str, str]) -> Any:
    return lambda case_id: f"{numbers.get(case_id, '?')} ({case_id})"
