"""Token verification against a fake identity provider over real HTTP(S) on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from casedesk_runtime import pki
from casedesk_runtime.oidc import (
    CitizenOidcSettings,
    IdpUnavailable,
    OidcSettings,
    Reason,
    TokenRejected,
    TokenVerifier,
)
from casedesk_runtime.oidc import verifier as verifier_module
from casedesk_runtime.oidc_grpc import (
    CITIZEN_TOKEN_KEY,
    PERSON_TOKEN_KEY,
    authenticate,
    citizen_token,
    person_token,
    status_for,
)
from casedesk_runtime.settings import ServiceSettings, SettingsError, load_settings
from casedesk_runtime.testing.clocks import ManualClock
from casedesk_runtime.testing.identity_provider import FakeIdentityProvider, SigningKey

sys.path.insert(0, str(Path(__file__).parent))

from oidc_tokens import hmac_with_public_key, unsigned, with_payload

AUDIENCE = "casedesk-case"


@pytest.fixture
def idp() -> Iterator[FakeIdentityProvider]:
    with FakeIdentityProvider(realm="casedesk", audience=AUDIENCE) as provider:
        yield provider


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def verifier(idp: FakeIdentityProvider, clock: ManualClock) -> TokenVerifier:
    return TokenVerifier(idp.issuer, AUDIENCE, refetch_interval_s=10, clock=clock)


async def rejected(verifier: TokenVerifier, token: str) -> Reason:
    with pytest.raises(TokenRejected) as caught:
        await verifier.verify(token)
    if token:
        assert token not in str(caught.value) and token not in repr(caught.value)
    return caught.value.reason


# --- accepted ----------------------------------------------------------------------------------


async def test_a_valid_token_gives_who_the_caller_is(
    idp: FakeIdentityProvider, verifier: TokenVerifier
) -> None:
    exp = int(time.time()) + 300
    token = idp.mint(
        "5d1c-sub",
        username="l2.petrov",
        name="Пётр Петров",
        roles=["specialist", "offline_access"],
        tier="L2",
        extra={"exp": exp},
    )
    person = await verifier.verify(token)
    assert person.subject == "5d1c-sub"
    assert person.issuer == idp.issuer
    assert person.username == "l2.petrov"
    assert person.display_name == "Пётр Петров"
    assert person.realm_roles == {"specialist", "offline_access"}
    assert person.has_role("specialist") and not person.has_role("supervisor")
    assert person.tier == "L2"
    assert person.expires_at.timestamp() == exp
    assert person.claims["typ"] == "Bearer"
    # Names stay out of repr (logs); the opaque subject id and roles are enough to debug.
    assert "petrov" not in repr(person) and "Пётр" not in repr(person)


async def test_an_audience_list_containing_ours_is_accepted(
    idp: FakeIdentityProvider, verifier: TokenVerifier
) -> None:
    person = await verifier.verify(idp.mint(audience=["account", AUDIENCE]))
    assert person.realm_roles == frozenset()
    assert person.tier is None and person.username is None


async def test_a_token_with_padded_segments_is_accepted_and_junk_is_not(
    idp: FakeIdentityProvider, verifier: TokenVerifier
) -> None:
    # Some issuers pad their base64url segments; PyJWT accepts that, so must the first read.
    # (Only the signature's padding can be added here: the other two are what was signed.)
    segments = idp.mint("padded-sub").split(".")
    padded = ".".join([*segments[:2], segments[2] + "=" * (-len(segments[2]) % 4)])
    assert padded.endswith("=")
    assert (await verifier.verify(padded)).subject == "padded-sub"
    for junk in ["a.b.c.d", segments[0] + "!." + ".".join(segments[1:]), "a===.b.c"]:
        assert await rejected(verifier, junk) == Reason.MALFORMED


async def test_a_token_is_verified_once_and_remembered_until_it_expires(
    idp: FakeIdentityProvider, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = TokenVerifier(idp.issuer, AUDIENCE, clock=clock, leeway_s=0)
    token = idp.mint("remembered-sub", expires_in=1)
    first = await verifier.verify(token)

    def no_second_check(*_: object) -> None:
        raise AssertionError("a remembered token was verified again")

    with monkeypatch.context() as patched:
        patched.setattr(verifier, "_decode", no_second_check)
        assert await verifier.verify(token) is first
    time.sleep(max(0.0, first.expires_at.timestamp() - time.time()) + 0.05)
    assert await rejected(verifier, token) == Reason.EXPIRED


async def test_the_remembered_tokens_are_bounded(
    idp: FakeIdentityProvider, verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verifier_module, "MAX_REMEMBERED", 2)
    tokens = [idp.mint(f"sub-{n}") for n in range(3)]
    for token in tokens:
        await verifier.verify(token)
    calls = []
    real_decode = verifier._decode

    def counted(token: str, *read: Any) -> None:
        calls.append(token)
        real_decode(token, *read)

    monkeypatch.setattr(verifier, "_decode", counted)
    for token in reversed(tokens):
        await verifier.verify(token)
    assert calls == [tokens[0]]  # the oldest was forgotten, the two newest remembered


async def test_es256_keys_are_accepted() -> None:
    async with FakeIdentityProvider(algorithm="ES256") as idp:
        verifier = TokenVerifier(idp.issuer, AUDIENCE)
        person = await verifier.verify(idp.mint_specialist("l3.sidorova", tier="L3"))
    assert person.tier == "L3"


async def test_clock_skew_within_the_leeway_is_tolerated(
    idp: FakeIdentityProvider, verifier: TokenVerifier
) -> None:
    await verifier.verify(idp.mint(expires_in=-10))
    await verifier.verify(idp.mint(not_before=time.time() + 10))
    assert await rejected(verifier, idp.mint(expires_in=-60)) == Reason.EXPIRED


# --- rejected ----------------------------------------------------------------------------------


async def test_time_claims(idp: FakeIdentityProvider, verifier: TokenVerifier) -> None:
    assert await rejected(verifier, idp.mint(expires_in=-3600)) == Reason.EXPIRED
    future = time.time() + 600
    assert await rejected(verifier, idp.mint(not_before=future)) == Reason.NOT_YET_VALID
    assert await rejected(verifier, idp.mint(issued_at=future)) == Reason.NOT_YET_VALID


async def test_audience(idp: FakeIdentityProvider, verifier: TokenVerifier) -> None:
    assert await rejected(verifier, idp.mint(audience="casedesk-intake")) == Reason.WRONG_AUDIENCE
    assert await rejected(verifier, idp.mint(audience=["account"])) == Reason.WRONG_AUDIENCE
    assert await rejected(verifier, idp.mint(audience=None)) == Reason.WRONG_AUDIENCE


async def test_another_issuer_is_refused_without_fetching_keys(
    idp: FakeIdentityProvider, verifier: TokenVerifier
) -> None:
    other_realm = idp.issuer.replace("/realms/casedesk", "/realms/portal")
    assert await rejected(verifier, idp.mint(issuer=other_realm)) == Reason.WRONG_ISSUER
    assert await rejected(verifier, idp.mint(issuer=None)) == Reason.WRONG_ISSUER
    assert idp.jwks_requests == 0


async def test_signatures(idp: FakeIdentityProvider, verifier: TokenVerifier) -> None:
    impostor = SigningKey.generate(kid=idp.signing_key.kid)  # claims to be the issuer's key
    assert await rejected(verifier, idp.mint(key=impostor)) == Reason.BAD_SIGNATURE
    assert await rejected(verifier, idp.mint(key=SigningKey.generate())) == (
        Reason.UNKNOWN_SIGNING_KEY
    )
    genuine = idp.mint_specialist(tier="L1")
    promoted = with_payload(genuine, idp.claims(roles=["supervisor"], tier="L3"))
    assert await rejected(verifier, promoted) == Reason.BAD_SIGNATURE
    # An EC signature under the kid of the issuer's RSA key.
    ec_under_rsa_kid = SigningKey.generate("ES256", kid=idp.signing_key.kid)
    assert await rejected(verifier, idp.mint(key=ec_under_rsa_kid)) == Reason.BAD_SIGNATURE


async def test_alg_none_and_algorithm_confusion(
    idp: FakeIdentityProvider, verifier: TokenVerifier
) -> None:
    claims = idp.claims(roles=["supervisor"])
    none = unsigned({"kid": idp.signing_key.kid, "typ": "JWT"}, claims)
    assert await rejected(verifier, none) == Reason.UNSUPPORTED_ALGORITHM
    confused = hmac_with_public_key(idp.signing_key, claims)
    assert await rejected(verifier, confused) == Reason.UNSUPPORTED_ALGORITHM


async def test_malformed(idp: FakeIdentityProvider, verifier: TokenVerifier) -> None:
    for garbage in ["", "abc", "a.b.c", "x" * 20_000, idp.mint()[:-3] + "!!!"]:
        assert await rejected(verifier, garbage) == Reason.MALFORMED
    assert await rejected(verifier, idp.mint(headers={"kid": None})) == Reason.MALFORMED
    assert await rejected(verifier, idp.mint(extra={"sub": None})) == Reason.MALFORMED
    assert await rejected(verifier, idp.mint(extra={"exp": None})) == Reason.MALFORMED
    roles_not_a_list = idp.mint(extra={"realm_access": {"roles": "supervisor"}})
    assert await rejected(verifier, roles_not_a_list) == Reason.MALFORMED


async def test_the_checks_jwt_decode_made(
    idp: FakeIdentityProvider, verifier: TokenVerifier
) -> None:
    # The verifier checks tokens itself, with PyJWT's rules and outcomes (verifier.py).
    header, payload, signature = idp.mint("canonical-sub").split(".")
    # The last character of an RSA-2048 signature carries 2 bits and 4 unused ones, which must be
    # zero: the same bytes spelt another way are not the token that was signed.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    stray = alphabet[alphabet.index(signature[-1]) | 1]
    assert stray != signature[-1]
    assert await rejected(verifier, f"{header}.{payload}.{signature[:-1]}{stray}") == (
        Reason.MALFORMED
    )
    assert await rejected(verifier, idp.mint(headers={"crit": ["exp"]})) == Reason.MALFORMED
    assert await rejected(verifier, idp.mint(headers={"crit": "b64"})) == Reason.MALFORMED
    assert await rejected(verifier, idp.mint(headers={"kid": idp.signing_key.kid, "crit": []})) == (
        Reason.MALFORMED
    )
    assert await rejected(verifier, idp.mint(headers={"crit": ["b64"]})) == Reason.MALFORMED
    assert await rejected(verifier, idp.mint(extra={"iat": [1]})) == Reason.MALFORMED
    assert await rejected(verifier, idp.mint(extra={"nbf": "soon"})) == Reason.MALFORMED
    assert await rejected(verifier, idp.mint(extra={"jti": 5})) == Reason.MALFORMED
    assert await rejected(verifier, idp.mint(audience=[AUDIENCE, 5])) == Reason.WRONG_AUDIENCE
    assert await rejected(verifier, idp.mint(audience=[])) == Reason.WRONG_AUDIENCE
    assert await rejected(verifier, idp.mint(audience={"aud": AUDIENCE})) == Reason.WRONG_AUDIENCE
    assert (await verifier.verify(idp.mint(audience=AUDIENCE))).subject


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_keys_not_for_signatures_are_ignored(clock: ManualClock) -> None:
    # Keycloak publishes an RSA-OAEP encryption key beside its signing key; an HMAC secret or a
    # short RSA key in a key set must not become a way in either.
    encryption = SigningKey.generate(kid="enc-1")
    unlabelled = SigningKey.generate(kid="enc-2")  # `use: enc` and no `alg` to rule it out
    weak = SigningKey(
        "weak-1", "RS256", rsa.generate_private_key(public_exponent=65537, key_size=1024)
    )
    extra = [
        {**encryption.public_jwk(), "use": "enc", "alg": "RSA-OAEP"},
        {k: v for k, v in unlabelled.public_jwk().items() if k != "alg"} | {"use": "enc"},
        {"kty": "oct", "kid": "hmac-1", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"},
        weak.public_jwk(),
    ]
    async with FakeIdentityProvider(extra_jwks=extra) as idp:
        verifier = TokenVerifier(idp.issuer, AUDIENCE, clock=clock)
        await verifier.verify(idp.mint())
        for key in (encryption, unlabelled, weak, SigningKey.generate(kid="hmac-1")):
            assert await rejected(verifier, idp.mint(key=key)) == Reason.UNKNOWN_SIGNING_KEY


# --- keys: rotation, refetch limits, outages ---------------------------------------------------


async def test_a_rotated_key_is_picked_up_and_a_withdrawn_one_stops_working(
    idp: FakeIdentityProvider, verifier: TokenVerifier, clock: ManualClock
) -> None:
    old = idp.mint_specialist()
    await verifier.verify(old)
    idp.rotate_keys()
    new = idp.mint_specialist()
    clock.advance(10)
    assert (await verifier.verify(new)).username == "l2.petrov"
    assert idp.jwks_requests == 2
    assert await rejected(verifier, old) == Reason.UNKNOWN_SIGNING_KEY


async def test_during_a_rollover_both_keys_verify(
    idp: FakeIdentityProvider, verifier: TokenVerifier, clock: ManualClock
) -> None:
    old = idp.mint()
    await verifier.verify(old)
    idp.rotate_keys(keep_previous=True)
    clock.advance(10)
    await verifier.verify(idp.mint())
    await verifier.verify(old)
    assert idp.jwks_requests == 2


async def test_unknown_key_ids_cost_at_most_one_fetch_per_interval(
    idp: FakeIdentityProvider, verifier: TokenVerifier, clock: ManualClock
) -> None:
    await verifier.verify(idp.mint())
    sprayed = [idp.mint(key=SigningKey.generate("ES256")) for _ in range(30)]
    clock.advance(10)
    verdicts = await asyncio.gather(*(verifier.verify(t) for t in sprayed), return_exceptions=True)
    assert all(
        isinstance(v, TokenRejected) and v.reason == Reason.UNKNOWN_SIGNING_KEY for v in verdicts
    )
    assert idp.jwks_requests == 2
    for token in sprayed:  # within the interval: answered from the cache
        assert await rejected(verifier, token) == Reason.UNKNOWN_SIGNING_KEY
    clock.advance(9.9)
    assert await rejected(verifier, sprayed[0]) == Reason.UNKNOWN_SIGNING_KEY
    assert idp.jwks_requests == 2
    clock.advance(0.1)
    assert await rejected(verifier, sprayed[0]) == Reason.UNKNOWN_SIGNING_KEY
    assert idp.jwks_requests == 3
    # Tokens with the known key never wait for, nor cause, a fetch.
    await verifier.verify(idp.mint())
    assert idp.jwks_requests == 3


async def test_keys_unreachable_at_first_use(
    idp: FakeIdentityProvider, verifier: TokenVerifier, clock: ManualClock
) -> None:
    idp.available = False
    token = idp.mint()
    with pytest.raises(IdpUnavailable, match="HTTP 503") as caught:
        await verifier.verify(token)
    assert token not in str(caught.value)
    requests = sum(idp.requests.values())
    with pytest.raises(IdpUnavailable):  # retried no sooner than the interval
        await verifier.verify(token)
    assert sum(idp.requests.values()) == requests
    idp.available = True
    clock.advance(10)
    await verifier.verify(token)


async def test_known_keys_outlive_an_outage(idp: FakeIdentityProvider, clock: ManualClock) -> None:
    verifier = TokenVerifier(idp.issuer, AUDIENCE, max_key_age_s=60, clock=clock)
    await verifier.verify(idp.mint())
    idp.available = False
    clock.advance(61)  # the cached keys are due for a refresh, which fails
    await verifier.verify(idp.mint())
    assert idp.jwks_requests == 2
    with pytest.raises(IdpUnavailable):
        await verifier.verify(idp.mint(key=SigningKey.generate()))


async def test_known_keys_do_not_wait_for_a_slow_refresh(
    idp: FakeIdentityProvider, clock: ManualClock
) -> None:
    verifier = TokenVerifier(idp.issuer, AUDIENCE, max_key_age_s=60, clock=clock)
    await verifier.verify(idp.mint())
    clock.advance(61)
    idp.delay_s = 1.0
    refreshing = asyncio.create_task(verifier.verify(idp.mint()))
    await asyncio.sleep(0.1)  # the refresh is under way
    started = time.monotonic()
    await verifier.verify(idp.mint())
    assert time.monotonic() - started < 0.5
    await refreshing
    assert idp.jwks_requests == 2


async def test_keys_are_refreshed_when_they_age(
    idp: FakeIdentityProvider, clock: ManualClock
) -> None:
    verifier = TokenVerifier(idp.issuer, AUDIENCE, max_key_age_s=60, clock=clock)
    old = idp.mint()
    await verifier.verify(old)
    idp.rotate_keys()  # the old key withdrawn; nobody presents a new kid
    clock.advance(61)
    assert await rejected(verifier, old) == Reason.UNKNOWN_SIGNING_KEY


async def test_a_stopped_identity_provider(idp: FakeIdentityProvider) -> None:
    verifier = TokenVerifier(idp.issuer, AUDIENCE)
    token = idp.mint()
    idp.stop()
    with pytest.raises(IdpUnavailable, match="refused"):
        await verifier.verify(token)


async def test_a_slow_identity_provider_times_out_without_blocking_the_loop(
    idp: FakeIdentityProvider,
) -> None:
    verifier = TokenVerifier(idp.issuer, AUDIENCE, fetch_timeout_s=0.5)
    idp.delay_s = 0.3  # twice: discovery, then keys
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    await verifier.verify(idp.mint())
    ticker.cancel()
    assert ticks >= 10  # the loop kept running through 0.6 s of fetching (~60 ticks idle)
    idp.delay_s = 3
    started = time.monotonic()
    with pytest.raises(IdpUnavailable, match="timed out"):
        await TokenVerifier(idp.issuer, AUDIENCE, fetch_timeout_s=0.5).verify(idp.mint())
    assert time.monotonic() - started < 2


async def test_explicit_jwks_url_skips_discovery(idp: FakeIdentityProvider) -> None:
    verifier = TokenVerifier(idp.issuer, AUDIENCE, jwks_url=idp.jwks_url)
    await verifier.verify(idp.mint())
    assert dict(idp.requests) == {f"/realms/{idp.realm}/protocol/openid-connect/certs": 1}


async def test_discovery_must_name_the_configured_issuer(idp: FakeIdentityProvider) -> None:
    verifier = TokenVerifier(idp.issuer + "/", AUDIENCE)
    with pytest.raises(IdpUnavailable, match="another issuer"):
        await verifier.refresh_keys()


# --- TLS to the identity provider --------------------------------------------------------------


@pytest.fixture
def idp_tls(tmp_path: Path) -> Iterator[tuple[FakeIdentityProvider, Path]]:
    ca = pki.issue_ca()
    pki.write_issued(tmp_path, "ca", ca)
    cert, key = pki.write_issued(tmp_path, "keycloak", pki.issue_identity(ca, "keycloak"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with FakeIdentityProvider(ssl_context=context) as provider:
        yield provider, tmp_path / "ca.crt"


async def test_https_verified_against_the_given_ca(
    idp_tls: tuple[FakeIdentityProvider, Path],
) -> None:
    idp, ca_file = idp_tls
    assert idp.issuer.startswith("https://")
    verifier = TokenVerifier(idp.issuer, AUDIENCE, ca_file=ca_file)
    await verifier.verify(idp.mint())


async def test_https_with_an_unknown_ca_is_refused(
    idp_tls: tuple[FakeIdentityProvider, Path],
) -> None:
    idp, _ = idp_tls
    verifier = TokenVerifier(idp.issuer, AUDIENCE)  # the system's roots
    with pytest.raises(IdpUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        await verifier.verify(idp.mint())


def test_plaintext_key_fetches_are_flagged_unless_on_loopback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    for issuer in ["https://idp.example/realms/x", "http://127.0.0.1:8180/realms/casedesk"]:
        TokenVerifier(issuer, AUDIENCE)
    assert not caplog.records
    TokenVerifier("http://keycloak:8080/realms/casedesk", AUDIENCE)
    TokenVerifier("https://idp.example/realms/x", AUDIENCE, jwks_url="http://idp.internal/certs")
    assert [r.levelname for r in caplog.records] == ["WARNING", "WARNING"]
    assert "plaintext http" in caplog.records[0].getMessage()


def test_an_unreadable_ca_file_is_refused_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="CA file"):
        TokenVerifier("https://idp.example/realms/x", AUDIENCE, ca_file=tmp_path / "none.crt")


# --- settings ----------------------------------------------------------------------------------


class CaseLikeSettings(ServiceSettings, OidcSettings, CitizenOidcSettings):
    """How a service mixes the OIDC settings into its own."""


@pytest.fixture(autouse=True)
def _no_oidc_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings tests see only the variables they set, not a developer's shell."""
    for name in list(os.environ):
        if name.startswith(("CASEDESK_OIDC_", "CASEDESK_CITIZEN_OIDC_")):
            monkeypatch.delenv(name)


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEDESK_OIDC_ISSUER", "https://idp.example/realms/casedesk")
    monkeypatch.setenv("CASEDESK_OIDC_AUDIENCE", "casedesk-case")
    monkeypatch.setenv("CASEDESK_OIDC_LEEWAY_S", "5")
    monkeypatch.setenv("CASEDESK_CITIZEN_OIDC_ISSUER", "https://idp.example/realms/portal")
    monkeypatch.setenv("CASEDESK_CITIZEN_OIDC_AUDIENCE", "casedesk-intake")
    settings = load_settings(CaseLikeSettings)
    people = settings.person_token_verifier()
    assert (people.issuer, people.audience, people.leeway_s) == (
        "https://idp.example/realms/casedesk",
        "casedesk-case",
        5.0,
    )
    citizens = settings.citizen_token_verifier()
    assert (citizens.issuer, citizens.audience, citizens.leeway_s) == (
        "https://idp.example/realms/portal",
        "casedesk-intake",
        30.0,
    )


def test_unset_means_no_verifier(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(CaseLikeSettings)
    with pytest.raises(SettingsError, match="set CASEDESK_OIDC_ISSUER and CASEDESK_OIDC_AUDIENCE"):
        settings.person_token_verifier()
    with pytest.raises(SettingsError, match="CASEDESK_CITIZEN_OIDC_ISSUER"):
        settings.citizen_token_verifier()


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        (
            {"CASEDESK_OIDC_ISSUER": "https://idp.example/realms/casedesk"},
            "CASEDESK_OIDC_ISSUER and CASEDESK_OIDC_AUDIENCE are set together",
        ),
        (
            {"CASEDESK_OIDC_ISSUER": "idp.example/realms/casedesk", "CASEDESK_OIDC_AUDIENCE": "a"},
            "CASEDESK_OIDC_ISSUER: Value error, must be an http(s):// URL",
        ),
        (
            {"CASEDESK_OIDC_JWKS_URL": "https://idp.example/certs"},
            "CASEDESK_OIDC_JWKS_URL set without CASEDESK_OIDC_ISSUER",
        ),
        (
            {"CASEDESK_CITIZEN_OIDC_CA_FILE": "/nonexistent/ca.crt"},
            "CASEDESK_CITIZEN_OIDC_CA_FILE: Value error, is not a readable file",
        ),
        (
            {"CASEDESK_CITIZEN_OIDC_LEEWAY_S": "-1"},
            "CASEDESK_CITIZEN_OIDC_LEEWAY_S",
        ),
    ],
)
def test_settings_errors_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], message: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings(CaseLikeSettings)
    assert message in str(caught.value)


# --- gRPC --------------------------------------------------------------------------------------


def test_tokens_from_metadata() -> None:
    assert person_token([("x-person-token", "a.b.c"), ("authorization", "Bearer f")]) == "a.b.c"
    assert person_token([("x-person-token", "Bearer a.b.c")]) == "a.b.c"
    assert person_token([("x-person-token", b"a.b.c")]) == "a.b.c"
    assert person_token([("authorization", "Bearer a.b.c")]) is None
    assert person_token(None) is None
    assert citizen_token([("x-citizen-token", "c.d.e"), ("x-person-token", "a.b.c")]) == "c.d.e"
    with pytest.raises(TokenRejected) as caught:
        person_token([("x-person-token", "a.b.c"), ("x-person-token", "d.e.f")])
    assert caught.value.reason == Reason.MALFORMED


def test_status_codes() -> None:
    rejected = TokenRejected(Reason.EXPIRED)
    assert status_for(rejected) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "x-person-token rejected: expired",
    )
    assert status_for(rejected, CITIZEN_TOKEN_KEY)[1] == "x-citizen-token rejected: expired"
    code, message = status_for(IdpUnavailable("JWKS from https://idp.internal/certs: HTTP 503"))
    assert code == grpc.StatusCode.UNAVAILABLE
    assert "idp.internal" not in message  # internal addresses stay in the logs


@pytest.fixture
async def whoami(idp: FakeIdentityProvider) -> AsyncIterator[grpc.aio.Channel]:
    verifier = TokenVerifier(idp.issuer, AUDIENCE)

    async def who(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        person = await authenticate(context, verifier, PERSON_TOKEN_KEY)
        return (person.username or "").encode()

    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "casedesk.test.v1.Who", {"Ami": grpc.unary_unary_rpc_method_handler(who)}
            )
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield channel
    await server.stop(0)


async def call_whoami(channel: grpc.aio.Channel, token: str | None) -> bytes:
    metadata = [] if token is None else [(PERSON_TOKEN_KEY, token)]
    reply: bytes = await channel.unary_unary("/casedesk.test.v1.Who/Ami")(b"", metadata=metadata)
    return reply


async def test_authenticate_in_a_servicer(
    idp: FakeIdentityProvider, whoami: grpc.aio.Channel
) -> None:
    assert await call_whoami(whoami, idp.mint_specialist("l1.ivanova")) == b"l1.ivanova"
    for token, code, message in [
        (None, grpc.StatusCode.UNAUTHENTICATED, "x-person-token missing"),
        (
            idp.mint(expires_in=-600),
            grpc.StatusCode.UNAUTHENTICATED,
            "x-person-token rejected: expired",
        ),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call_whoami(whoami, token)
        assert (caught.value.code(), caught.value.details()) == (code, message)


async def test_authenticate_when_the_identity_provider_is_down(
    idp: FakeIdentityProvider, whoami: grpc.aio.Channel
) -> None:
    idp.available = False
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call_whoami(whoami, idp.mint())
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


# --- the fake identity provider, as its docstring promises ---------------------------------------


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, {}


def test_fake_identity_provider_from_sync_code() -> None:
    with FakeIdentityProvider(realm="portal", audience="casedesk-intake") as idp:
        assert idp.issuer.endswith("/realms/portal")
        status, discovery = _get(idp.discovery_url)
        assert status == 200
        assert discovery["issuer"] == idp.issuer and discovery["jwks_uri"] == idp.jwks_url
        first = idp.signing_key
        idp.rotate_keys()
        _, jwks = _get(idp.jwks_url)
        assert [key["kid"] for key in jwks["keys"]] == [idp.signing_key.kid] != [first.kid]
        assert idp.jwks_requests == 1
        token = idp.mint_citizen(
            "petrova.an", email="petrova@example.org", phone_number="+79001234567"
        )
        citizen = asyncio.run(TokenVerifier(idp.issuer, "casedesk-intake").verify(token))
        assert citizen.username == "petrova.an"
        assert citizen.claims["email"] == "petrova@example.org"
        assert citizen.claims["phone_number"] == "+79001234567"
        assert "email" not in idp.claims()  # None leaves a claim out
        idp.available = False
        assert _get(idp.jwks_url)[0] == 503
        url = idp.jwks_url
    with pytest.raises(urllib.error.URLError):
        _get(url)
