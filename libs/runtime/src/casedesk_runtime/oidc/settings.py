"""`CASEDESK_OIDC_*` and `CASEDESK_CITIZEN_OIDC_*` settings, mixed into a service's settings:

    class CaseSettings(ServiceSettings, OidcSettings): ...
    class IntakeSettings(ServiceSettings, CitizenOidcSettings): ...

Unset issuer and audience mean the service verifies no such tokens; `*_token_verifier()` then
refuses with a SettingsError, so a service that needs them fails at start, not at the first call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from casedesk_runtime.oidc.verifier import TokenVerifier
from casedesk_runtime.settings import ENV_PREFIX, SettingsError


def _check_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError("must be an http(s):// URL without query or fragment")
    return value


def _check_file(value: str | None) -> str | None:
    if value is not None and not Path(value).is_file():
        raise ValueError("is not a readable file")
    return value


def _check_together(
    prefix: str, issuer: str | None, audience: str | None, **optional: object
) -> None:
    if bool(issuer) != bool(audience):
        raise ValueError(f"{prefix}ISSUER and {prefix}AUDIENCE are set together or not at all")
    stray = [f"{prefix}{name.upper()}" for name, value in optional.items() if value is not None]
    if stray and not issuer:
        raise ValueError(f"{', '.join(stray)} set without {prefix}ISSUER")


def _verifier(
    prefix: str,
    issuer: str | None,
    audience: str | None,
    jwks_url: str | None,
    ca_file: str | None,
    leeway_s: float,
) -> TokenVerifier:
    if not issuer or not audience:
        raise SettingsError(f"tokens cannot be verified: set {prefix}ISSUER and {prefix}AUDIENCE")
    return TokenVerifier(issuer, audience, jwks_url=jwks_url, ca_file=ca_file, leeway_s=leeway_s)


class OidcSettings(BaseSettings):
    """The specialists' identity provider (realm `casedesk`): tokens in `x-person-token`."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    # `iss` of the tokens, e.g. http://127.0.0.1:8180/realms/casedesk; keys are discovered from
    # <issuer>/.well-known/openid-configuration unless CASEDESK_OIDC_JWKS_URL is set.
    oidc_issuer: str | None = None
    # Must be in the tokens' `aud`, e.g. casedesk-case.
    oidc_audience: str | None = None
    # For when the issuer's own URL is not reachable from the service (an identity provider
    # behind a public hostname): its key set at an internal address, discovery skipped.
    oidc_jwks_url: str | None = None
    # CA bundle for TLS to the identity provider; unset: the system's roots.
    oidc_ca_file: str | None = None
    # Clock skew tolerated on exp/nbf/iat, seconds.
    oidc_leeway_s: float = Field(default=30.0, ge=0, le=300)

    # Validators have names of their own: a service's settings class inherits both mixins'.
    check_oidc_urls = field_validator("oidc_issuer", "oidc_jwks_url")(_check_url)
    check_oidc_files = field_validator("oidc_ca_file")(_check_file)

    @model_validator(mode="after")
    def _oidc_together(self) -> Self:
        _check_together(
            "CASEDESK_OIDC_",
            self.oidc_issuer,
            self.oidc_audience,
            jwks_url=self.oidc_jwks_url,
            ca_file=self.oidc_ca_file,
        )
        return self

    def person_token_verifier(self) -> TokenVerifier:
        return _verifier(
            "CASEDESK_OIDC_",
            self.oidc_issuer,
            self.oidc_audience,
            self.oidc_jwks_url,
            self.oidc_ca_file,
            self.oidc_leeway_s,
        )


class CitizenOidcSettings(BaseSettings):
    """The portal's sign-in (realm `portal`): citizens' tokens in `x-citizen-token` at intake."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    # e.g. http://127.0.0.1:8180/realms/portal; audience e.g. casedesk-intake.
    citizen_oidc_issuer: str | None = None
    citizen_oidc_audience: str | None = None
    citizen_oidc_jwks_url: str | None = None
    citizen_oidc_ca_file: str | None = None
    citizen_oidc_leeway_s: float = Field(default=30.0, ge=0, le=300)

    check_citizen_oidc_urls = field_validator("citizen_oidc_issuer", "citizen_oidc_jwks_url")(
        _check_url
    )
    check_citizen_oidc_files = field_validator("citizen_oidc_ca_file")(_check_file)

    @model_validator(mode="after")
    def _citizen_oidc_together(self) -> Self:
        _check_together(
            "CASEDESK_CITIZEN_OIDC_",
            self.citizen_oidc_issuer,
            self.citizen_oidc_audience,
            jwks_url=self.citizen_oidc_jwks_url,
            ca_file=self.citizen_oidc_ca_file,
        )
        return self

    def citizen_token_verifier(self) -> TokenVerifier:
        return _verifier(
            "CASEDESK_CITIZEN_OIDC_",
            self.citizen_oidc_issuer,
            self.citizen_oidc_audience,
            self.citizen_oidc_jwks_url,
            self.citizen_oidc_ca_file,
            self.citizen_oidc_leeway_s,
        )
