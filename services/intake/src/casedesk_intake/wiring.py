"""The composition root: settings in, a ready IntakeServicer (and what must be closed) out."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import grpc

from casedesk_deadlines import Deadlines, load_policy
from casedesk_intake.adapters.case_client import CaseClient
from casedesk_intake.adapters.keys import (
    CitizenReferences,
    decode_master_key,
    load_or_create_key_file,
)
from casedesk_intake.adapters.store import IntakeStore, open_store
from casedesk_intake.adapters.vault import AttachmentVault
from casedesk_intake.admission import Admission
from casedesk_intake.attachments import AttachmentKeeper
from casedesk_intake.domain.attachment_rules import AttachmentRules
from casedesk_intake.domain.classification import Classifier
from casedesk_intake.domain.rate_limits import Rate, RateLimiter
from casedesk_intake.follow_ups import CaseOwnership, FollowUps
from casedesk_intake.frontends import FrontendRegistry
from casedesk_intake.grpc_api import IntakeServicer
from casedesk_intake.idempotency import IdempotentCalls
from casedesk_intake.intake import Intake
from casedesk_intake.mail_intake import MailIntake
from casedesk_intake.registration import CaseRegistration, LinkPolicy
from casedesk_intake.replies import Replies
from casedesk_intake.settings import IntakeSettings
from casedesk_intake.validation.follow_ups import FollowUpValidator
from casedesk_intake.validation.submission import SubmissionValidator
from casedesk_runtime.grpc_client import insecure_channel
from casedesk_runtime.logs import get_logger

log = get_logger(__name__)
PURGE_EVERY_S = 3600.0


@dataclass(frozen=True)
class Assembly:
    servicer: IntakeServicer
    frontends: FrontendRegistry
    store: IntakeStore
    vault: AttachmentVault
    references: CitizenReferences


def master_key(settings: IntakeSettings) -> bytes:
    if settings.master_key is not None:
        return decode_master_key(settings.master_key.get_secret_value())
    path = settings.data_dir / "master.key"
    log.warning(
        "CASEDESK_MASTER_KEY is not set: using a key file beside the data (development only)",
        extra={"key_file": str(path)},
    )
    return load_or_create_key_file(path)


def frontend_registry(settings: IntakeSettings) -> FrontendRegistry:
    entries = list(settings.frontends)
    if settings.frontends_file is not None:
        entries += FrontendRegistry.from_toml(settings.frontends_file)
    registry = FrontendRegistry(entries)
    if not len(registry):
        log.warning("no frontends configured: every call will be UNAUTHENTICATED")
    return registry


def attachment_rules(settings: IntakeSettings) -> AttachmentRules:
    return AttachmentRules(
        max_count=settings.attachment_max_count,
        max_bytes=settings.attachment_max_bytes,
        max_total_bytes=settings.attachments_max_total_bytes,
        media_types=frozenset(t.lower() for t in settings.attachment_media_types),
    )


@contextlib.asynccontextmanager
async def assembled(
    settings: IntakeSettings, case_channel: grpc.aio.Channel | None = None
) -> AsyncIterator[Assembly]:
    key = master_key(settings)
    frontends = frontend_registry(settings)
    version = settings.deadline_policy_version
    policy = load_policy(version) if version else None
    store = await open_store(settings.resolved_database_url())
    channel = case_channel or insecure_channel(settings.case_address)
    vault = AttachmentVault(settings.resolved_attachments_dir(), key)
    references = CitizenReferences(key)
    rules = attachment_rules(settings)
    cases = CaseClient(channel, settings.case_service_timeout_s, settings.case_creates_per_call)
    keeper = AttachmentKeeper(vault)
    replies = Replies(Deadlines(policy))
    submissions = SubmissionValidator(rules, settings.social_networks)
    ownership = CaseOwnership(cases, references)
    follow_ups = FollowUps(cases, ownership, keeper, replies)
    registration = CaseRegistration(
        cases,
        store,
        keeper,
        references,
        Classifier.load(settings.classification_rules_path),
        replies,
        LinkPolicy(window_s=settings.link_window_hours * 3600),
        clock=lambda: datetime.now(UTC),
    )
    intake = Intake(
        admission=Admission(
            RateLimiter("frontend", Rate(settings.frontend_rate_per_s, settings.frontend_burst)),
            RateLimiter("citizen", Rate(settings.citizen_rate_per_s, settings.citizen_burst)),
        ),
        calls=IdempotentCalls(store),
        submissions=submissions,
        follow_up_checks=FollowUpValidator(rules),
        attachment_rules=rules,
        registration=registration,
        ownership=ownership,
        follow_ups=follow_ups,
        mail=MailIntake(cases, ownership, follow_ups, registration, submissions),
    )
    purging = asyncio.create_task(_purge_forever(store, settings))
    try:
        yield Assembly(IntakeServicer(intake, frontends), frontends, store, vault, references)
    finally:
        purging.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await purging
        await cases.close()
        if case_channel is None:
            await channel.close()
        await store.close()


async def _purge_forever(store: IntakeStore, settings: IntakeSettings) -> None:
    """Old idempotency records and links past the window are of no use; keep the tables small."""
    retention_s = settings.idempotency_retention_days * 86400
    while True:
        now = time.time()
        try:
            await store.purge(now - retention_s, now - settings.link_window_hours * 3600)
        except Exception:
            log.exception("purging old idempotency records failed; will try again")
        await asyncio.sleep(PURGE_EVERY_S)
