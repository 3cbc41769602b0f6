"""`python -m casedesk_intake`: serve IntakeService and AttachmentVaultService (with health and
reflection) until SIGTERM.

The composition root: the only module that chooses implementations (SQLite or PostgreSQL, the
real case service or a test's channel) and wires adapters, use cases and the servicer together.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import grpc

from casedesk_deadlines import Deadlines, load_policy
from casedesk_intake.adapters.case_client import CaseClient
from casedesk_intake.adapters.classification_rules import load_classifier
from casedesk_intake.adapters.code_senders import (
    CodeSenders,
    SmsGateway,
    SmsGatewayConfig,
    SmtpConfig,
    SmtpMail,
)
from casedesk_intake.adapters.frontends_file import read_frontends_file
from casedesk_intake.adapters.identity_tokens import OidcIdentityTokens
from casedesk_intake.adapters.keys import (
    AccessCodeDigests,
    CitizenReferences,
    DataKeyCache,
    decode_master_key,
    load_or_create_key_file,
)
from casedesk_intake.adapters.vault import AttachmentVault
from casedesk_intake.application.access_codes import AccessCodes, CodeDeliveries
from casedesk_intake.application.acknowledgements import Acknowledgements
from casedesk_intake.application.admission import Admission
from casedesk_intake.application.attachment_opening import AttachmentOpening
from casedesk_intake.application.attachments import AttachmentKeeper
from casedesk_intake.application.erasure import erase_citizen
from casedesk_intake.application.follow_ups import CaseAccess, FollowUps
from casedesk_intake.application.idempotency import IdempotentCalls
from casedesk_intake.application.identification import Identification
from casedesk_intake.application.intake import Intake, ReplyCodecs
from casedesk_intake.application.mail_intake import MailIntake, MailIntakeConfig
from casedesk_intake.application.ports import IntakeStore, RecordSealer
from casedesk_intake.application.registration import CaseRegistration, LinkPolicy
from casedesk_intake.application.sealing_guard import SealingTurnedOff, check_sealing
from casedesk_intake.application.watching import CaseWatching
from casedesk_intake.cli import erase as erase_cli
from casedesk_intake.domain.access_codes import CodePolicy
from casedesk_intake.domain.acting import (
    CITIZEN_TOKEN_KEY,
    CONTACT_CHANNELS,
    OPERATOR_CHANNELS,
    PERSON_TOKEN_KEY,
    PORTAL_CHANNELS,
)
from casedesk_intake.domain.attachment_rules import AttachmentRules
from casedesk_intake.domain.frontends import FrontendRegistry
from casedesk_intake.domain.mail_limits import MailLimits
from casedesk_intake.domain.rate_limits import Rate, RateLimiter
from casedesk_intake.domain.submission_rules import SubmissionRules
from casedesk_intake.domain.watching import WatchLimits
from casedesk_intake.grpc_api.access import (
    VAULT_SERVICE,
    check_public_rpcs_are_guarded,
    intake_access,
)
from casedesk_intake.grpc_api.edge import CertificateService, FrontendEdge, FrontendStream
from casedesk_intake.grpc_api.servicer import SERVICE_NAME, IntakeServicer, binding
from casedesk_intake.grpc_api.vault import AttachmentVaultServicer, vault_binding
from casedesk_intake.settings import IntakeSettings
from casedesk_intake.wire.follow_ups import FollowUpRequests
from casedesk_intake.wire.replies import (
    AcknowledgementRecords,
    CitizenCaseRecords,
    MailOutcomeRecords,
)
from casedesk_runtime.collector import tune_garbage_collector
from casedesk_runtime.event_loop import run_on
from casedesk_runtime.grpc_client import channel_for
from casedesk_runtime.grpc_limits import receive_limit_options
from casedesk_runtime.grpc_server import GrpcServer
from casedesk_runtime.logs import configure_logging, get_logger
from casedesk_runtime.settings import SettingsError, load_settings
from casedesk_runtime.telemetry import configure_telemetry
from casedesk_runtime.workers import become_worker, supervise

log = get_logger("casedesk_intake")
if TYPE_CHECKING:
    from casedesk_intake.adapters.citizen_keys import CitizenKeys
    from casedesk_keys import IndexKey
    from casedesk_keys.settings import KeysSettings

    KeysConfig = tuple[KeysSettings, IndexKey]

PURGE_EVERY_S = 3600.0


@dataclass(frozen=True)
class Assembly:
    servicer: IntakeServicer
    vault_servicer: AttachmentVaultServicer
    edge: FrontendEdge
    frontends: FrontendRegistry
    store: IntakeStore
    vault: AttachmentVault
    references: CitizenReferences
    deliveries: CodeDeliveries


async def open_store(url: str) -> IntakeStore:
    if url.startswith(("postgresql://", "postgres://")):
        from casedesk_intake.adapters.persistence.postgres import PostgresStore

        return await PostgresStore.open(url)
    if url.startswith("sqlite:///"):
        from casedesk_intake.adapters.persistence.sqlite import SqliteStore

        return await SqliteStore.open(url.removeprefix("sqlite:///"))
    raise ValueError("CASEDESK_DATABASE_URL must start with sqlite:/// or postgresql://")


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
        entries += read_frontends_file(settings.frontends_file)
    registry = FrontendRegistry(entries)
    if not len(registry):
        log.warning("no frontends configured: every call will be UNAUTHENTICATED")
    return registry


def identification(settings: IntakeSettings, frontends: FrontendRegistry) -> Identification:
    """Citizens' and operators' tokens, verified when their identity providers are configured;
    a frontend that would need one that is not is warned about (its calls are refused)."""
    citizens = staff = None
    if settings.citizen_oidc_issuer:
        verifier = settings.citizen_token_verifier()
        citizens = OidcIdentityTokens(verifier, CITIZEN_TOKEN_KEY)
    elif frontends.serving(PORTAL_CHANNELS):
        log.warning(
            "CASEDESK_CITIZEN_OIDC_ISSUER is not set: portal frontends' calls for citizens "
            "will be UNAUTHENTICATED",
            extra={"frontends": frontends.serving(PORTAL_CHANNELS)},
        )
    if settings.oidc_issuer:
        staff = OidcIdentityTokens(settings.person_token_verifier(), PERSON_TOKEN_KEY)
    elif frontends.serving(OPERATOR_CHANNELS):
        log.info(
            "CASEDESK_OIDC_ISSUER is not set: operators cannot act for citizens (x-person-token)",
            extra={"frontends": frontends.serving(OPERATOR_CHANNELS)},
        )
    return Identification(citizens, staff, settings.operator_roles)


def code_senders(settings: IntakeSettings, frontends: FrontendRegistry) -> CodeSenders:
    mail = sms = None
    if settings.smtp_host:
        password = settings.smtp_password
        mail = SmtpMail(
            SmtpConfig(
                host=settings.smtp_host,
                port=settings.smtp_port,
                tls=settings.smtp_tls,
                username=settings.smtp_username,
                password=password.get_secret_value() if password else None,
                sender=settings.smtp_sender,
                timeout_s=settings.smtp_timeout_s,
                validate_certs=settings.smtp_validate_certs,
            )
        )
    if settings.sms_gateway_url:
        token = settings.sms_gateway_token
        sms = SmsGateway(
            SmsGatewayConfig(
                url=settings.sms_gateway_url,
                token=token.get_secret_value() if token else None,
                sender_name=settings.sms_sender_name,
                field_to=settings.sms_field_to,
                field_text=settings.sms_field_text,
                field_client_id=settings.sms_field_client_id,
                field_sender=settings.sms_field_sender,
                timeout_s=settings.sms_timeout_s,
            )
        )
    if mail is None and sms is None and frontends.serving(CONTACT_CHANNELS):
        log.warning(
            "neither CASEDESK_SMTP_HOST nor CASEDESK_SMS_GATEWAY_URL is set: no one-time codes "
            "can be sent, so citizens without a portal account cannot follow up their cases"
        )
    return CodeSenders(mail, sms)


def access_codes(
    settings: IntakeSettings,
    store: IntakeStore,
    key: bytes,
    cases: CaseClient,
    frontends: FrontendRegistry,
) -> AccessCodes:
    refill = 1 / settings.access_code_refill_s
    return AccessCodes(
        store,
        AccessCodeDigests(key),
        cases,
        code_senders(settings, frontends),
        CodePolicy(settings.access_code_ttl_s, settings.access_code_max_wrong),
        per_case=RateLimiter("case number", Rate(refill, settings.access_code_case_burst)),
        per_contact=RateLimiter("contact", Rate(refill, settings.access_code_contact_burst)),
    )


def attachment_rules(settings: IntakeSettings) -> AttachmentRules:
    return AttachmentRules(
        max_count=settings.attachment_max_count,
        max_bytes=settings.attachment_max_bytes,
        max_total_bytes=settings.attachments_max_total_bytes,
        media_types=frozenset(t.lower() for t in settings.attachment_media_types),
    )


def mail_intake_config(settings: IntakeSettings) -> MailIntakeConfig:
    return MailIntakeConfig(
        limits=MailLimits(
            header_fields=settings.mail_max_header_fields,
            header_field_bytes=settings.mail_max_header_field_bytes,
            header_bytes=settings.mail_max_header_bytes,
            subject_bytes=settings.mail_max_subject_bytes,
            parts=settings.mail_max_parts,
        ),
        case_lookups=settings.mail_case_lookups,
        parse_workers=settings.mail_parse_workers,
        trusted_authserv_ids=frozenset(settings.mail_trusted_authserv_ids),
    )


def keys_config(settings: IntakeSettings) -> KeysConfig | None:
    """With CASEDESK_SEAL_PERSONAL_DATA on: the key cache's settings and the index key (subjects
    are derived here), read before the start so that a bad one stops it (a ValueError naming the
    variable); None when off: casedesk_keys is then never imported, no key service is needed."""
    if not settings.seal_personal_data:
        return None
    from casedesk_keys.settings import KeysSettings
    from casedesk_keys.wiring import load_index_key

    keys_settings = KeysSettings.from_env()
    return keys_settings, load_index_key(keys_settings)


@contextlib.asynccontextmanager
async def citizen_keys_for(settings: IntakeSettings) -> AsyncIterator[CitizenKeys | None]:
    """The key service's keys behind a KeyCache that follows its erasures; None when off."""
    config = keys_config(settings)
    if config is None:
        yield None
        return
    from casedesk_intake.adapters.citizen_keys import CitizenKeys
    from casedesk_keyservice.client import connect

    keys_settings, index_key = config
    keys = connect(
        settings, settings.key_service_address,
        ttl_s=keys_settings.cache_ttl_s, max_entries=keys_settings.cache_max,
    )  # fmt: skip
    await keys.start()  # follows the key service's erasures into the key cache
    try:
        yield CitizenKeys(keys.cache, index_key, reopen=keys.reopen)
    finally:
        await keys.aclose()


@contextlib.asynccontextmanager
async def assembled(
    settings: IntakeSettings,
    case_channel: grpc.aio.Channel | None = None,
    citizen_keys: CitizenKeys | None = None,
) -> AsyncIterator[Assembly]:
    """`citizen_keys`: the citizens' data keys to seal with (tests); None: the key service's
    when CASEDESK_SEAL_PERSONAL_DATA is on, none when off."""
    async with contextlib.AsyncExitStack() as stack:
        if citizen_keys is None:
            citizen_keys = await stack.enter_async_context(citizen_keys_for(settings))
        async with _assembled(settings, case_channel, citizen_keys) as parts:
            yield parts


@contextlib.asynccontextmanager
async def _assembled(
    settings: IntakeSettings,
    case_channel: grpc.aio.Channel | None,
    citizen_keys: CitizenKeys | None,
) -> AsyncIterator[Assembly]:
    key = master_key(settings)
    frontends = frontend_registry(settings)
    version = settings.deadline_policy_version
    policy = load_policy(version) if version else None
    store = await open_store(settings.resolved_database_url())
    try:
        await check_sealing(store, citizen_keys is not None, time.time())
    except SealingTurnedOff as refused:
        await store.close()
        raise SettingsError(f"invalid configuration: {refused}") from None
    channel = case_channel or channel_for(settings, settings.case_address)
    vault = AttachmentVault(
        settings.resolved_attachments_dir(),
        key,
        DataKeyCache(settings.attachment_key_cache_max, settings.attachment_key_cache_ttl_s),
        citizen_keys,
    )
    references = CitizenReferences(key)
    rules = attachment_rules(settings)
    cases = CaseClient(channel, settings.case_service_timeout_s, settings.case_creates_per_call)
    keeper = AttachmentKeeper(vault)
    acknowledgements = Acknowledgements(Deadlines(policy))
    submissions = SubmissionRules(rules, settings.social_networks)
    codes = access_codes(settings, store, key, cases, frontends)
    deliveries = CodeDeliveries(codes.deliver)
    access = CaseAccess(cases, references, codes)
    follow_ups = FollowUps(cases, access, keeper, acknowledgements)
    registration = CaseRegistration(
        cases,
        store,
        keeper,
        references,
        load_classifier(settings.classification_rules_path),
        acknowledgements,
        LinkPolicy(
            window_s=settings.link_window_hours * 3600, keyed_topics=citizen_keys is not None
        ),
        clock=lambda: datetime.now(UTC),
        returning=citizen_keys,
    )
    mail = MailIntake(
        cases, follow_ups, registration, submissions, config=mail_intake_config(settings)
    )
    intake = Intake(
        admission=Admission(
            RateLimiter("frontend", Rate(settings.frontend_rate_per_s, settings.frontend_burst)),
            RateLimiter("citizen", Rate(settings.citizen_rate_per_s, settings.citizen_burst)),
        ),
        calls=IdempotentCalls(store, _record_sealer(citizen_keys, key)),
        replies=ReplyCodecs(AcknowledgementRecords(), CitizenCaseRecords(), MailOutcomeRecords()),
        attachment_rules=rules,
        registration=registration,
        access=access,
        follow_ups=follow_ups,
        mail=mail,
        codes=codes,
        deliveries=deliveries,
        watching=CaseWatching(
            cases,
            access,
            WatchLimits(settings.watch_my_case_idle_s, settings.watch_my_case_max_s),
        ),
    )
    follow_up_requests = FollowUpRequests(rules, social_networks=settings.social_networks)
    servicer = IntakeServicer(
        intake, identification(settings, frontends), submissions, follow_up_requests
    )
    vault_servicer = AttachmentVaultServicer(AttachmentOpening(cases, vault, references))
    edge = FrontendEdge(
        frontends,
        service=SERVICE_NAME,
        per_frontend=settings.frontend_max_concurrent_calls,
        tokenless=settings.tokenless_max_concurrent_calls,
        certificate_services=[
            CertificateService(
                VAULT_SERVICE,
                settings.attachment_max_concurrent_opens,
                "CASEDESK_ATTACHMENT_MAX_CONCURRENT_OPENS",
            )
        ],
        streams=[
            FrontendStream(
                "WatchMyCase",
                settings.watch_my_case_streams_per_frontend,
                "CASEDESK_WATCH_MY_CASE_STREAMS_PER_FRONTEND",
            )
        ],
    )
    purging = asyncio.create_task(_purge_forever(store, settings))
    try:
        yield Assembly(
            servicer, vault_servicer, edge, frontends, store, vault, references, deliveries
        )
    finally:
        purging.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await purging
        mail.close()
        await deliveries.close()
        await cases.close()
        if case_channel is None:
            await channel.close()
        await store.close()


def _record_sealer(citizen_keys: CitizenKeys | None, key: bytes) -> RecordSealer | None:
    if citizen_keys is None:
        return None
    from casedesk_intake.adapters.citizen_keys import SealedRecords

    return SealedRecords(citizen_keys, key)


async def _purge_forever(store: IntakeStore, settings: IntakeSettings) -> None:
    """Old idempotency records and links past the window are of no use; keep the tables small."""
    retention_s = settings.idempotency_retention_days * 86400
    while True:
        now = time.time()
        try:
            await store.purge(
                now - retention_s, now - settings.link_window_hours * 3600, codes_before=now
            )
        except Exception:
            log.exception("purging old idempotency records failed; will try again")
        await asyncio.sleep(PURGE_EVERY_S)


def intake_server(settings: IntakeSettings, parts: Assembly) -> GrpcServer:
    """The gRPC server: the edge first, the access table of the TLS setting, the receive limit.
    The desk's AttachmentVaultService is served beside IntakeService (access.py: `desk` only)."""
    access = intake_access(settings.tls_client_auth)
    check_public_rpcs_are_guarded(access, parts.edge.guards)
    max_receive = settings.max_receive_bytes()
    per_frontend = parts.edge.per_frontend.limit + sum(
        streams.limit for _, streams in parts.edge.streams.values()
    )
    slots = len(parts.frontends) * per_frontend + parts.edge.tokenless.limit
    log.info(
        "public edge",
        extra={
            "max_receive_bytes": max_receive,
            "frontend_max_concurrent_calls": parts.edge.per_frontend.limit,
            "tokenless_max_concurrent_calls": parts.edge.tokenless.limit,
            # What requests being read can take at worst (each also decoded once).
            "requests_at_most_bytes": slots * max_receive,
        },
    )
    return GrpcServer(
        settings,
        [binding(parts.servicer), vault_binding(parts.vault_servicer)],
        access=access,
        interceptors=[parts.edge],
        options=receive_limit_options(max_receive),
    )


async def serve(settings: IntakeSettings) -> None:
    telemetry = configure_telemetry(settings.service_name, settings.otlp_endpoint)
    try:
        async with assembled(settings) as parts:
            server = intake_server(settings, parts)
            tune_garbage_collector()
            await server.serve_until_signal()
    finally:
        telemetry.shutdown()


async def erase(settings: IntakeSettings, names: list[str]) -> int:
    """Shred the attachments of a citizen's identities (`casedesk-intake-erase`)."""
    key = master_key(settings)
    vault = AttachmentVault(settings.resolved_attachments_dir(), key)
    return await erase_citizen(vault, CitizenReferences(key), names)


def erase_main(argv: list[str] | None = None) -> int:
    return erase_cli.main(erase, argv)


def main() -> int:
    try:
        settings = load_settings(IntakeSettings)
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    configure_logging(settings.service_name, settings.log_level)
    workers = settings.worker_count()
    if workers > 1:
        # Workers share everything intake keeps (README "Settings", CASEDESK_WORKERS). The
        # development key file is made here, once: workers making it at once would race.
        master_key(settings)
        return supervise("casedesk_intake", workers, settings)
    become_worker(settings)
    try:
        keys_config(settings)  # a bad key setting stops the start, before anything is served
    except ImportError as error:
        print(
            "CASEDESK_SEAL_PERSONAL_DATA=true needs the packages casedesk-keys and "
            f"casedesk-keys-service, not installed here ({error.name})",
            file=sys.stderr,
        )
        return 2
    except ValueError as error:  # casedesk_keys' KeysSettingsError
        print(f"invalid configuration: {error}", file=sys.stderr)
        return 2
    try:
        run_on(settings.event_loop, serve(settings))
    except SettingsError as error:  # found once the store is open (sealing_guard.py)
        print(error, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
