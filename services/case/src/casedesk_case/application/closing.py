"""Planning the commands that end a case or follow up its answer (domain/closing.py, callbacks.py).

Mixed into `CommandPlanner` (planning.py), whose `_on_case` plans a command on one case:

- ConfirmAnswer, RateAnswer: the citizen's, through intake (the domain refuses another actor);
- CloseCase (spam) and MergeCases: a supervisor's (`Work.SUPERVISE`, checked when planned);
- RecordCallback: a specialist's on a PHONE case of a tier he works (`Work.WORK`);
- the system's closing of an answer nobody reacted to (`close_without_reaction`, the auto-closer).

A merge changes two cases: the command's case is the target (what the caller gets back, and what
`expected_version` and the receipt refer to); the duplicate is read when the command is decided,
and both cases' events are stored in one transaction with the receipt. Nothing can be half done:
a crash before the commit stored neither, after it both; a retry with the same idempotency key
gets the target as the merge left it, and a merge decided on a duplicate that moved meanwhile
fails the store's version check and is decided again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from eventsourcing.domain import Aggregate

from casedesk_case.application.command import Command, CommandMeta, parse_case_id
from casedesk_case.domain import closing
from casedesk_case.domain.case import Case
from casedesk_case.domain.errors import InvalidCommand
from casedesk_case.domain.person_rules import Work, check_may
from casedesk_case.domain.values import Channel, CloseReason

if TYPE_CHECKING:  # casedesk_keys is imported only when sealing is on
    from casedesk_case.application.personal_data import PersonalData

OnCase = Callable[..., Command]


class ClosingPlans:
    """The planner's commands at the end of a case; `_on_case` and `_load_case` are the
    planner's (planning.py)."""

    _load_case: Callable[[UUID], Case]
    _on_case: OnCase
    _personal: PersonalData | None

    def confirm_answer(self, case_id: str, *, meta: CommandMeta) -> Command:
        return self._on_case(
            "ConfirmAnswer", case_id, meta, (), lambda case: case.confirm_answer(meta.context),
            None,
        )  # fmt: skip

    def rate_answer(
        self,
        case_id: str,
        *,
        score: int,
        comment: str,
        channel: Channel | None,
        meta: CommandMeta,
    ) -> Command:
        return self._on_case(
            "RateAnswer", case_id, meta, (score, comment, channel),
            lambda case: case.rate_answer(score, comment, channel, meta.context), None,
        )  # fmt: skip

    def close_case(
        self, case_id: str, *, reason: CloseReason, explanation: str, meta: CommandMeta
    ) -> Command:
        if reason is not CloseReason.SPAM:
            raise InvalidCommand(
                "reason",
                f"a supervisor closes a case as SPAM only, not {reason.value} (a duplicate is "
                "merged with MergeCases; an answered case is closed with ChangeStatus CLOSE)",
            )
        return self._on_case(
            "CloseCase", case_id, meta, (reason, explanation),
            lambda case: case.close_as_spam(explanation, meta.context), Work.SUPERVISE,
        )  # fmt: skip

    def merge_cases(
        self, duplicate_case_id: str, *, target_case_id: str, reason: str, meta: CommandMeta
    ) -> Command:
        duplicate_id = parse_case_id(duplicate_case_id, "duplicate_case_id")
        target = parse_case_id(target_case_id, "target_case_id")
        if duplicate_id == target:
            raise InvalidCommand("target_case_id", "a case cannot be merged into itself")
        if meta.person is not None:
            check_may(meta.person, Work.SUPERVISE)

        def decide(case: Case | None) -> tuple[Case, Sequence[Aggregate]]:
            assert case is not None
            duplicate = self._load_case(duplicate_id)
            # Sealed citizens are compared by the subjects their tokens name.
            same = closing.same_citizen if self._personal is None else self._personal.same_citizen
            duplicate.merge_into(case, reason, meta.context, same)
            return case, (duplicate,)

        arguments = (target_case_id, duplicate_case_id, reason)
        return Command("MergeCases", meta, arguments, target, decide)

    def record_callback(
        self, case_id: str, *, reached: bool, note: str, meta: CommandMeta
    ) -> Command:
        return self._on_case(
            "RecordCallback", case_id, meta, (reached, note),
            lambda case: case.record_callback(reached, note, meta.context),
        )  # fmt: skip

    def close_without_reaction(
        self, case_id: str, *, period: timedelta, now: datetime, meta: CommandMeta
    ) -> Command:
        """`now` decides, but is not part of what a retry must repeat: two replicas closing one
        case (same key: the case id and version) ask for the same command."""
        return self._on_case(
            "CloseWithoutReaction", case_id, meta, (period,),
            lambda case: case.close_without_reaction(period, now, meta.context), None,
        )  # fmt: skip
