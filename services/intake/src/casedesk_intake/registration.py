"""Registering a new case: classify, link, keep the attachments, create it in the case service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk_intake.adapters.case_client import CaseClient
from casedesk_intake.adapters.keys import CitizenReferences, citizen_identity
from casedesk_intake.adapters.store import IntakeStore, RecentCase
from casedesk_intake.attachments import AttachmentKeeper
from casedesk_intake.domain.classification import Classifier
from casedesk_intake.replies import Replies
from casedesk_intake.validation.submission import enum_name, uploads
from casedesk_runtime.events import from_timestamp


def service_key(content: types_pb2.CaseContent) -> str:
    """What "the same service" means for linking: its code, else its name, case-insensitively."""
    if content.service_code:
        return "code:" + content.service_code.casefold()
    if content.service_name:
        return "name:" + " ".join(content.service_name.casefold().split())
    return ""


def command_context(actor: types_pb2.Actor, key: str) -> case_pb2.CommandContext:
    # The derived key also correlates everything this frontend call causes downstream.
    return case_pb2.CommandContext(
        idempotency_key=key, actor=actor, correlation_id=key, causation_id=key
    )


def citizen_actor(login: str, citizen_ref: str) -> types_pb2.Actor:
    """The citizen by login, or by a pseudonym when the channel did not identify an account."""
    return types_pb2.Actor(
        kind=types_pb2.Actor.CITIZEN, id=login or f"citizen-ref:{citizen_ref[:16]}"
    )


@dataclass(frozen=True)
class LinkPolicy:
    window_s: float


class CaseRegistration:
    def __init__(
        self,
        cases: CaseClient,
        store: IntakeStore,
        keeper: AttachmentKeeper,
        references: CitizenReferences,
        classifier: Classifier,
        replies: Replies,
        link_policy: LinkPolicy,
        clock: Callable[[], datetime],
    ) -> None:
        self._cases = cases
        self._store = store
        self._keeper = keeper
        self._references = references
        self._classifier = classifier
        self._replies = replies
        self._link_policy = link_policy
        self._clock = clock

    async def register(
        self, request: intake_pb2.SubmitCaseRequest, key: str
    ) -> tuple[intake_pb2.Acknowledgement, RecentCase | None]:
        """Register a validated, normalised submission under the derived key."""
        citizen, content = request.citizen, request.content
        reference = self._references.of(
            citizen_identity(citizen.account_login, citizen.email, citizen.mobile_phone)
        )
        classification = self._classifier.classify(
            " ".join((content.subject, content.description, content.service_name)),
            case_type=enum_name(types_pb2.CaseType, request.type),
            category=enum_name(types_pb2.Category, request.category),
        )
        topic = service_key(content)
        earlier = await self._earlier_case(reference, topic)
        attachments = await self._keeper.keep(reference, key, uploads(request.attachments))
        created = await self._cases.create_case(
            case_pb2.CreateCaseRequest(
                context=command_context(citizen_actor(citizen.account_login, reference), key),
                channel=request.channel,
                type=types_pb2.CaseType.Value(classification.case_type),
                category=types_pb2.Category.Value(classification.category),
                queue=classification.queue,
                citizen=citizen,
                content=content,
                provenance=request.provenance,
                attachments=attachments,
                linked_to=earlier.case_id if earlier else "",
            )
        )
        acknowledgement = self._replies.acknowledgement(
            created, linked_to_number=earlier.case_number if earlier else ""
        )
        return acknowledgement, self._remembered(created, reference, topic)

    async def _earlier_case(self, reference: str, topic: str) -> RecentCase | None:
        if not topic or self._link_policy.window_s <= 0:
            return None
        since = self._clock().timestamp() - self._link_policy.window_s
        return await self._store.latest_case(reference, topic, since)

    def _remembered(
        self, created: case_pb2.CaseView, reference: str, topic: str
    ) -> RecentCase | None:
        if not topic:
            return None
        registered = (
            from_timestamp(created.registered_at)
            if created.HasField("registered_at")
            else self._clock()
        )
        return RecentCase(reference, topic, created.case_id, created.number, registered.timestamp())
