"""Registering a new case: classify, link, keep the attachments, create it in the case service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from casedesk_intake.application.acknowledgements import Acknowledgements
from casedesk_intake.application.attachments import AttachmentKeeper
from casedesk_intake.application.ports import (
    CaseService,
    CitizenReferences,
    IntakeStore,
    RecentCase,
    ReturningCitizens,
)
from casedesk_intake.domain.cases import Case, Command, NewCase, citizen_actor
from casedesk_intake.domain.classification import Classifier
from casedesk_intake.domain.errors import CaseServiceError, CitizenErased, IntakeError
from casedesk_intake.domain.replies import Acknowledgement
from casedesk_intake.domain.submissions import Submission
from casedesk_vocabulary.enums import CaseType, Category


@dataclass(frozen=True)
class LinkPolicy:
    """`window_s`: how long a case is linked to by the next about the same service.
    `keyed_topics`: the service is kept as a keyed hash (CASEDESK_SEAL_PERSONAL_DATA): the
    link only compares it."""

    window_s: float
    keyed_topics: bool = False


class CaseRegistration:
    def __init__(
        self,
        cases: CaseService,
        store: IntakeStore,
        keeper: AttachmentKeeper,
        references: CitizenReferences,
        classifier: Classifier,
        acknowledgements: Acknowledgements,
        link_policy: LinkPolicy,
        clock: Callable[[], datetime],
        returning: ReturningCitizens | None = None,
    ) -> None:
        self._cases = cases
        self._store = store
        self._keeper = keeper
        self._references = references
        self._classifier = classifier
        self._acknowledgements = acknowledgements
        self._link_policy = link_policy
        self._clock = clock
        self._returning = returning

    async def register(
        self, submission: Submission, key: str, *, identified_by: str = "", verified: bool = False
    ) -> tuple[Acknowledgement, RecentCase | None]:
        """Register a checked, normalised submission under the derived key.

        `identified_by`: the operator acting for the citizen. `verified`: the citizen's login
        was proven (the portal's token), so the acknowledgement may name the earlier case the
        new one is linked to; otherwise the link is made for the specialists but not named,
        since whoever typed somebody's e-mail or phone would learn that somebody's case."""
        citizen, content = submission.citizen, submission.content
        reference = self._references.of(citizen.identity())
        classification = self._classifier.classify(
            " ".join((content.subject, content.description, content.service_name)),
            case_type=submission.case_type.value if submission.case_type else "",
            category=submission.category.value if submission.category else "",
        )
        topic = content.service_key()
        if topic and self._link_policy.keyed_topics:
            topic = "keyed:" + self._references.of("service:" + topic)
        earlier = await self._earlier_case(reference, topic, key)

        async def create() -> Case:
            attachments = await self._keeper.keep(reference, key, submission.attachments, citizen)
            return await self._cases.create_case(
                NewCase(
                    command=Command(
                        key, citizen_actor(citizen.account_login, reference), identified_by
                    ),
                    channel=submission.channel,
                    case_type=CaseType(classification.case_type),
                    category=Category(classification.category),
                    queue=classification.queue,
                    citizen=citizen,
                    content=content,
                    provenance=submission.provenance,
                    attachments=attachments,
                    linked_to=earlier.case_id if earlier else "",
                )
            )

        try:
            created = await create()
        except (CitizenErased, CaseServiceError) as refused:
            if self._returning is None or not _erased(refused):
                raise
            # His data was erased (at his request, or by retention after his last case): he
            # may still write to support. Asked only now, so that no other case pays for it.
            await self._returning.welcome_back(citizen)
            created = await create()
        shown = earlier.case_number if earlier and verified else ""
        acknowledgement = self._acknowledgements.of(created, linked_to_number=shown)
        return acknowledgement, self._remembered(created, reference, topic, key)

    async def _earlier_case(self, reference: str, topic: str, key: str) -> RecentCase | None:
        """The case the new one is linked to, as on this call's first attempt (its retry must send
        the case service the same command)."""
        if not topic or self._link_policy.window_s <= 0:
            return None
        since = self._clock().timestamp() - self._link_policy.window_s
        return await self._store.latest_case(reference, topic, since, call_key=key)

    def _remembered(self, created: Case, reference: str, topic: str, key: str) -> RecentCase | None:
        if not topic:
            return None
        registered = (created.registered_at or self._clock()).timestamp()
        return RecentCase(reference, topic, created.case_id, created.number, registered, key)


def _erased(refused: IntakeError) -> bool:
    """Refused because the citizen's data key was destroyed: by intake's own keys (his files)
    or by the case service (his case)."""
    if isinstance(refused, CaseServiceError):
        return refused.citizen_erased
    return isinstance(refused, CitizenErased)
