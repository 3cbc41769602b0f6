"""The acknowledgement of a registered case: its number, status and expected deadlines."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from casedesk_deadlines import Deadlines
from casedesk_intake.domain.cases import Case
from casedesk_intake.domain.replies import Acknowledgement, DueDates
from casedesk_intake.domain.wording import AcknowledgementFacts, acknowledgement_text


class Acknowledgements:
    def __init__(
        self, deadlines: Deadlines, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._deadlines = deadlines
        self._clock = clock

    def of(
        self, case: Case, linked_to_number: str = "", repeat_of_number: str = ""
    ) -> Acknowledgement:
        registered_at = case.registered_at or self._clock()
        channel = case.channel.value if case.channel is not None else ""
        # With the case's category, as the SLA clock counts it (2026.1's sign-in target).
        category = case.category.value if case.category is not None else None
        due = self._deadlines.compute(channel, registered_at, category)
        facts = AcknowledgementFacts(
            number=case.number,
            status=case.status.value if case.status is not None else "",
            resolution_due=due.resolution_due,
            first_response_due=due.first_response_due,
            linked_to_number=linked_to_number,
            repeat_of_number=repeat_of_number,
        )
        return Acknowledgement(
            case_id=case.case_id,
            number=case.number,
            status=case.status,
            deadlines=DueDates(
                resolution_due=due.resolution_due,
                first_response_due=due.first_response_due,
                policy_version=due.policy_version,
                calendar_version=due.calendar_version,
            ),
            text=acknowledgement_text(facts),
            linked_to_number=linked_to_number,
        )
