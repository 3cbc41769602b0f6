"""Keycloak, the development and test identity provider (issue 16), as the realm files in
deploy/keycloak configure it: the tokens the services will verify, checked with PyJWT against the
real server's JWKS, the desk client's PKCE requirement, and a signing key rotation.

The session's Keycloak is shared, so the rotation and the user-profile checks run on a private copy
of the `casedesk` realm that is deleted afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import urllib.parse
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from support.keycloak import REALMS_DIR, Keycloak, KeycloakError, http

pytestmark = pytest.mark.integration

CASE_AUDIENCE = "casedesk-case"
INTAKE_AUDIENCE = "casedesk-intake"
DESK = "casedesk-desk"
LOOPBACK_CALLBACK = "http://127.0.0.1:47123/callback"  # nothing listens: only the URL matters


def verified(keycloak: Keycloak, realm: str, token: str, audience: str) -> dict[str, Any]:
    """The token's claims if its signature, issuer, audience and expiry hold, as a service would
    check them (a fresh JWKS client: no keys cached from before)."""
    key = jwt.PyJWKClient(keycloak.jwks_url(realm)).get_signing_key_from_jwt(token)
    claims: dict[str, Any] = jwt.decode(
        token, key, algorithms=["RS256"], audience=audience, issuer=keycloak.issuer(realm)
    )
    return claims


def audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims["aud"]
    return [aud] if isinstance(aud, str) else list(aud)


def published_kids(keycloak: Keycloak, realm: str) -> set[str]:
    return {key["kid"] for key in http("GET", keycloak.jwks_url(realm)).json()["keys"]}


# -- the specialists' realm ------------------------------------------------------------------------


def test_an_l1_specialists_token_verifies_for_the_case_service(keycloak: Keycloak) -> None:
    token = keycloak.token("casedesk", "l1.ivanova")

    claims = verified(keycloak, "casedesk", token, CASE_AUDIENCE)

    assert CASE_AUDIENCE in audiences(claims)
    assert claims["tier"] == "L1"
    assert "specialist" in claims["realm_access"]["roles"]
    assert claims["preferred_username"] == "l1.ivanova"
    assert claims["name"] == "Anna Ivanova"
    assert claims["sub"] == keycloak.admin.user("casedesk", "l1.ivanova")["id"]
    assert claims["exp"] - claims["iat"] == 300
    assert claims["iss"] == f"{keycloak.url}/realms/casedesk"
    assert keycloak.url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize(
    ("username", "roles", "tier"),
    [
        ("l2.petrov", {"specialist"}, "L2"),
        ("l3.sidorova", {"specialist"}, "L3"),
        ("super.orlova", {"supervisor", "specialist"}, "L3"),
        ("audit.kuznetsov", {"auditor"}, None),
        ("privacy.morozova", {"privacy_officer"}, None),
    ],
)
def test_the_development_users_carry_their_roles_and_tier(
    keycloak: Keycloak, username: str, roles: set[str], tier: str | None
) -> None:
    claims = verified(keycloak, "casedesk", keycloak.token("casedesk", username), CASE_AUDIENCE)

    ours = {"specialist", "supervisor", "auditor", "privacy_officer"}
    granted = set(claims["realm_access"]["roles"]) & ours
    assert granted == roles
    assert claims.get("tier") == tier


def test_a_wrong_password_gets_no_token_and_the_error_does_not_repeat_it(
    keycloak: Keycloak,
) -> None:
    with pytest.raises(KeycloakError, match="invalid_grant") as refused:
        keycloak.token("casedesk", "l1.ivanova", password="not-her-password")

    assert "not-her-password" not in str(refused.value)


def test_the_discovery_documents_name_the_issuers_the_services_are_configured_with(
    keycloak: Keycloak,
) -> None:
    for realm in ("casedesk", "portal"):
        discovery = http("GET", f"{keycloak.issuer(realm)}/.well-known/openid-configuration")

        assert discovery.json()["issuer"] == keycloak.issuer(realm)
        assert discovery.json()["jwks_uri"] == keycloak.jwks_url(realm)


# -- the desk's sign-in: authorization code with PKCE (S256) only ----------------------------------


def authorization_request(keycloak: Keycloak, **extra: str) -> tuple[int, dict[str, list[str]]]:
    """Ask the `casedesk` realm to start a desk sign-in; the status, and the query of the
    redirect Keycloak answers with (empty when it shows its login page or an error page)."""
    query = {
        "client_id": DESK,
        "response_type": "code",
        "scope": "openid",
        "redirect_uri": LOOPBACK_CALLBACK,
        "state": secrets.token_urlsafe(8),
        **extra,
    }
    reply = http(
        "GET", f"{keycloak.authorization_endpoint('casedesk')}?{urllib.parse.urlencode(query)}"
    )
    location = reply.headers.get("Location") or ""
    return reply.status, urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)


def s256_challenge() -> str:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_the_desk_client_refuses_a_sign_in_without_pkce(keycloak: Keycloak) -> None:
    status, redirect = authorization_request(keycloak)

    assert status == 302
    assert redirect["error"] == ["invalid_request"]
    assert "code_challenge_method" in redirect["error_description"][0]


def test_the_desk_client_refuses_the_plain_pkce_method(keycloak: Keycloak) -> None:
    status, redirect = authorization_request(
        keycloak, code_challenge=secrets.token_urlsafe(48), code_challenge_method="plain"
    )

    assert status == 302
    assert redirect["error"] == ["invalid_request"]


def test_the_desk_client_shows_the_login_page_to_a_sign_in_with_s256(keycloak: Keycloak) -> None:
    status, redirect = authorization_request(
        keycloak, code_challenge=s256_challenge(), code_challenge_method="S256"
    )

    assert status == 200
    assert redirect == {}


def test_the_desk_client_redirects_to_loopback_only(keycloak: Keycloak) -> None:
    status, redirect = authorization_request(
        keycloak,
        redirect_uri="https://desk.example.org/callback",
        code_challenge=s256_challenge(),
        code_challenge_method="S256",
    )

    assert status == 400  # an error page: Keycloak never redirects to an unregistered URI
    assert redirect == {}


def test_the_desk_client_grants_no_tokens_for_passwords(keycloak: Keycloak) -> None:
    with pytest.raises(KeycloakError, match="unauthorized_client"):
        keycloak.token("casedesk", "l1.ivanova", client=DESK)


# -- the portal's citizens -------------------------------------------------------------------------


def test_a_citizens_token_names_the_portal_login_for_intake(keycloak: Keycloak) -> None:
    claims = verified(keycloak, "portal", keycloak.token("portal", "ivanov.ii"), INTAKE_AUDIENCE)

    assert claims["preferred_username"] == "ivanov.ii"
    assert INTAKE_AUDIENCE in audiences(claims)
    assert CASE_AUDIENCE not in audiences(claims)
    assert claims["name"] == "Ivan Ivanov"
    assert claims["email"] == "ivanov.ii@portal.test"
    assert claims["phone_number"] == "+79990000001"


def test_a_citizen_without_a_phone_gets_no_phone_claim(keycloak: Keycloak) -> None:
    claims = verified(keycloak, "portal", keycloak.token("portal", "petrova.an"), INTAKE_AUDIENCE)

    assert claims["preferred_username"] == "petrova.an"
    assert "phone_number" not in claims


def test_a_specialists_token_is_not_a_citizens_token(keycloak: Keycloak) -> None:
    token = keycloak.token("casedesk", "l1.ivanova")

    with pytest.raises(jwt.PyJWTError):
        verified(keycloak, "portal", token, INTAKE_AUDIENCE)


# -- a private copy of the specialists' realm: key rotation, users ---------------------------------


@pytest.fixture(scope="module")
def private_realm(keycloak: Keycloak) -> Iterator[str]:
    name = f"casedesk-test-{secrets.token_hex(4)}"
    representation = json.loads((REALMS_DIR / "casedesk-realm.json").read_text())
    # One user is enough here, and each one costs a password hash (about a second on our machines).
    users = [user for user in representation["users"] if user["username"] == "l2.petrov"]
    keycloak.admin.create_realm({**representation, "realm": name, "users": users})
    yield name
    keycloak.admin.delete_realm(name)


def dev_token(keycloak: Keycloak, realm: str, username: str) -> str:
    """A token from the private realm's copy of the development client."""
    return keycloak.token(
        realm, username, client="casedesk-dev-tokens", client_secret="casedesk-dev-tokens-secret"
    )


def test_a_rotated_key_signs_new_tokens_and_the_jwks_follows(
    keycloak: Keycloak, private_realm: str
) -> None:
    first = dev_token(keycloak, private_realm, "l2.petrov")
    first_kid = jwt.get_unverified_header(first)["kid"]

    # A graceful rotation: the old key is still published, so tokens already issued verify.
    passive_kid = keycloak.admin.rotate_signing_key(private_realm, retire="passive")
    second = dev_token(keycloak, private_realm, "l2.petrov")

    assert jwt.get_unverified_header(second)["kid"] == passive_kid != first_kid
    assert {first_kid, passive_kid} <= published_kids(keycloak, private_realm)
    assert verified(keycloak, private_realm, first, CASE_AUDIENCE)["tier"] == "L2"
    assert verified(keycloak, private_realm, second, CASE_AUDIENCE)["tier"] == "L2"

    # A hard rotation: the older keys are disabled and no longer published.
    kid = keycloak.admin.rotate_signing_key(private_realm)
    third = dev_token(keycloak, private_realm, "l2.petrov")

    assert jwt.get_unverified_header(third)["kid"] == kid
    assert kid not in {first_kid, passive_kid}
    published = published_kids(keycloak, private_realm)
    assert kid in published
    assert not published & {first_kid, passive_kid}
    assert keycloak.admin.active_kid(private_realm) == kid
    assert verified(keycloak, private_realm, third, CASE_AUDIENCE)["preferred_username"] == (
        "l2.petrov"
    )
    with pytest.raises(jwt.PyJWKClientError):
        verified(keycloak, private_realm, first, CASE_AUDIENCE)


def test_a_created_specialist_gets_the_tier_and_roles_given(
    keycloak: Keycloak, private_realm: str
) -> None:
    username = f"l2.temp-{secrets.token_hex(3)}"
    user_id = keycloak.admin.create_user(
        private_realm,
        username,
        first_name="Tamara",
        last_name="Temp",
        attributes={"tier": "L2"},
        realm_roles=["specialist"],
    )

    claims = verified(
        keycloak, private_realm, dev_token(keycloak, private_realm, username), CASE_AUDIENCE
    )

    assert claims["sub"] == user_id
    assert claims["tier"] == "L2"
    assert "specialist" in claims["realm_access"]["roles"]
    assert claims["name"] == "Tamara Temp"

    keycloak.admin.update_user(private_realm, username, attributes={"tier": "L3"})
    promoted = verified(
        keycloak, private_realm, dev_token(keycloak, private_realm, username), CASE_AUDIENCE
    )
    assert promoted["tier"] == "L3"
    assert promoted["name"] == "Tamara Temp"  # the other attributes are kept

    keycloak.admin.update_user(private_realm, username, enabled=False)
    with pytest.raises(KeycloakError, match="invalid_grant"):
        dev_token(keycloak, private_realm, username)


def test_the_user_profile_refuses_a_tier_that_does_not_exist(
    keycloak: Keycloak, private_realm: str
) -> None:
    with pytest.raises(KeycloakError, match="400"):
        keycloak.admin.create_user(private_realm, "l4.nobody", attributes={"tier": "L4"})

    with pytest.raises(KeycloakError, match="no user"):
        keycloak.admin.user(private_realm, "l4.nobody")
