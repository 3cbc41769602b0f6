"""A verified staff token becomes the person who erases only when its name can be kept as who
erased: the keyring refuses to keep a blank, overlong or multi-line name in a tombstone, and an
order let in with one failed UNKNOWN after the token was accepted (found by the fuzzing of the
key service)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from casedesk_keyservice.adapters.person_tokens import OidcPersonTokens
from casedesk_keyservice.application import PersonUnauthenticated
from casedesk_keyservice.domain import NAME_LIMIT, PRIVACY_OFFICER, Person
from casedesk_runtime.oidc import TokenVerifier, VerifiedToken


class _Verifier:
    """Stands for the identity provider's verification: every token names `username`."""

    def __init__(self, username: str | None) -> None:
        self.username = username

    async def verify(self, token: str) -> VerifiedToken:
        return VerifiedToken(
            subject="f3a1",
            issuer="https://idp.example/realms/casedesk",
            expires_at=datetime(2030, 1, 1, tzinfo=UTC),
            realm_roles=frozenset({PRIVACY_OFFICER}),
            tier=None,
            username=self.username,
            display_name=None,
            claims={},
        )


def _tokens(username: str | None) -> OidcPersonTokens:
    verifier: TokenVerifier = _Verifier(username)  # type: ignore[assignment]
    return OidcPersonTokens(verifier)


async def test_a_token_naming_an_officer_is_that_person() -> None:
    person = await _tokens("p.orlova").verify("token")
    assert person == Person("p.orlova", frozenset({PRIVACY_OFFICER}))
    assert (await _tokens("п" * NAME_LIMIT).verify("token")).username == "п" * NAME_LIMIT


@pytest.mark.parametrize("username", [None, "", "   "])
async def test_a_token_naming_nobody_is_unauthenticated(username: str | None) -> None:
    with pytest.raises(PersonUnauthenticated, match=r"names no user \(preferred_username\)"):
        await _tokens(username).verify("token")


@pytest.mark.parametrize("username", ["x" * (NAME_LIMIT + 1), "p.orlova\nroot", "p.orlova\x00"])
async def test_a_name_no_tombstone_can_keep_is_unauthenticated(username: str) -> None:
    with pytest.raises(PersonUnauthenticated) as refused:
        await _tokens(username).verify("token")
    assert str(refused.value) == (
        "x-person-token rejected: its preferred_username cannot be kept as who erased "
        f"(one printable line of at most {NAME_LIMIT} characters)"
    )
