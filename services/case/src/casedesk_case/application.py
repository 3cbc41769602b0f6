"""The case service's eventsourcing application: the only code that loads and saves cases.

Commands take primitives and domain values and return the view of the case they produced;
queries return views. Persistence is chosen by eventsourcing's own environment variables
(PERSISTENCE_MODULE, SQLITE_DBNAME, POSTGRES_*), optionally prefixed with CASES_.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from eventsourcing.domain import Aggregate, Snapshot
from eventsourcing.persistence import (
    Notification,
    Recording,
)
from eventsourcing.utils import EnvType

from casedesk_case.case_cache import DEFAULT_CASE_CACHE_SIZE, CaseCache
from casedesk_case.commands import (
    Command,
    CommandMeta,
    CommandRunner,
    Decided,
    parse_case_id,
)
from casedesk_case.domain.assignment import Roster, choose_specialist
from casedesk_case.domain.case import Case
from casedesk_case.domain.errors import InvalidCommand, PreconditionFailed
from casedesk_case.domain.numbers import NumberClaim, YearCounter
from casedesk_case.domain.values import (
    Attachment,
    CaseContent,
    CaseType,
    Category,
    Channel,
    Citizen,
    EscalationReason,
    EventContext,
    Origin,
    Priority,
    Status,
    Tier,
)
from casedesk_case.event_storage import CaseEventStorage
from casedesk_case.locks import KeyedLocks
from casedesk_case.numbers import CaseNumberAllocator
from casedesk_case.queries import CaseQueries
from casedesk_case.readmodel import construct_case_index
from casedesk_case.recent_events import RecentEvents
from casedesk_case.roster import load_roster
from casedesk_case.views import CaseView
from casedesk_case.workload import Workload

# A snapshot every 10 events keeps rebuilding any case to a snapshot plus at most 9 events.
CASE_SNAPSHOT_INTERVAL = 10


class CaseApplication(CaseQueries, CaseEventStorage):
    name = "Cases"
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {
        Case: CASE_SNAPSHOT_INTERVAL,
        YearCounter: 100,
    }
    snapshot_class = Snapshot
    # Defaults, overridden by the process environment: an embedded SQLite file next to the
    # process, and a cache of recently used aggregates (fast-forwarded from the store on use).
    env: ClassVar[dict[str, str]] = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": "casedesk-case.sqlite",
        "AGGREGATE_CACHE_MAXSIZE": "5000",
    }

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        roster: Roster | None = None,
        number_block_size: int = 50,
        group_commit: bool = True,
        workload_ttl_s: float = 0.5,
        case_cache_size: int = DEFAULT_CASE_CACHE_SIZE,
    ) -> None:
        self._group_commit = group_commit
        super().__init__(env)
        self.roster = roster if roster is not None else load_roster()
        self.numbers = CaseNumberAllocator(self, number_block_size)
        self.case_locks = KeyedLocks()
        self.case_cache = CaseCache(case_cache_size)
        self.index = construct_case_index(self.factory)
        self.workload = Workload(
            self.index.loads, [s.id for s in self.roster.specialists], workload_ttl_s
        )
        self._runner = CommandRunner(self)
        self._listeners: list[Callable[[], None]] = []
        self._recent_events = RecentEvents()

    # -- followers of the log ---------------------------------------------------------------

    def on_recorded(self, listener: Callable[[], None]) -> None:
        """Call `listener` (without arguments, from the saving thread) after each save."""
        self._listeners.append(listener)

    def _notify(self, recordings: list[Recording]) -> None:
        for recording in recordings:
            event = recording.domain_event
            if isinstance(event, Case.Assigned):  # type: ignore[attr-defined]
                self.workload.assigned(event.specialist_id, event.previous_specialist_id)
        self._recent_events.remember(recordings)
        for listener in self._listeners:
            listener()

    def event_of(self, notification: Notification) -> Any:
        """The domain event of a notification of the log (not decoded again when stored here)."""
        event = self._recent_events.get(notification)
        return event if event is not None else self.mapper.to_domain_event(notification)

    # -- commands ---------------------------------------------------------------------------

    def plan(self, method: Callable[..., CaseView], *args: Any, **kwargs: Any) -> Command:
        """The command `method(*args, **kwargs)` would run, for the command pipeline."""
        return self._runner.plan(method, *args, **kwargs)

    def decide_cached(self, command: Command) -> Decided | None:
        return self._runner.decide_cached(command)

    def execute(self, command: Command) -> CaseView:
        return self._runner.execute(command)

    def create_case(
        self,
        *,
        channel: Channel,
        case_type: CaseType,
        category: Category,
        citizen: Citizen,
        content: CaseContent,
        meta: CommandMeta,
        queue: str = "",
        priority: Priority | None = None,
        origin: Origin | None = None,
        attachments: Sequence[Attachment] = (),
        linked_to: str = "",
        repeat_of: str = "",
    ) -> CaseView:
        linked_id = parse_case_id(linked_to, "linked_to") if linked_to else None
        arguments = (channel, case_type, category, citizen, content, queue, priority, origin,
                     tuple(attachments), linked_to)  # fmt: skip

        def decide(_: Case | None) -> tuple[Case, Sequence[Aggregate]]:
            case, claim = self._register(
                channel, case_type, category, queue or self.roster.queue_for(category, Tier.L1),
                Tier.L1, priority or Priority.NORMAL, citizen, content, origin or Origin(),
                list(attachments), repeat_of, linked_to, meta.context,
            )  # fmt: skip
            if linked_id is None:
                return case, (claim,)
            earlier = self._runner.load_case(linked_id)
            earlier.link(str(case.id), "a later case of the same citizen", meta.context)
            return case, (claim, earlier)

        return self._runner.run("CreateCase", meta, arguments, None, decide)

    def add_comment(
        self,
        case_id: str,
        *,
        body: str,
        public: bool,
        meta: CommandMeta,
        attachments: Sequence[Attachment] = (),
    ) -> CaseView:
        if not body.strip():
            raise InvalidCommand("body", "a comment needs text")
        comment_id = str(uuid.uuid4())
        return self._on_case(
            "AddComment", case_id, meta, (body, public, tuple(attachments)),
            lambda case: case.comment(comment_id, body, public, list(attachments), meta.context),
        )  # fmt: skip

    def change_status(
        self, case_id: str, *, to_status: Status, reason: str, meta: CommandMeta
    ) -> CaseView:
        return self._on_case(
            "ChangeStatus", case_id, meta, (to_status, reason),
            lambda case: case.change_status(to_status, reason, meta.context),
        )  # fmt: skip

    def repeat_case(self, case_id: str, *, reason: str, meta: CommandMeta) -> CaseView:
        """Open a new case repeating an answered one; returns the NEW case."""
        original_id = parse_case_id(case_id)

        def decide(_: Case | None) -> tuple[Case, Sequence[Aggregate]]:
            original = self._runner.load_case(original_id)
            content = CaseContent(
                subject=original.content.subject,
                description=reason,
                service_name=original.content.service_name,
                service_code=original.content.service_code,
            )
            repeat, claim = self._register(
                original.channel, original.case_type, original.category,
                self.roster.queue_for(original.category, original.tier), original.tier,
                original.priority, original.citizen, content, original.origin, [],
                str(original.id), "", meta.context,
            )  # fmt: skip
            original.record_repeat(str(repeat.id), repeat.number, reason, meta.context)
            return repeat, (claim, original)

        with self.case_locks.hold(str(original_id)):
            return self._runner.run("RepeatCase", meta, (case_id, reason), None, decide)

    def request_escalation(
        self, case_id: str, *, reason: EscalationReason, explanation: str, meta: CommandMeta
    ) -> CaseView:
        request_id = str(uuid.uuid4())
        return self._on_case(
            "RequestEscalation", case_id, meta, (reason, explanation),
            lambda case: case.request_escalation(request_id, reason, explanation, meta.context),
        )  # fmt: skip

    def escalate(
        self,
        case_id: str,
        *,
        to_tier: Tier,
        reason: EscalationReason,
        meta: CommandMeta,
        cause_ref: str = "",
        priority: Priority | None = None,
        callback_required: bool = False,
    ) -> CaseView:
        def decide(case: Case) -> None:
            case.escalate(to_tier, reason, cause_ref, priority, callback_required, meta.context)
            # The new tier works the case from its own queue, by the same rule as at intake.
            queue = self.roster.queue_for(case.category, to_tier)
            chosen = choose_specialist(self.roster, queue, to_tier, self._loads(queue, to_tier))
            case.assign(chosen.id if chosen else "", queue, meta.context)

        arguments = (to_tier, reason, cause_ref, priority, callback_required)
        return self._on_case("Escalate", case_id, meta, arguments, decide)

    def assign(self, case_id: str, *, specialist_id: str, meta: CommandMeta) -> CaseView:
        """Assign to the named specialist, or by specialization and load when none is named."""

        def decide(case: Case) -> None:
            if not specialist_id:
                chosen = choose_specialist(
                    self.roster, case.queue, case.tier, self._loads(case.queue, case.tier)
                )
                case.assign(chosen.id if chosen else "", case.queue, meta.context)
                return
            specialist = self.roster.find(specialist_id)
            if specialist is None:
                raise InvalidCommand("specialist_id", "no such specialist in the roster")
            if not specialist.active:
                raise PreconditionFailed(f"specialist {specialist_id} is not active")
            case.assign(specialist_id, case.queue, meta.context)

        return self._on_case("Assign", case_id, meta, (specialist_id,), decide)

    def add_attachment(
        self, case_id: str, *, attachment: Attachment, meta: CommandMeta
    ) -> CaseView:
        return self._on_case(
            "AddAttachment", case_id, meta, (attachment,),
            lambda case: case.add_attachment(attachment, meta.context),
        )  # fmt: skip

    # -- helpers ----------------------------------------------------------------------------

    def _on_case(
        self,
        name: str,
        case_id: str,
        meta: CommandMeta,
        arguments: tuple[object, ...],
        change: Callable[[Case], None],
    ) -> CaseView:
        target = parse_case_id(case_id)

        def decide(case: Case | None) -> tuple[Case, Sequence[Aggregate]]:
            assert case is not None
            change(case)
            return case, ()

        return self._runner.run(name, meta, (case_id, *arguments), target, decide)

    def _register(
        self,
        channel: Channel,
        case_type: CaseType,
        category: Category,
        queue: str,
        tier: Tier,
        priority: Priority,
        citizen: Citizen,
        content: CaseContent,
        origin: Origin,
        attachments: list[Attachment],
        repeat_of: str,
        linked_to: str,
        context: EventContext,
    ) -> tuple[Case, NumberClaim]:
        """A new case with the next number (and its claim), assigned by specialization and load."""
        number = self.numbers.next_number(datetime.now(UTC))
        case = Case(
            number=number, channel=channel, case_type=case_type, category=category,
            queue=queue, tier=tier, priority=priority, citizen=citizen, content=content,
            origin=origin, attachments=attachments, repeat_of=repeat_of, linked_to=linked_to,
            context=context,
        )  # fmt: skip
        chosen = choose_specialist(self.roster, queue, tier, self._loads(queue, tier))
        if chosen is not None:
            case.assign(chosen.id, queue, context)
        return case, NumberClaim(number=number, case_id=str(case.id))

    def _loads(self, queue: str, tier: Tier) -> dict[str, int]:
        return self.workload.loads([s.id for s in self.roster.candidates(queue, tier)])
