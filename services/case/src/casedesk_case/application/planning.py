"""Planning the case application's commands: arguments checked, the decision prepared.

A plan reads nothing and changes nothing: it is a `Command` (name, arguments, the case it
targets, and how it decides on that case). The application runs a plan at once; the command
pipeline queues plans and decides many in one batch. Every command method of the application has
a planning method of the same name and arguments here (`COMMANDS`).

A person's command (`meta.person`, domain/person_rules.py) passes the rules that need no case when
it is planned, and the tier rule when it is decided: on the very state its events are appended
to, so the check and the write cannot drift apart (a case another replica escalated meanwhile
fails the save's version check, and the command is decided again on the new state).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import UUID

from eventsourcing.domain import Aggregate

from casedesk_case.application.closing import ClosingPlans
from casedesk_case.application.command import Command, CommandMeta, parse_case_id
from casedesk_case.application.numbering import CaseNumberAllocator
from casedesk_case.application.personal_fields import comment_field, content_field
from casedesk_case.application.workload import Workload
from casedesk_case.domain.assignment import Roster, choose_specialist
from casedesk_case.domain.case import Case
from casedesk_case.domain.errors import InvalidCommand, PreconditionFailed
from casedesk_case.domain.lifecycle import REPEATABLE
from casedesk_case.domain.numbers import NumberClaim
from casedesk_case.domain.person_rules import Work, check_may, check_may_take, check_may_work
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

if TYPE_CHECKING:  # casedesk_keys is imported only when sealing is on
    from casedesk_case.application.personal_data import PersonalData

COMMANDS = frozenset({
    "create_case", "add_comment", "change_status", "repeat_case", "request_escalation",
    "escalate", "assign", "add_attachment", "confirm_answer", "rate_answer", "close_case",
    "merge_cases", "record_callback", "close_without_reaction",
})  # fmt: skip


class CommandPlanner(ClosingPlans):
    def __init__(
        self,
        roster: Roster,
        numbers: CaseNumberAllocator,
        workload: Workload,
        load_case: Callable[[UUID], Case],
        overdue: Callable[[Case], bool] = lambda case: False,
        personal: PersonalData | None = None,
    ) -> None:
        self._roster = roster
        self._numbers = numbers
        self._workload = workload
        self._load_case = load_case  # for decisions that change a second case
        # Whether the SLA service said a deadline of the case passed (CaseQueries.overdue).
        self._overdue = overdue
        # Seals personal fields as commands are decided (application/personal_data.py); None:
        # CASEDESK_SEAL_PERSONAL_DATA off, everything stored as the caller sent it.
        self._personal = personal

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
    ) -> Command:
        linked_id = parse_case_id(linked_to, "linked_to") if linked_to else None
        arguments = (channel, case_type, category, citizen, content, queue, priority, origin,
                     tuple(attachments), linked_to)  # fmt: skip
        # A person registers a case for a citizen they met (a call, a visit) and identified;
        # through intake, an operator who identified the citizen may act for him.
        identified_by = meta.context.identified_by
        if meta.person is not None:
            check_may(meta.person, Work.REGISTER, channel)
            identified_by = meta.person.username

        def decide(_: Case | None) -> tuple[Case, Sequence[Aggregate]]:
            case, claim = self._register(
                channel, case_type, category, queue or self._roster.queue_for(category, Tier.L1),
                Tier.L1, priority or Priority.NORMAL, citizen, content, origin or Origin(),
                list(attachments), repeat_of, linked_to, meta.context, identified_by,
            )  # fmt: skip
            if linked_id is None:
                return case, (claim,)
            earlier = self._load_case(linked_id)
            earlier.link(str(case.id), "a later case of the same citizen", meta.context)
            return case, (claim, earlier)

        return Command("CreateCase", meta, arguments, None, decide, new_citizen=citizen)

    def add_comment(
        self,
        case_id: str,
        *,
        body: str,
        public: bool,
        meta: CommandMeta,
        attachments: Sequence[Attachment] = (),
    ) -> Command:
        if not body.strip():
            raise InvalidCommand("body", "a comment needs text")
        comment_id = str(uuid.uuid4())

        def comment(case: Case) -> None:
            text, files = body, list(attachments)
            if self._personal is not None:
                sealer = self._personal.sealer_of(case)
                text = sealer.text(comment_field(comment_id), body)
                files = sealer.attachments(files)
            case.comment(comment_id, text, public, files, meta.context)

        return _on_case(
            "AddComment", case_id, meta, (body, public, tuple(attachments)), comment
        )  # fmt: skip

    def change_status(
        self, case_id: str, *, to_status: Status, reason: str, meta: CommandMeta
    ) -> Command:
        person = meta.person
        if to_status is not Status.IN_PROGRESS or person is None:
            # A service (or an unverified actor in insecure dev mode) only moves the status:
            # a case is made somebody's by a verified username, never by a request's word.
            return _on_case(
                "ChangeStatus", case_id, meta, (to_status, reason),
                lambda case: case.change_status(to_status, reason, meta.context),
            )  # fmt: skip

        def take(case: Case) -> None:  # TAKE_IN_WORK by a person: assigned to them, IN_PROGRESS
            check_may_take(person, case.number, self._roster.person_holder(case.assignee))
            case.take(person.username, reason, meta.context)

        return _on_case("ChangeStatus", case_id, meta, (to_status, reason), take)

    def repeat_case(
        self,
        case_id: str,
        *,
        reason: str,
        meta: CommandMeta,
        channel: Channel | None = None,
        origin: Origin | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> Command:
        """A new case repeating an answered (or overdue) one; the NEW case is the command's case.
        It comes by `channel` (the original's when None; its deadlines follow it) with `origin`
        (the original's when the channel is the original's and none is given) and may carry new
        `attachments`."""
        original_id = parse_case_id(case_id)
        if meta.person is not None:  # citizens repeat through intake; a person only in dev
            check_may(meta.person, Work.WORK)

        def decide(_: Case | None) -> tuple[Case, Sequence[Aggregate]]:
            original = self._load_case(original_id)
            if meta.person is not None:
                check_may_work(meta.person, original.tier)
            by = channel or original.channel
            citizen, subject = original.citizen, original.content.subject
            came = origin or (original.origin if by is original.channel else Origin())
            if self._personal is not None:  # the original's sealed fields, sealed again below
                earlier = str(original.id)
                citizen = self._personal.open_citizen(earlier, citizen)
                subject = self._personal.open_text(earlier, content_field("subject"), subject)
                if came is original.origin:
                    came = self._personal.open_origin(earlier, came)
            content = CaseContent(
                subject=subject,
                description=reason,
                service_name=original.content.service_name,
                service_code=original.content.service_code,
            )
            repeat, claim = self._register(
                by, original.case_type, original.category,
                self._roster.queue_for(original.category, original.tier), original.tier,
                original.priority, citizen, content, came, list(attachments),
                str(original.id), "", meta.context, meta.context.identified_by,
            )  # fmt: skip
            # Asked of the SLA facts only when the status alone does not allow the repeat.
            overdue = original.status not in REPEATABLE and self._overdue(original)
            original.record_repeat(str(repeat.id), repeat.number, reason, meta.context, overdue)
            return repeat, (claim, original)

        arguments: tuple[object, ...] = (case_id, reason)
        if channel or origin or attachments:  # named only when given: earlier receipts hold
            arguments += (channel, origin, tuple(attachments))
        return Command("RepeatCase", meta, arguments, None, decide)

    def request_escalation(
        self, case_id: str, *, reason: EscalationReason, explanation: str, meta: CommandMeta
    ) -> Command:
        request_id = str(uuid.uuid4())
        return _on_case(
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
    ) -> Command:
        def decide(case: Case) -> None:
            case.escalate(to_tier, reason, cause_ref, priority, callback_required, meta.context)
            # The new tier works the case from its own queue, by the same rule as at intake.
            queue = self._roster.queue_for(case.category, to_tier)
            chosen = choose_specialist(self._roster, queue, to_tier, self._loads(queue, to_tier))
            case.assign(chosen.id if chosen else "", queue, meta.context)

        arguments = (to_tier, reason, cause_ref, priority, callback_required)
        return _on_case("Escalate", case_id, meta, arguments, decide)

    def assign(self, case_id: str, *, specialist_id: str, meta: CommandMeta) -> Command:
        """Assign to the named specialist, or by specialization and load when none is named."""

        def decide(case: Case) -> None:
            if not specialist_id:
                chosen = choose_specialist(
                    self._roster, case.queue, case.tier, self._loads(case.queue, case.tier)
                )
                case.assign(chosen.id if chosen else "", case.queue, meta.context)
                return
            specialist = self._roster.find(specialist_id)
            if specialist is None:
                raise InvalidCommand("specialist_id", "no such specialist in the roster")
            if not specialist.active:
                raise PreconditionFailed(f"specialist {specialist_id} is not active")
            case.assign(specialist_id, case.queue, meta.context)

        return _on_case("Assign", case_id, meta, (specialist_id,), decide, Work.REASSIGN)

    def add_attachment(self, case_id: str, *, attachment: Attachment, meta: CommandMeta) -> Command:
        def add(case: Case) -> None:
            file = attachment
            if self._personal is not None:
                sealer = self._personal.sealer_of(case)
                file = sealer.attachments([attachment])[0]
            case.add_attachment(file, meta.context)

        return _on_case("AddAttachment", case_id, meta, (attachment,), add)

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
        identified_by: str = "",
    ) -> tuple[Case, NumberClaim]:
        """A new case with the next number (and its claim), assigned by specialization and load;
        its personal fields sealed when sealing is on (bound to its id, chosen here for that)."""
        case_id = uuid.uuid4()
        if self._personal is not None:  # before a number is taken: a refusal takes none
            sealer = self._personal.sealer_for(citizen, str(case_id))
            citizen, content = sealer.citizen(citizen), sealer.content(content)
            origin, attachments = sealer.origin(origin), sealer.attachments(attachments)
        number = self._numbers.next_number(datetime.now(UTC))
        case = Case.with_id(
            case_id,
            number=number, channel=channel, case_type=case_type, category=category,
            queue=queue, tier=tier, priority=priority, citizen=citizen, content=content,
            origin=origin, attachments=attachments, repeat_of=repeat_of, linked_to=linked_to,
            context=context, identified_by=identified_by,
        )  # fmt: skip
        chosen = choose_specialist(self._roster, queue, tier, self._loads(queue, tier))
        if chosen is not None:
            case.assign(chosen.id, queue, context)
        return case, NumberClaim(number=number, case_id=str(case.id))

    def _loads(self, queue: str, tier: Tier) -> dict[str, int]:
        return self._workload.loads([s.id for s in self._roster.candidates(queue, tier)])

    @staticmethod
    def _on_case(
        name: str,
        case_id: str,
        meta: CommandMeta,
        arguments: tuple[object, ...],
        change: Callable[[Case], None],
        work: Work | None = Work.WORK,
    ) -> Command:
        return _on_case(name, case_id, meta, arguments, change, work)


def _on_case(
    name: str,
    case_id: str,
    meta: CommandMeta,
    arguments: tuple[object, ...],
    change: Callable[[Case], None],
    work: Work | None = Work.WORK,
) -> Command:
    """A command that changes one existing case: a person's passes `work`'s rules first (None:
    no person's work; the case's rules say who may, e.g. only the citizen)."""
    target = parse_case_id(case_id)
    person = meta.person
    if person is not None and work is not None:
        check_may(person, work)

    def decide(case: Case | None) -> tuple[Case, Sequence[Aggregate]]:
        assert case is not None
        if person is not None and work is Work.WORK:
            check_may_work(person, case.tier)  # the tier the case has as this command decides
        change(case)
        return case, ()

    return Command(name, meta, (case_id, *arguments), target, decide)
