from __future__ import annotations

import pytest

from casedesk_desk.domain.security import new_secret, pkce_challenge, same_secret


def test_the_s256_challenge_is_rfc_7636s_example() -> None:
    # RFC 7636, appendix B.
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_a_verifier_outside_43_to_128_characters_is_refused() -> None:
    with pytest.raises(ValueError, match="43 to 128"):
        pkce_challenge("short")
    with pytest.raises(ValueError, match="43 to 128"):
        pkce_challenge("a" * 129)


def test_secrets_are_fresh_url_safe_and_usable_as_verifiers() -> None:
    secrets = {new_secret() for _ in range(100)}
    assert len(secrets) == 100
    for secret in secrets:
        assert len(secret) == 43 and "=" not in secret and "+" not in secret and "/" not in secret
        pkce_challenge(secret)


@pytest.mark.parametrize(
    ("expected", "given", "same"),
    [("abc", "abc", True), ("abc", "abd", False), ("abc", None, False), ("", "", False)],
)
def test_csrf_tokens_match_only_when_equal_and_present(
    expected: str, given: str | None, same: bool
) -> None:
    assert same_secret(expected, given) is same
