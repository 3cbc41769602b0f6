"""The case service process: `python -m casedesk_case`. The one composition root.

Wires the application, its followers (case index, WatchCase feed, outbox relay, case timeline)
and the gRPC server, and shuts them down in order on SIGTERM: stop taking calls, drain, stop
followers, close the database. On PostgreSQL the relay and the index projector run only while
this replica holds their lease (adapters/outbox/leased.py): one replica of all relays.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from eventsourcing.utils import Environment

from casedesk.case.v1 import case_service_pb2_grpc
from casedesk_case.adapters.auto_close import AutoCloser
from casedesk_case.adapters.erased_terms import ErasedTerms
from casedesk_case.adapters.outbox.leased import Follower, LeasedFollower
from casedesk_case.adapters.outbox.partitioning import CaseKeyPartitioner
from casedesk_case.adapters.outbox.relay import OutboxRelay
from casedesk_case.adapters.persistence import CaseStoreSetup
from casedesk_case.adapters.person_tokens import OidcPersonTokens
from casedesk_case.adapters.readmodel import CaseIndexProjector
from casedesk_case.adapters.readmodel.memory import InMemoryCaseIndex
from casedesk_case.adapters.retention import Retention, key_service_eraser
from casedesk_case.adapters.roster_file import RosterError, load_roster
from casedesk_case.adapters.timeline import TimelineStore, case_timeline
from casedesk_case.adapters.timeline.consumer import TimelineConsumer, TimelineTopics
from casedesk_case.adapters.watch_feed import CaseEventFeed
from casedesk_case.application import CaseApplication
from casedesk_case.application.pipeline import CommandPipeline
from casedesk_case.application.positions import index_tracking_name, outbox_tracking_name
from casedesk_case.application.sealing_guard import SealingTurnedOff, check_sealing
from casedesk_case.grpc_api.access import CASE_ACCESS
from casedesk_case.grpc_api.people import People
from casedesk_case.grpc_api.servicer import CaseServicer
from casedesk_case.grpc_api.stream_limits import WatchCaseLimits
from casedesk_case.settings import CaseSettings
from casedesk_case.wire.personal import ReplyOpener
from casedesk_runtime.collector import tune_garbage_collector
from casedesk_runtime.event_loop import run_on
from casedesk_runtime.following import Doorbell
from casedesk_runtime.grpc_server import GrpcServer
from casedesk_runtime.kafka import measured_consumer
from casedesk_runtime.logs import configure_logging, get_logger
from casedesk_runtime.publishing import Publisher, StartProducer, producer_starter
from casedesk_runtime.settings import SettingsError, load_settings
from casedesk_runtime.telemetry import configure_telemetry
from casedesk_runtime.workers import become_worker, supervise

if TYPE_CHECKING:  # imported when CASEDESK_SEAL_PERSONAL_DATA is on (_keys_config, serve)
    from casedesk_case.application.personal_data import PersonalData
    from casedesk_case.application.search_terms import SearchTerms
    from casedesk_keys import IndexKey
    from casedesk_keys.settings import KeysSettings

    KeysConfig = tuple[KeysSettings, IndexKey]

SERVICE_NAME = "casedesk.case.v1.CaseService"
# The one event store several processes share; the others are a file or the memory of one.
SHARED_STORE = "eventsourcing.postgres"
log = get_logger("casedesk_case")


async def serve(
    settings: CaseSettings,
    keys_config: KeysConfig | None = None,
    plain_index_key: IndexKey | None = None,
) -> None:
    """`plain_index_key`: with sealing off, the index key for the search terms (None: no lookups
    by SNILS, phone or e-mail)."""
    telemetry = configure_telemetry(settings.service_name, settings.otlp_endpoint)
    keys, personal, search_terms = None, None, None
    if keys_config is not None:  # CASEDESK_SEAL_PERSONAL_DATA
        from casedesk_case.application.personal_data import PersonalData
        from casedesk_keyservice.client import CacheInvalidation, connect

        keys_settings, index_key = keys_config
        keys = connect(
            settings, settings.key_service_address,
            ttl_s=keys_settings.cache_ttl_s, max_entries=keys_settings.cache_max,
        )  # fmt: skip
        personal = PersonalData(keys.cache, index_key, asyncio.get_running_loop())
        # What was just sealed for an erased citizen leaves memory with his keys.
        keys.follower.attach(CacheInvalidation(personal.forget_erased))
        search_terms = _search_terms(index_key, personal)
    elif plain_index_key is not None:
        search_terms = _search_terms(plain_index_key, None)
    app = CaseApplication(
        store_setup=CaseStoreSetup(group_commit=settings.group_commit),
        roster=load_roster(settings.roster_path),
        number_block_size=settings.number_block_size,
        personal_data=personal,
        search_terms=search_terms,
    )
    try:
        check_sealing(app.index, settings.seal_personal_data, datetime.now(UTC))
    except SealingTurnedOff as refused:
        raise SettingsError(f"invalid configuration: {refused}") from None
    executor = ThreadPoolExecutor(settings.command_workers, thread_name_prefix="case-command")
    feed = CaseEventFeed(app, idle_s=settings.follow_idle_s)
    app.on_recorded(feed.ring)
    followers: list[Coroutine[Any, Any, None]] = [feed.run()]
    stoppers: list[Callable[[], None]] = [feed.bell.close]
    if settings.index_enabled:
        index = _one_replica(
            app, "case index", index_tracking_name(app.name), lambda: _projector(app, settings)
        )
        app.on_recorded(index.ring)
        followers.append(index.run())
        stoppers.append(index.stop)
        if keys is not None and search_terms is not None:
            # Not under the projector's lease: every replica's first worker deletes an erased
            # citizen's search terms the moment it learns of the erasure (idempotent). On the
            # key cache's stream: one WatchErasures per process, resumed after the index's
            # position (keys.start() below; keys.aclose() stops it).
            keys.follower.attach(ErasedTerms(app.index))
    if settings.relay_enabled:
        position = outbox_tracking_name(app.name, settings.case_events_topic)
        relay = _one_replica(app, "outbox relay", position, lambda: _relay(app, settings))
        app.on_recorded(relay.ring)
        followers.append(_delayed(relay.run, settings.relay_start_delay_s, relay.bell))
        stoppers.append(relay.stop)
    if settings.auto_close_enabled:
        # Beside the relay: one per pod (the first worker); replicas racing are harmless
        # (adapters/auto_close.py: idempotency key from case id and version).
        closer = AutoCloser(app, settings.auto_close_after, settings.auto_close_scan_s)
        followers.append(closer.run())
        stoppers.append(closer.stop)
    retention = _retention(settings, app, personal, None if keys is None else keys.channel)
    if retention is not None:
        followers.append(retention.run())
        stoppers.append(retention.stop)
    # On the event store's database, beside the case index that joins its clocks (the memory
    # index, of the POPO store, has no table to join and asks the timeline instead).
    timeline = case_timeline(app.factory)
    if isinstance(app.index, InMemoryCaseIndex):
        app.index.read_clocks_from(timeline)
    if settings.timeline_follows:
        timeline_consumer = _timeline_consumer(settings, timeline)
        followers.append(timeline_consumer.run())
        stoppers.append(timeline_consumer.stop)

    pipeline = CommandPipeline(app, executor) if settings.command_pipeline else None
    servicer = CaseServicer(
        app,
        executor,
        feed,
        pipeline,
        _people(settings),
        case_timeline=timeline,
        max_queue_streams=settings.queue_streams_max,
        watch_case=WatchCaseLimits(
            settings.watch_case_streams_max, settings.watch_case_idle_s, settings.watch_case_max_s
        ),
        opener=None if personal is None else ReplyOpener(personal),
    )
    server = GrpcServer(
        settings,
        [(case_service_pb2_grpc.add_CaseServiceServicer_to_server, servicer, SERVICE_NAME)],
        access=CASE_ACCESS,
    )
    if keys is not None:
        await keys.start()  # follows the key service's erasures into the key cache (and index)
    await server.start()
    tune_garbage_collector()
    tasks = [asyncio.create_task(follower) for follower in followers]
    log.info(
        "case service started",
        extra={"persistence": type(app.factory).__module__, "sealing": personal is not None},
    )

    async def shut_down() -> None:
        for stop in stoppers:
            stop()  # followers finish their current step, then return
        await asyncio.gather(*tasks, return_exceptions=True)
        if pipeline is not None:
            await asyncio.to_thread(pipeline.stop)
        executor.shutdown(wait=True)
        if keys is not None:
            await keys.aclose()
        app.close()
        telemetry.shutdown()

    await server.serve_until_signal(on_shutdown=shut_down)


def _retention(
    settings: CaseSettings, app: CaseApplication, personal: PersonalData | None, channel: Any
) -> Retention | None:
    """Retention (adapters/retention.py) with sealing on and CASEDESK_RETENTION_ENABLED, beside
    the auto-closer: replicas erasing at once are harmless (already_erased). None otherwise:
    without sealing nothing is sealed, so nothing can be erased by a key."""
    if personal is None or channel is None or not settings.retention_enabled:
        return None
    return Retention(
        app, personal, key_service_eraser(channel), settings.retention_after_close,
        settings.retention_scan_s,
    )  # fmt: skip


def _keys_config(settings: CaseSettings) -> KeysConfig | None:
    """With CASEDESK_SEAL_PERSONAL_DATA on: the key cache's settings and the index key (subjects
    are derived here), read before the start so that a bad one stops it (KeysSettingsError);
    None when off: casedesk_keys is then never imported, no key service is needed."""
    if not settings.seal_personal_data:
        return None
    try:
        import casedesk_keyservice.client  # noqa: F401  (serve connects with it)
        from casedesk_keys.settings import KeysSettings
        from casedesk_keys.wiring import load_index_key
    except ImportError as error:
        raise ValueError(
            "CASEDESK_SEAL_PERSONAL_DATA=true needs the packages casedesk-keys and "
            f"casedesk-keys-service, not installed here ({error.name})"
        ) from None

    keys_settings = KeysSettings.from_env()
    return keys_settings, load_index_key(keys_settings)


INDEX_KEY_VARIABLE = "CASEDESK_KEYS_INDEX_KEY_FILE"


def _plain_index_key(settings: CaseSettings) -> IndexKey | None:
    """With CASEDESK_SEAL_PERSONAL_DATA off: the index key, when CASEDESK_KEYS_INDEX_KEY_FILE
    names one, for the search terms of SNILS, phone and e-mail (application/search_terms.py);
    None otherwise (casedesk_keys is then not imported)."""
    if settings.seal_personal_data or not os.environ.get(INDEX_KEY_VARIABLE):
        return None
    try:
        from casedesk_case.application.search_terms import index_key_from_env
    except ImportError as error:
        raise ValueError(
            f"{INDEX_KEY_VARIABLE} needs the package casedesk-keys ({error.name})"
        ) from None
    return index_key_from_env()


def _search_terms(index_key: IndexKey, personal: PersonalData | None) -> SearchTerms:
    from casedesk_case.application.search_terms import SearchTerms

    return SearchTerms(index_key, None if personal is None else personal.open_citizen)


def _one_replica(
    app: CaseApplication, name: str, position: str, start: Callable[[], Follower]
) -> Follower | LeasedFollower:
    """A follower that must run in one replica at a time: on the shared store (PostgreSQL) only
    while this replica holds its lease (adapters/outbox/lease.py); elsewhere the store is this
    process's alone."""
    if type(app.factory).__module__ != SHARED_STORE:
        return start()
    from casedesk_case.adapters.outbox.lease import PostgresLease  # PostgreSQL's driver

    datastore = app.factory.datastore  # type: ignore[attr-defined]
    return LeasedFollower(name, PostgresLease(datastore, position), start)


def _projector(app: CaseApplication, settings: CaseSettings) -> Follower:
    projector = CaseIndexProjector(app, app.index)
    return Follower(
        lambda: projector.run(settings.follow_idle_s, settings.index_pace_s),
        projector.bell,
        projector.bell.close,
    )


def _relay(app: CaseApplication, settings: CaseSettings) -> Follower:
    relay = OutboxRelay(
        app,
        Publisher(_producer_starter(settings), name="case outbox relay"),
        topic=settings.case_events_topic,
        batch_size=settings.relay_batch_size,
        idle_s=settings.follow_idle_s,
        pace_s=settings.relay_pace_s,
    )
    return Follower(relay.run, relay.bell, relay.stop)


def _people(settings: CaseSettings) -> People:
    if not settings.oidc_issuer:
        # Intake and escalation need no identity provider; the desk's calls are refused, each
        # saying why, until one is configured.
        log.warning(
            "no identity provider configured (CASEDESK_OIDC_ISSUER, CASEDESK_OIDC_AUDIENCE): "
            "calls of the desk and of operators' tools will be refused as unauthenticated"
        )
        return People(None)
    return People(OidcPersonTokens(settings.person_token_verifier()))


def _timeline_consumer(settings: CaseSettings, timeline: TimelineStore) -> TimelineConsumer:
    return TimelineConsumer(
        # Measured: its lag per partition is in the metrics like every consumer's.
        lambda: measured_consumer(settings, settings.case_timeline_group, "casedesk-case-timeline"),
        timeline,
        TimelineTopics(settings.sla_events_topic, settings.notification_events_topic),
        batch_size=settings.case_timeline_batch_size,
    )


def _producer_starter(settings: CaseSettings) -> StartProducer:
    # The relay hands the producer a whole batch before it waits for anything, so the batch is
    # complete without lingering; a linger would only delay every batch.
    return producer_starter(
        settings, "casedesk-case-relay", linger_ms=0, partitioner=CaseKeyPartitioner()
    )


async def _delayed(follower: Callable[[], Awaitable[None]], delay_s: float, bell: Doorbell) -> None:
    if delay_s:
        bell.bind()
        await bell.sleep(delay_s)  # ends early only when closed
    if not bell.closed:
        await follower()


def _workers(settings: CaseSettings) -> int:
    """Worker processes to run: several only on the event store they can share."""
    count = settings.worker_count()
    environment = Environment(CaseApplication.name, {**CaseApplication.env, **os.environ})
    store = str(environment.get("PERSISTENCE_MODULE")).partition(":")[0]
    if count == 1 or store == SHARED_STORE:
        return count
    if settings.workers in ("auto", 0):
        log.info("one worker: the event store is not shared", extra={"persistence": store})
        return 1
    raise SettingsError(
        f"invalid configuration: CASEDESK_WORKERS={settings.workers} needs the event store on "
        f"PostgreSQL (PERSISTENCE_MODULE={SHARED_STORE}); {store} keeps it in one process's "
        "file or memory, so run one worker"
    )


def _as_worker(settings: CaseSettings) -> CaseSettings:
    """Only the first worker of a supervisor runs the followers that must not run twice in one
    pod: the outbox relay (two would publish every event twice), the case timeline's consumer,
    the index projector (correct twice over, but each step done twice) and the deletion of
    erased citizens' search terms beside it (adapters/erased_terms.py), the auto-closer and
    retention (harmless twice over, but each scan done twice). The others serve
    calls and their own WatchCase/WatchQueue streams; the first finds their events within
    CASEDESK_FOLLOW_IDLE_S, as it finds other replicas'."""
    become_worker(settings)
    if not settings.worker_index:
        return settings
    followers = {
        "relay_enabled": False,
        "index_enabled": False,
        "case_timeline_enabled": False,
        "auto_close_enabled": False,
        "retention_enabled": False,
    }
    return settings.model_copy(update=followers)


def main() -> int:
    try:
        settings = load_settings(CaseSettings)
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    configure_logging(settings.service_name, settings.log_level)
    try:
        workers = _workers(settings)
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    if workers > 1:
        return supervise("casedesk_case", workers, settings)
    settings = _as_worker(settings)
    try:
        keys_config = _keys_config(settings)
        plain_index_key = _plain_index_key(settings)
    except ValueError as error:  # casedesk_keys' KeysSettingsError
        print(f"invalid configuration: {error}", file=sys.stderr)
        return 2
    try:
        run_on(settings.event_loop, serve(settings, keys_config, plain_index_key))
    except RosterError as error:
        log.error("cannot start: %s", error)
        return 2
    except SettingsError as error:  # found once the stores are open (sealing_guard.py)
        print(error, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
