"""`CASEDESK_KEYS_*` settings, validated when read: a bad value stops the process with a message
naming the variable (README.md "Settings" lists them all)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from casedesk_keys.cache import DEFAULT_MAX_ENTRIES, DEFAULT_TTL_S
from casedesk_keys.rotation import DEFAULT_BATCH

PREFIX = "CASEDESK_KEYS_"
KekProviderName = Literal["pkcs11", "secret-file"]
N = TypeVar("N", int, float)
_PROVIDERS: dict[str, KekProviderName] = {"pkcs11": "pkcs11", "secret-file": "secret-file"}


class KeysSettingsError(ValueError):
    """The environment does not describe a usable key configuration."""


@dataclass(frozen=True)
class KeysSettings:
    kek_provider: KekProviderName | None = None
    kek_label: str = "casedesk-kek"
    kek_create: bool = False
    pkcs11_module: str = "/usr/lib/softhsm/libsofthsm2.so"
    pkcs11_token_label: str = "casedesk"
    pkcs11_pin_file: Path | None = None
    kek_dir: Path | None = None
    store_url: str | None = None
    index_key_file: Path | None = None
    cache_ttl_s: float = DEFAULT_TTL_S
    cache_max: int = DEFAULT_MAX_ENTRIES
    rotation_batch: int = DEFAULT_BATCH

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KeysSettings:
        env = _Reader(os.environ if environ is None else environ)
        named = env.text("KEK_PROVIDER")
        provider = _PROVIDERS.get(named or "")
        if named is not None and provider is None:
            env.problem("KEK_PROVIDER", "is `pkcs11` or `secret-file`")
        settings = cls(
            kek_provider=provider,
            kek_label=env.text("KEK_LABEL") or cls.kek_label,
            kek_create=env.flag("KEK_CREATE"),
            pkcs11_module=env.text("PKCS11_MODULE") or cls.pkcs11_module,
            pkcs11_token_label=env.text("PKCS11_TOKEN_LABEL") or cls.pkcs11_token_label,
            pkcs11_pin_file=env.path("PKCS11_PIN_FILE"),
            kek_dir=env.path("KEK_DIR"),
            store_url=env.text("STORE_URL"),
            index_key_file=env.path("INDEX_KEY_FILE"),
            cache_ttl_s=env.number("CACHE_TTL_S", DEFAULT_TTL_S, float, 0.001),
            cache_max=env.number("CACHE_MAX", DEFAULT_MAX_ENTRIES, int, 1),
            rotation_batch=env.number("ROTATION_BATCH", DEFAULT_BATCH, int, 1),
        )
        env.raise_problems()
        return settings

    def require_owner(self) -> None:
        """What the key owner (and its tools) need beyond a client's settings."""
        missing = []
        if self.kek_provider is None:
            missing.append(f"{PREFIX}KEK_PROVIDER (`pkcs11` or `secret-file`)")
        if self.kek_provider == "pkcs11" and self.pkcs11_pin_file is None:
            missing.append(f"{PREFIX}PKCS11_PIN_FILE (the token's user PIN)")
        if self.kek_provider == "secret-file" and self.kek_dir is None:
            missing.append(f"{PREFIX}KEK_DIR (the mounted Secret)")
        if self.store_url is None:
            missing.append(f"{PREFIX}STORE_URL (a SQLite path or a postgresql:// URL)")
        if missing:
            raise KeysSettingsError("the key owner needs " + "; ".join(missing))


class _Reader:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self._problems: list[str] = []

    def text(self, name: str) -> str | None:
        value = self._environ.get(PREFIX + name, "").strip()
        return value or None

    def path(self, name: str) -> Path | None:
        value = self.text(name)
        return None if value is None else Path(value)

    def flag(self, name: str) -> bool:
        value = (self.text(name) or "false").lower()
        if value not in ("true", "false", "1", "0"):
            self.problem(name, "is true or false")
        return value in ("true", "1")

    def number(self, name: str, default: N, kind: type[N], least: N) -> N:
        value = self.text(name)
        if value is None:
            return default
        try:
            number = kind(value)
        except ValueError:
            self.problem(name, f"is a number, not {value!r}")
            return default
        if number < least:
            self.problem(name, f"is at least {least}")
            return default
        return number

    def problem(self, name: str, rule: str) -> None:
        self._problems.append(f"{PREFIX}{name} {rule}")

    def raise_problems(self) -> None:
        if self._problems:
            raise KeysSettingsError("; ".join(self._problems))
