"""The Case aggregate: the only place where a case's rules are decided.

Public methods check the rules and then call an event-recording method (decorated with @event);
the decorated bodies only change state, because they also run when the case is rebuilt from its
stored events. Event and aggregate topics are explicit so that stored events survive refactoring.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from casedesk_case.domain import callbacks, closing
from casedesk_case.domain.errors import (
    AnswerMissing,
    CaseClosed,
    IllegalTransition,
    InvalidCommand,
    PreconditionFailed,
)
from casedesk_case.domain.lifecycle import (
    QUESTION_CITIZEN_COMMENT,
    QUESTION_CLARIFICATION,
    QUESTION_REQUEST,
    REPEATABLE,
    allowed_from,
    check_transition,
    question_of_escalation,
)
from casedesk_case.domain.values import (
    ActorKind,
    AnswerRating,
    Attachment,
    CallbackOwed,
    CaseContent,
    CaseType,
    Category,
    Channel,
    Citizen,
    CloseReason,
    Comment,
    EscalationReason,
    EventContext,
    Origin,
    Priority,
    Status,
    Tier,
)


class Case(Aggregate):
    TOPIC = "casedesk.case.Case"

    # Event classes, defined by the @event decorators below; declared for readers and checkers.
    Created: ClassVar[type[Any]]
    Commented: ClassVar[type[Any]]
    StatusChanged: ClassVar[type[Any]]
    Assigned: ClassVar[type[Any]]
    Repeated: ClassVar[type[Any]]
    EscalationRequested: ClassVar[type[Any]]
    Escalated: ClassVar[type[Any]]
    AttachmentAdded: ClassVar[type[Any]]
    Linked: ClassVar[type[Any]]
    AnswerRated: ClassVar[type[Any]]
    MergedInto: ClassVar[type[Any]]
    DuplicateMerged: ClassVar[type[Any]]
    CallbackRecorded: ClassVar[type[Any]]

    # The latest question support has not answered yet (domain/lifecycle.py: what «Ответ готов»
    # needs), "" once a specialist replied publicly after it. A class default because snapshots
    # taken before the rule existed lack it: such a case counts as unanswered until the next
    # reply (the conservative reading; events after the snapshot set it exactly).
    unanswered: str = QUESTION_REQUEST
    # The end of a case (domain/closing.py) and a PHONE case's callbacks (domain/callbacks.py).
    # Class defaults: snapshots taken before they existed lack them (nothing of the kind
    # happened to such a case before the snapshot, except a closing, whose reason is unknown).
    close_reason: CloseReason | None = None
    rating: AnswerRating | None = None
    merged_into: str = ""
    merged_duplicates: tuple[str, ...] = ()
    callback: CallbackOwed | None = None
    # The instant of the event being applied, set just before its body runs (`Event.mutate`):
    # what the rules that count time from an event (the callbacks owed) start from.
    event_at: datetime | None = None

    class Event(Aggregate.Event):
        """Every event of a case tells the case when it happened before its body runs: the
        library sets `modified_on` only after the body."""

        def mutate(self, aggregate: Any) -> Any:
            if aggregate is not None:
                aggregate.event_at = self.timestamp
            return super().mutate(aggregate)

    @event("Created", topic="casedesk.case.Case.Created")
    def __init__(
        self,
        number: str,
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
        # A case registered for a citizen met by phone or in person: the member of staff who
        # identified the citizen (at the desk the specialist, also the actor; through intake the
        # operator acting for the citizen, also in context.identified_by). Absent from events
        # stored before it existed, hence the default; kept in the event only, not in the state.
        identified_by: str = "",
    ) -> None:
        self.number = number
        self.channel = channel
        self.case_type = case_type
        self.category = category
        self.queue = queue
        self.tier = tier
        self.priority = priority
        self.citizen = citizen
        self.content = content
        self.origin = origin
        self.attachments = list(attachments)
        self.repeat_of = repeat_of
        self.linked_to = linked_to
        self.status = Status.REGISTERED
        self.assignee = ""
        # Only the count: the conversation can grow long, and the state of a case stays small so
        # that loading it (snapshot plus a few events) is fast; comments are read from the events.
        self.comment_count = 0
        self.repeated_by: list[str] = []
        self.linked: list[str] = []
        self.escalation_requests: list[str] = []
        self.unanswered = QUESTION_REQUEST
        self.callback = callbacks.owed_on_registration(channel, self.created_on)

    # -- commands -----------------------------------------------------------------------------

    @classmethod
    def with_id(cls, case_id: UUID, **fields: Any) -> Case:
        """A new case (Created) whose id the caller chose: personal fields sealed for it are
        bound to it (application/personal_data.py). `fields`: every argument of `__init__`."""
        return cls._create(cls.Created, id=case_id, **fields)

    def comment(
        self,
        comment_id: str,
        body: str,
        public: bool,
        attachments: list[Attachment],
        context: EventContext,
    ) -> None:
        """Record a comment; a citizen's reply to a clarification request resumes the work."""
        if self.status is Status.CLOSED:
            raise CaseClosed(self.number, "comment", "the citizen repeats the case instead")
        citizen = context.actor.kind is ActorKind.CITIZEN
        if citizen and not public:
            raise InvalidCommand("public", "a citizen's comment is always public")
        self._commented(comment_id, body, public, list(attachments), context)
        if citizen and self.status is Status.WAITING_FOR_CITIZEN:
            self._status_changed(
                self.status, Status.IN_PROGRESS, "the citizen answered the clarification", context
            )

    def change_status(self, to_status: Status, reason: str, context: EventContext) -> None:
        check_transition(self.number, self.status, to_status)
        if to_status is Status.ANSWER_READY and self.unanswered:
            raise AnswerMissing(str(self.id), self.number, self.unanswered)
        closed_by = CloseReason.CLOSED_BY_SPECIALIST if to_status is Status.CLOSED else None
        self._status_changed(self.status, to_status, reason, context, closed_by)

    def take(self, username: str, reason: str, context: EventContext) -> None:
        """A specialist takes the case in work: it becomes theirs (`Assigned` to their
        identity-provider username, unless it is already) and IN_PROGRESS (`StatusChanged`,
        unless it already is: a case escalated or reassigned while in progress is taken over).
        Who may take a case another person holds is person_rules.check_may_take's rule."""
        if self.status is Status.CLOSED:
            raise CaseClosed(self.number, "take it in work", "the citizen repeats the case")
        if self.status is Status.ANSWER_READY:
            raise IllegalTransition(
                self.number, self.status, Status.IN_PROGRESS, allowed_from(self.status)
            )
        if self.status is Status.IN_PROGRESS and self.assignee == username:
            raise PreconditionFailed(
                f"case {self.number} is already IN_PROGRESS and assigned to {username}"
            )
        if self.assignee != username:
            self._assigned(username, self.queue, self.tier, self.assignee, context)
        if self.status is not Status.IN_PROGRESS:
            self._status_changed(self.status, Status.IN_PROGRESS, reason, context)

    def assign(self, specialist_id: str, queue: str, context: EventContext) -> None:
        """Hand the case to a specialist (or, with an empty id, to the queue alone)."""
        if self.status is Status.CLOSED:
            raise CaseClosed(self.number, "assign")
        if specialist_id == self.assignee and queue == self.queue:
            return  # already there: nothing happened, so nothing is recorded
        self._assigned(specialist_id, queue, self.tier, self.assignee, context)

    def record_repeat(
        self,
        new_case_id: str,
        new_case_number: str,
        reason: str,
        context: EventContext,
        overdue: bool = False,
    ) -> None:
        """The seed's «Подача повторного обращения»: when the answer did not help, or when the
        deadline passed without one (`overdue`: the SLA service said a deadline was breached)."""
        if self.status not in REPEATABLE and not overdue:
            raise PreconditionFailed(
                f"case {self.number} is {self.status.value} and within its deadlines: only an "
                "answered case (ANSWER_READY or CLOSED) or an overdue one can be repeated"
            )
        self._repeated(new_case_id, new_case_number, reason, context)

    def request_escalation(
        self,
        request_id: str,
        reason: EscalationReason,
        explanation: str,
        context: EventContext,
    ) -> None:
        if self.status is Status.CLOSED:
            raise CaseClosed(self.number, "request escalation", "the citizen repeats the case")
        self._escalation_requested(request_id, reason, explanation, context)

    def escalate(
        self,
        to_tier: Tier,
        reason: EscalationReason,
        cause_ref: str,
        priority: Priority | None,
        callback_required: bool,
        context: EventContext,
    ) -> None:
        if self.status is Status.CLOSED:
            raise CaseClosed(self.number, "escalate")
        if to_tier.rank <= self.tier.rank:
            raise PreconditionFailed(
                f"case {self.number} is already at tier {self.tier.value}: "
                f"escalation must go to a higher tier than {self.tier.value}"
            )
        self._escalated(
            self.tier, to_tier, reason, cause_ref, priority or self.priority,
            callback_required, context,
        )  # fmt: skip

    def add_attachment(self, attachment: Attachment, context: EventContext) -> None:
        if self.status is Status.CLOSED:
            raise CaseClosed(self.number, "add an attachment", "the citizen repeats the case")
        if any(a.attachment_id == attachment.attachment_id for a in self.attachments):
            raise PreconditionFailed(
                f"attachment {attachment.attachment_id} is already on case {self.number}"
            )
        self._attachment_added(attachment, context)

    def link(self, linked_case_id: str, reason: str, context: EventContext) -> None:
        if linked_case_id in self.linked or linked_case_id == str(self.id):
            return
        self._linked(linked_case_id, reason, context)

    # -- the end of a case (domain/closing.py) ------------------------------------------------

    def confirm_answer(self, context: EventContext) -> None:
        closing.check_citizen(context, "confirm the answer")
        if self.status is not Status.ANSWER_READY:
            raise PreconditionFailed(
                f"case {self.number} is {self.status.value}: only an answer at ANSWER_READY "
                "(«Ответ готов») can be confirmed"
            )
        self._status_changed(
            self.status, Status.CLOSED, "the citizen confirmed the answer", context,
            CloseReason.ANSWER_CONFIRMED,
        )  # fmt: skip

    def rate_answer(
        self, score: int, comment: str, channel: Channel | None, context: EventContext
    ) -> None:
        closing.check_rating(score, comment)
        closing.check_citizen(context, "rate the answer")
        if self.status not in REPEATABLE:
            raise PreconditionFailed(
                f"case {self.number} is {self.status.value}: only an answer (ANSWER_READY or "
                "CLOSED) can be rated"
            )
        if self.close_reason in closing.UNANSWERED_CLOSINGS:
            assert self.close_reason is not None
            raise PreconditionFailed(
                f"case {self.number} was closed as {self.close_reason.value} without an answer: "
                "there is nothing to rate"
            )
        if self.rating is not None:
            raise PreconditionFailed(
                f"case {self.number} is already rated ({self.rating.score}): an answer is rated "
                "once"
            )
        self._answer_rated(score, comment, channel, context)

    def close_as_spam(self, explanation: str, context: EventContext) -> None:
        closing.check_explanation(explanation)
        if self.status is Status.CLOSED:
            raise CaseClosed(self.number, "close it again")
        self._status_changed(self.status, Status.CLOSED, explanation, context, CloseReason.SPAM)

    def merge_into(
        self,
        target: Case,
        reason: str,
        context: EventContext,
        same_citizen: Callable[[Citizen, Citizen], bool] = closing.same_citizen,
    ) -> None:
        """Close this case as a duplicate of `target` (MergedInto, StatusChanged CLOSED), and
        record it on the target (DuplicateMerged): the caller saves both together.
        `same_citizen`: the rule comparing the two citizens (with sealed personal data, their
        key subjects: application/personal_data.py)."""
        closing.check_length("reason", reason, closing.MAX_STAFF_TEXT)
        field = "target_case_id"
        if target.id == self.id:
            raise InvalidCommand(field, "a case cannot be merged into itself")
        if target.status is Status.CLOSED:
            merged = f"merged into {target.merged_into}" if target.merged_into else "closed"
            raise InvalidCommand(
                field, f"case {target.number} is {merged}: merge into an open case"
            )
        if not same_citizen(self.citizen, target.citizen):
            raise InvalidCommand(
                field,
                f"case {target.number} is not shown to be the same citizen's as case "
                f"{self.number} (portal login, or SNILS or INN where there is no login): only a "
                "citizen's own cases are merged",
            )
        if self.status is Status.CLOSED:
            raise CaseClosed(self.number, "merge it into another case")
        self._merged_into(str(target.id), target.number, reason, context)
        why = reason or f"a duplicate of case {target.number}"
        self._status_changed(self.status, Status.CLOSED, why, context, CloseReason.DUPLICATE)
        target.record_duplicate(self, context)

    def record_duplicate(self, duplicate: Case, context: EventContext) -> None:
        """The other side of `merge_into`: `duplicate` was merged into this case."""
        if duplicate.merged_into != str(self.id):
            raise PreconditionFailed(f"case {duplicate.number} was not merged into {self.number}")
        self._duplicate_merged(str(duplicate.id), duplicate.number, context)

    def record_callback(self, reached: bool, note: str, context: EventContext) -> None:
        closing.check_length("note", note, closing.MAX_STAFF_TEXT)
        if self.channel is not Channel.PHONE:
            raise PreconditionFailed(
                f"case {self.number} came by {self.channel.value}, not by PHONE: its answer goes "
                "back that way, not by a callback"
            )
        if self.status is Status.CLOSED:
            raise CaseClosed(self.number, "record a callback")
        self._callback_recorded(reached, note, context)

    def waiting_for_reaction_since(self) -> datetime | None:
        """Since when the case has waited for the citizen's reaction to the answer (None: it does
        not wait: see domain/closing.py)."""
        if self.status is not Status.ANSWER_READY or self.unanswered or self.callback:
            return None
        return self.modified_on

    def close_without_reaction(
        self, period: timedelta, now: datetime, context: EventContext
    ) -> None:
        """Closed by the system: the citizen did not react to the answer within `period`."""
        since = self.waiting_for_reaction_since()
        if since is None:
            raise PreconditionFailed(
                f"case {self.number} does not wait for the citizen's reaction "
                f"({self.status.value}, or a question or a callback is owed)"
            )
        if since + period > now:
            raise PreconditionFailed(
                f"case {self.number} waits for the citizen's reaction until "
                f"{(since + period).isoformat()}"
            )
        self._status_changed(
            self.status, Status.CLOSED, "no reaction from the citizen to the answer", context,
            CloseReason.NO_REACTION,
        )  # fmt: skip

    # -- recorded events: state changes only ----------------------------------------------

    @event("Commented", topic="casedesk.case.Case.Commented")
    def _commented(
        self,
        comment_id: str,
        body: str,
        public: bool,
        attachments: list[Attachment],
        context: EventContext,
    ) -> None:
        self.comment_count += 1
        kind = context.actor.kind
        if kind is ActorKind.CITIZEN:
            self.unanswered = QUESTION_CITIZEN_COMMENT
        elif kind is ActorKind.SPECIALIST and public:
            self.unanswered = ""

    @event("StatusChanged", topic="casedesk.case.Case.StatusChanged")
    def _status_changed(
        self,
        from_status: Status,
        to_status: Status,
        reason: str,
        context: EventContext,
        # Why a case was closed; None otherwise, and in events stored before it existed.
        close_reason: CloseReason | None = None,
    ) -> None:
        self.status = to_status
        if to_status is Status.WAITING_FOR_CITIZEN:
            self.unanswered = QUESTION_CLARIFICATION
        if to_status is Status.CLOSED:
            self.close_reason = close_reason
        assert self.event_at is not None
        self.callback = callbacks.owed_after_status(
            self.callback, self.channel, to_status, self.event_at
        )

    @event("Assigned", topic="casedesk.case.Case.Assigned")
    def _assigned(
        self,
        specialist_id: str,
        queue: str,
        tier: Tier,
        previous_specialist_id: str,
        context: EventContext,
    ) -> None:
        self.assignee = specialist_id
        self.queue = queue

    @event("Repeated", topic="casedesk.case.Case.Repeated")
    def _repeated(
        self, new_case_id: str, new_case_number: str, reason: str, context: EventContext
    ) -> None:
        self.repeated_by.append(new_case_id)

    @event("EscalationRequested", topic="casedesk.case.Case.EscalationRequested")
    def _escalation_requested(
        self,
        request_id: str,
        reason: EscalationReason,
        explanation: str,
        context: EventContext,
    ) -> None:
        self.escalation_requests.append(request_id)

    @event("Escalated", topic="casedesk.case.Case.Escalated")
    def _escalated(
        self,
        from_tier: Tier,
        to_tier: Tier,
        reason: EscalationReason,
        cause_ref: str,
        priority: Priority,
        callback_required: bool,
        context: EventContext,
    ) -> None:
        self.tier = to_tier
        self.priority = priority
        self.unanswered = question_of_escalation(to_tier.value)
        assert self.event_at is not None
        self.callback = callbacks.owed_after_escalation(
            self.callback, self.channel, callback_required, self.event_at
        )

    @event("AttachmentAdded", topic="casedesk.case.Case.AttachmentAdded")
    def _attachment_added(self, attachment: Attachment, context: EventContext) -> None:
        self.attachments.append(attachment)

    @event("Linked", topic="casedesk.case.Case.Linked")
    def _linked(self, linked_case_id: str, reason: str, context: EventContext) -> None:
        self.linked.append(linked_case_id)

    @event("AnswerRated", topic="casedesk.case.Case.AnswerRated")
    def _answer_rated(
        self, score: int, comment: str, channel: Channel | None, context: EventContext
    ) -> None:
        assert self.event_at is not None
        self.rating = AnswerRating(score, comment, self.event_at, channel)

    @event("MergedInto", topic="casedesk.case.Case.MergedInto")
    def _merged_into(
        self, target_case_id: str, target_number: str, reason: str, context: EventContext
    ) -> None:
        self.merged_into = target_case_id

    @event("DuplicateMerged", topic="casedesk.case.Case.DuplicateMerged")
    def _duplicate_merged(
        self, duplicate_case_id: str, duplicate_number: str, context: EventContext
    ) -> None:
        self.merged_duplicates = (*self.merged_duplicates, duplicate_case_id)

    @event("CallbackRecorded", topic="casedesk.case.Case.CallbackRecorded")
    def _callback_recorded(self, reached: bool, note: str, context: EventContext) -> None:
        self.callback = callbacks.owed_after_callback(self.callback, reached)


# Every stored event type of a case, by its stored topic: what the outbox and the index follow.
CASE_EVENT_TOPICS: tuple[str, ...] = tuple(
    event_class.TOPIC
    for event_class in (
        Case.Created,
        Case.Commented,
        Case.StatusChanged,
        Case.Assigned,
        Case.Repeated,
        Case.EscalationRequested,
        Case.Escalated,
        Case.AttachmentAdded,
        Case.Linked,
        Case.AnswerRated,
        Case.MergedInto,
        Case.DuplicateMerged,
        Case.CallbackRecorded,
    )
)


def comment_of(event: Any) -> Comment:
    """The comment a Commented event recorded."""
    return Comment(
        comment_id=event.comment_id,
        body=event.body,
        public=event.public,
        author=event.context.actor,
        at=event.timestamp,
        attachments=tuple(event.attachments),
    )
