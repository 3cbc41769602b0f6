"""Settings -> adapters: the key owner's provider, store and keyring, and the index key.

Adapters are imported only when chosen, so a service that only caches keys and derives subjects
needs neither python-pkcs11's HSM library nor a PostgreSQL driver.
"""

from __future__ import annotations

from pathlib import Path

from casedesk_keys.keyring import Keyring
from casedesk_keys.ports import KekProvider, KeyStore
from casedesk_keys.settings import PREFIX, KeysSettings, KeysSettingsError
from casedesk_keys.subjects import IndexKey


def open_kek_provider(settings: KeysSettings) -> KekProvider:
    settings.require_owner()
    if settings.kek_provider == "pkcs11":
        from casedesk_keys.adapters.pkcs11_kek import Pkcs11Config, Pkcs11KekProvider

        assert settings.pkcs11_pin_file is not None  # require_owner
        config = Pkcs11Config(
            module=settings.pkcs11_module,
            token_label=settings.pkcs11_token_label,
            pin=_read_secret(settings.pkcs11_pin_file, "PKCS11_PIN_FILE"),
            kek_label=settings.kek_label,
            create=settings.kek_create,
        )
        return Pkcs11KekProvider(config)
    from casedesk_keys.adapters.secret_file_kek import SecretFileKekProvider

    assert settings.kek_dir is not None  # require_owner
    return SecretFileKekProvider(settings.kek_dir, settings.kek_label, settings.kek_create)


def open_key_store(settings: KeysSettings) -> KeyStore:
    settings.require_owner()
    url = settings.store_url or ""
    if url.startswith(("postgresql://", "postgres://")):
        from casedesk_keys.adapters.postgres_store import PostgresKeyStore

        return PostgresKeyStore.open(url)
    from casedesk_keys.adapters.sqlite_store import SqliteKeyStore

    path = Path(url.removeprefix("sqlite://"))
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteKeyStore(path)


def open_keyring(settings: KeysSettings) -> Keyring:
    kek = open_kek_provider(settings)
    try:
        return Keyring(open_key_store(settings), kek)
    except BaseException:
        kek.close()
        raise


def load_index_key(settings: KeysSettings) -> IndexKey:
    if settings.index_key_file is None:
        raise KeysSettingsError(f"{PREFIX}INDEX_KEY_FILE is needed (base64 of 32 bytes)")
    try:
        return IndexKey.from_base64(_read_secret(settings.index_key_file, "INDEX_KEY_FILE"))
    except ValueError as error:
        raise KeysSettingsError(f"{PREFIX}INDEX_KEY_FILE: {error}") from None


def _read_secret(path: Path, name: str) -> str:
    try:
        return path.read_text().strip()
    except OSError as error:
        raise KeysSettingsError(f"{PREFIX}{name} cannot be read: {error.strerror}") from None
