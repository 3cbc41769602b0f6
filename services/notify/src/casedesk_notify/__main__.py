"""`python -m casedesk_notify`: the composition root. Builds notify from its settings and runs it.

Runs its loops (the case-events consumer, the escalation-decisions consumer, the dispatcher lanes,
the journal relay and, with a key service, the erasure watch) beside the runtime's gRPC server,
which serves only health and reflection. A failing consumer loop ends the process with an error,
so the orchestrator restarts it; nothing is lost, the store resumes where it stopped. The journal
relay (the runtime's `following.follow`) tries a failing round again after a backoff.

Kafka is written through two `Publisher`s (journal, dead letters), which wait out a broker outage
of any length. Shutdown takes at most about the grace period: what still waits for Kafka then is
abandoned (the store keeps it for the next run).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from casedesk_notify.adapters.deadline_policy import deadline_estimator
from casedesk_notify.adapters.erasure_watch import ErasedRows
from casedesk_notify.adapters.kafka.case_events import CaseEventConsumer
from casedesk_notify.adapters.kafka.escalation_decisions import DecisionConsumer
from casedesk_notify.adapters.kafka.journal_relay import JournalRelay
from casedesk_notify.adapters.kafka.shutdown import finish, stop_consumer
from casedesk_notify.adapters.outlets import (
    ChannelOutlet,
    SocialOutlet,
    email_outlet,
    network_outlet,
    sms_outlet,
)
from casedesk_notify.adapters.rate_limit import TokenBucket
from casedesk_notify.adapters.rendering import TemplateCatalog
from casedesk_notify.adapters.senders.sms_gateway import HttpSmsSender, SmsGatewayConfig
from casedesk_notify.adapters.senders.smtp import SmtpConfig, SmtpEmailSender
from casedesk_notify.adapters.senders.social_http import SocialApiConfig
from casedesk_notify.adapters.senders.telegram import TelegramConnector
from casedesk_notify.adapters.senders.vk import VkConnector
from casedesk_notify.adapters.store import DeliveryStore
from casedesk_notify.application.batch_handler import BatchHandler
from casedesk_notify.application.dispatcher import Dispatcher
from casedesk_notify.application.erasures import ErasureSweep
from casedesk_notify.application.planning import BatchPlanner
from casedesk_notify.application.ports import FieldOpener, Outlet
from casedesk_notify.domain import DeliveryChannel, NotifyPolicy, ReplyWindow
from casedesk_notify.domain.recipient_limit import RecipientLimit
from casedesk_notify.domain.retry import RetryPolicy
from casedesk_notify.settings import NotifySettings
from casedesk_notify.wire import journal
from casedesk_notify.wire.case_events import CaseEventDecoder
from casedesk_notify.wire.escalation_decisions import EscalationDecisionDecoder
from casedesk_notify.wire.sealed import PlainFields, SealedFields
from casedesk_runtime.consumer_lag import ConsumerLag
from casedesk_runtime.grpc_authz import REFLECTION
from casedesk_runtime.grpc_server import GrpcServer
from casedesk_runtime.kafka import MeasuredConsumer, consumer_config, measured_consumer
from casedesk_runtime.logs import configure_logging
from casedesk_runtime.publishing import Publisher, dead_letter, producer_starter
from casedesk_runtime.settings import SettingsError, load_settings
from casedesk_runtime.telemetry import configure_telemetry

log = logging.getLogger(__name__)
CONSUMER_NAME = "notify"  # names the dead-letter topic case.events.v1.dlq.notify
# The journal's last flush gets at least this long, even when the deliveries used up the grace.
MIN_FLUSH_S = 1.0


# No RPC of its own: health (always open to probes) and, for an operator's grpcurl, reflection.
OPERATOR_ONLY = {REFLECTION: {"operator"}}


def main() -> int:
    try:
        settings = load_settings(NotifySettings)
        tokens = social_tokens(settings)
    except SettingsError as error:
        print(f"notify: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.service_name, settings.log_level)
    telemetry = configure_telemetry(settings.service_name, settings=settings)
    try:
        if settings.event_loop == "uvloop":
            import uvloop

            return uvloop.run(run(settings, tokens))
        return asyncio.run(run(settings, tokens))
    finally:
        telemetry.shutdown()


async def run(settings: NotifySettings, tokens: dict[str, str] | None = None) -> int:
    """`tokens`: the social networks' tokens by network (`social_tokens`)."""
    store = DeliveryStore(settings.store_path, settings.store_synchronous)
    if not settings.key_service_address and store.holds_sealed():
        # Its deliveries could never be opened: each would be dead-lettered at its attempt, and
        # every later event of its cases too; a deployment that lost the setting stops here,
        # saying which, before it parks anything.
        store.close()
        print(
            "notify: invalid configuration: the delivery store holds sealed personal data "
            f"({settings.store_path}) but CASEDESK_KEY_SERVICE_ADDRESS is not set",
            file=sys.stderr,
        )
        return 2
    catalog = TemplateCatalog(
        settings.portal_base_url,
        settings.template_version,
        auto_close_after=settings.auto_close_after,
    )
    journal_publisher = Publisher(producer_starter(settings, "notify"), name="notify journal")
    # The consumer and every dispatcher lane may park records: one delivery at a time.
    dlq_publisher = Publisher(producer_starter(settings, "notify-dlq"), name="notify dead letters")
    parking = asyncio.Lock()
    consumer = measured_consumer(
        settings, settings.consumer_group, "notify", fetch_max_wait_ms=settings.fetch_max_wait_ms
    )
    outlets, senders = build_outlets(settings, tokens or {})
    keys, opener = open_keys(settings)
    relay = JournalRelay(store, journal_publisher, settings.notification_events_topic)

    async def park(record: Any, error: Exception | str) -> bool:
        async with parking:
            return await dead_letter(
                dlq_publisher, settings.case_events_topic, CONSUMER_NAME, record, error
            )

    dispatcher = Dispatcher(
        store,
        outlets,
        RetryPolicy(settings.max_attempts, settings.retry_base_s, settings.retry_max_s),
        dead_letter=park,  # a SourceRecord has the fields of a ConsumerRecord
        journal=journal,
        journal_written=relay.wake,
        recipients=RecipientLimit(
            settings.recipient_limit, settings.recipient_window_s, settings.recipient_hold_max
        ),
        reply_window_s=settings.reply_merge_window_s,
        opener=opener,  # opens the deliveries stored sealed, at their attempt
    )
    planner = BatchPlanner(
        CaseEventDecoder(deadline_estimator(settings.deadline_policy_version), opener),
        catalog,
        NotifyPolicy(settings.notify_on_escalation, settings.notify_on_public_reply),
        channels=outlets.keys(),
        load_card=store.card,
        journal=journal,
        window=ReplyWindow(settings.reply_merge_window_s),
        load_deferred=store.deferred,
        decoders={settings.escalation_decisions_topic: EscalationDecisionDecoder()},
        opener=opener if keys is not None else None,  # no keys to fetch without one
    )
    handler = BatchHandler(store, planner, dispatcher, park, journal_written=relay.wake)
    case_events = CaseEventConsumer(
        consumer, settings.case_events_topic, handler, max_records=settings.max_batch
    )
    decisions_consumer = decision_consumer(settings)
    decisions = (
        DecisionConsumer(decisions_consumer, settings.escalation_decisions_topic, handler)
        if decisions_consumer is not None
        else None
    )
    server = GrpcServer(settings, access=OPERATOR_ONLY)
    if keys is not None:
        # One WatchErasures stream into the key cache, then the store (adapters.erasure_watch),
        # resumed after the position the store applied last.
        keys.follower.attach(erased_rows(store, dispatcher, relay))
        await keys.start()
    await consumer.start()
    if decisions_consumer is not None:
        await decisions_consumer.start()
    pending = store.pending()
    dispatcher.submit(pending)  # resume what a previous run left unfinished
    log.info("notify started", extra={"resumed_deliveries": len(pending),
                                      "channels": sorted(c.value for c in outlets)})  # fmt: skip
    relay_task = asyncio.create_task(relay.run(), name="journal-relay")
    consumer_task = asyncio.create_task(case_events.run(), name="case-events")
    decisions_task = (
        asyncio.create_task(decisions.run(), name="escalation-decisions") if decisions else None
    )

    async def shut_down() -> None:
        # One grace period for the whole drain; the journal's last flush comes last.
        deadline = asyncio.get_running_loop().time() + settings.shutdown_grace_s

        def left() -> float:
            return max(deadline - asyncio.get_running_loop().time(), 0.0)

        case_events.stop()
        if decisions is not None and decisions_task is not None:
            decisions.stop()
            await finish(decisions_task, left(), dlq_publisher)
        await finish(consumer_task, left(), dlq_publisher)
        await dispatcher.stop(left())  # lanes still parking after it are cancelled
        await dlq_publisher.aclose()
        relay.stop()
        await finish(relay_task, max(left(), MIN_FLUSH_S), journal_publisher)
        await journal_publisher.aclose()
        await stop_consumer(consumer)
        if decisions_consumer is not None:
            await stop_consumer(decisions_consumer)
        for sender in senders:
            await sender.close()
        if keys is not None:
            await keys.aclose()  # the erasure follower first: no batch applied after this
        store.close()

    serving = asyncio.create_task(server.serve_until_signal(on_shutdown=shut_down), name="grpc")
    loops = {consumer_task, relay_task, *([decisions_task] if decisions_task else [])}
    await asyncio.wait({serving, *loops}, return_when=asyncio.FIRST_COMPLETED)
    if serving.done() or case_events.stopping:
        await serving  # a signal arrived: let the graceful shutdown run to its end
        return 0
    failed = next(task for task in loops if task.done())
    log.error("%s loop failed; stopping", failed.get_name(), exc_info=failed.exception())
    await server.stop(grace=1.0)
    serving.cancel()
    await shut_down()
    return 1


def open_keys(settings: NotifySettings) -> tuple[Any, FieldOpener]:
    """The key service's client and the opener of sealed fields (wire.sealed); with no
    `CASEDESK_KEY_SERVICE_ADDRESS`, none and `PlainFields` (a sealed field is then poison)."""
    if not settings.key_service_address:
        log.info("no key service: sealed fields in case events will be dead-lettered")
        return None, PlainFields()
    from casedesk_keyservice.client import connect

    keys = connect(
        settings, settings.key_service_address,
        ttl_s=settings.keys_cache_ttl_s, max_entries=settings.keys_cache_max,
    )  # fmt: skip
    return keys, SealedFields(keys.cache)


def erased_rows(store: DeliveryStore, dispatcher: Dispatcher, relay: JournalRelay) -> ErasedRows:
    """The store's listener on the erasure journal (without a key service there is nothing to
    follow, and no sealed row to forget)."""
    sweep = ErasureSweep(
        store,
        journal,
        sending=dispatcher.sending,
        finished=dispatcher.finished_elsewhere,
        journal_written=relay.wake,
    )
    return ErasedRows(sweep)


def decision_consumer(settings: NotifySettings) -> MeasuredConsumer | None:
    """The escalation.decisions.v1 consumer: no group (see DecisionConsumer), its lag measured
    under notify's group name; None when the topic is set empty."""
    if not settings.escalation_decisions_topic:
        return None
    config = {**consumer_config(settings, settings.consumer_group), "group_id": None}
    consumer = MeasuredConsumer(
        **config, client_id="notify-decisions", fetch_max_wait_ms=settings.fetch_max_wait_ms
    )
    consumer.lag = ConsumerLag(consumer, settings.consumer_group)
    return consumer


def social_tokens(settings: NotifySettings) -> dict[str, str]:
    """Each configured network's token, read from its file; SettingsError naming the variable
    (never the content) when one cannot be read or is empty."""
    files = {"telegram": settings.telegram_token_file, "vk": settings.vk_token_file}
    tokens = {}
    for network, path in files.items():
        if path is None:
            continue
        variable = f"CASEDESK_{network.upper()}_TOKEN_FILE"
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise SettingsError(f"{variable}: cannot read {path}: {error.strerror}") from None
        if not token:
            raise SettingsError(f"{variable}: {path} is empty")
        tokens[network] = token
    return tokens


def build_outlets(
    settings: NotifySettings, tokens: dict[str, str] | None = None
) -> tuple[dict[DeliveryChannel, Outlet], list[Any]]:
    """The outlets the settings enable (a channel without a provider is off), and the senders
    to close at shutdown. `tokens`: the social networks' (`social_tokens`)."""
    outlets: dict[DeliveryChannel, Outlet] = {}
    senders: list[Any] = []
    if settings.smtp_host:
        email = SmtpEmailSender(
            SmtpConfig(
                host=settings.smtp_host,
                port=settings.smtp_port,
                tls=settings.smtp_tls,
                username=settings.smtp_username,
                password=_secret(settings.smtp_password),
                timeout_s=settings.smtp_timeout_s,
                data_timeout_s=settings.smtp_data_timeout_s,
                pool_size=settings.smtp_pool_size,
                sender=settings.email_from,
                reply_to=settings.email_reply_to,
                validate_certs=settings.smtp_validate_certs,
            )
        )
        senders.append(email)
        bucket = TokenBucket(settings.email_rate_per_s, settings.email_burst)
        outlets[DeliveryChannel.EMAIL] = email_outlet(
            email, settings.message_id_domain, bucket, settings.smtp_pool_size
        )
    if settings.sms_gateway_url:
        sms = HttpSmsSender(
            SmsGatewayConfig(
                url=settings.sms_gateway_url,
                token=_secret(settings.sms_gateway_token),
                body_format=settings.sms_body_format,
                sender_name=settings.sms_sender_name,
                field_to=settings.sms_field_to,
                field_text=settings.sms_field_text,
                field_client_id=settings.sms_field_client_id,
                field_sender=settings.sms_field_sender,
                response_id_field=settings.sms_response_id_field,
                timeout_s=settings.sms_timeout_s,
                max_connections=settings.sms_max_in_flight,
            )
        )
        senders.append(sms)
        bucket = TokenBucket(settings.sms_rate_per_s, settings.sms_burst)
        outlets[DeliveryChannel.SMS] = sms_outlet(sms, bucket, settings.sms_max_in_flight)
    networks = social_networks(settings, tokens or {}, senders)
    if networks:
        outlets[DeliveryChannel.SOCIAL] = SocialOutlet(networks)
    return outlets, senders


def social_networks(
    settings: NotifySettings, tokens: dict[str, str], senders: list[Any]
) -> dict[str, ChannelOutlet]:
    """An outlet per network with a token, each with its own rate limit."""
    urls = {"telegram": settings.telegram_api_url, "vk": settings.vk_api_url}
    networks = {}
    for network, token in tokens.items():
        config = SocialApiConfig(
            api_url=urls[network],
            token=token,
            timeout_s=settings.social_timeout_s,
            max_connections=settings.social_max_in_flight,
        )
        connector = (
            TelegramConnector(config)
            if network == "telegram"
            else VkConnector(config, settings.vk_api_version)
        )
        senders.append(connector)
        bucket = TokenBucket(settings.social_rate_per_s, settings.social_burst)
        networks[network] = network_outlet(connector, bucket, settings.social_max_in_flight)
    return networks


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


if __name__ == "__main__":
    sys.exit(main())
