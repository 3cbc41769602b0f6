"""`python -m casedesk_keyservice`: the composition root. Builds the key service from its
settings and runs it until SIGTERM.

Start: the key owner's settings (CASEDESK_KEYS_*) are checked, the index key read, the KEK
provider opened (PKCS#11 login, or the mounted Secret), the key store and the erasure journal
migrated; then the gRPC server listens. A bad setting, a missing KEK or an unusable HSM or store
stops the start with a one-line message (exit 2), as the orchestrator should see it.

Stop: the erasure feed closes first, so every WatchErasures stream ends at once (UNAVAILABLE:
its client watches again, on another replica) instead of holding the drain for the whole grace;
then the server drains (health NOT_SERVING first), then the store, journal and HSM session close.
One process per pod: no worker processes (the HSM session serialises the calls anyway; replicas
scale it out, the store and the journal are shared).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from dataclasses import dataclass, field

from casedesk_keys import Keyring, KeysError, Subjects
from casedesk_keys.settings import KeysSettings, KeysSettingsError
from casedesk_keys.wiring import load_index_key, open_keyring
from casedesk_keyservice.adapters.journals import open_journal
from casedesk_keyservice.adapters.person_tokens import OidcPersonTokens
from casedesk_keyservice.application import ErasureFeed, ErasureJournal, Erasures
from casedesk_keyservice.grpc_api.access import KEY_ACCESS, SERVICE_NAME
from casedesk_keyservice.grpc_api.erasers import Erasers
from casedesk_keyservice.grpc_api.servicer import ADD_TO_SERVER, KeyServicer
from casedesk_keyservice.settings import KeyServiceSettings
from casedesk_runtime.event_loop import run_on
from casedesk_runtime.grpc_server import GrpcServer
from casedesk_runtime.logs import configure_logging, get_logger
from casedesk_runtime.settings import SettingsError, load_settings
from casedesk_runtime.telemetry import configure_telemetry

log = get_logger("casedesk_keyservice")


@dataclass
class KeyServiceProcess:
    """Everything one process runs, built by `compose`, started and stopped in order."""

    server: GrpcServer
    feed: ErasureFeed
    keyring: Keyring
    journal: ErasureJournal
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stopped: bool = False

    async def start(self) -> int:
        self._tasks.append(asyncio.create_task(self.feed.run(), name="erasure-feed"))
        return await self.server.start()

    async def stop(self, grace: float | None = None) -> None:
        """Idempotent: a start that failed halfway and a signal both end here."""
        if self._stopped:
            return
        self._stopped = True
        self.feed.close()
        await self.server.stop(grace)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        _close(self.keyring, self.journal)


async def compose(settings: KeyServiceSettings, keys: KeysSettings) -> KeyServiceProcess:
    """Settings -> adapters -> use cases -> server. Raises KeysSettingsError, KeysError (HSM,
    store), SettingsError (TLS)."""
    subjects, keyring, journal = await asyncio.to_thread(_open_stores, keys)  # they block
    try:
        assert keys.kek_provider is not None  # _open_stores: require_owner
        feed = ErasureFeed(journal, settings.keys_erasure_poll_s, settings.keys_watch_batch)
        erasures = Erasures(keyring, subjects, journal, announce=feed.ring)
        erasers = Erasers(_person_tokens(settings))
        servicer = KeyServicer(keyring, erasures, feed, journal, erasers, keys.kek_provider)
        server = GrpcServer(settings, [(ADD_TO_SERVER, servicer, SERVICE_NAME)], access=KEY_ACCESS)
    except BaseException:
        _close(keyring, journal)
        raise
    return KeyServiceProcess(server, feed, keyring, journal)


def _open_stores(keys: KeysSettings) -> tuple[Subjects, Keyring, ErasureJournal]:
    """The index key, the keyring (HSM login, key store migrated) and the erasure journal."""
    keys.require_owner()
    subjects = Subjects(load_index_key(keys))
    assert keys.store_url is not None  # require_owner
    keyring = open_keyring(keys)
    try:
        return subjects, keyring, open_journal(keys.store_url)
    except BaseException:
        keyring.store.close()
        keyring.kek.close()
        raise


def _close(keyring: Keyring, journal: ErasureJournal) -> None:
    journal.close()
    keyring.store.close()
    keyring.kek.close()


def _person_tokens(settings: KeyServiceSettings) -> OidcPersonTokens | None:
    if not settings.oidc_issuer:
        log.warning(
            "no identity provider configured (CASEDESK_OIDC_ISSUER, CASEDESK_OIDC_AUDIENCE): "
            "erasures ordered by a person will be refused as unauthenticated"
        )
        return None
    return OidcPersonTokens(settings.person_token_verifier())


async def serve(settings: KeyServiceSettings, keys: KeysSettings) -> None:
    process = await compose(settings, keys)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await process.start()
        log.info("key service started", extra={"kek_provider": keys.kek_provider})
        await stop.wait()
        log.info("shutdown requested: draining")
    finally:
        await process.stop()
    log.info("stopped")


def main() -> int:
    try:
        settings = load_settings(KeyServiceSettings)
        keys = KeysSettings.from_env()
        keys.require_owner()
    except (SettingsError, KeysSettingsError) as error:
        print(f"keys: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.service_name, settings.log_level)
    telemetry = configure_telemetry(settings.service_name, settings=settings)
    try:
        run_on(settings.event_loop, serve(settings, keys))
    except (KeysSettingsError, KeysError, SettingsError) as error:
        log.error("cannot start: %s", error)
        return 2
    finally:
        telemetry.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
