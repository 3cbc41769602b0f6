"""A person's token on a gRPC call: read from metadata, verified, failures as status codes.

The specialist's access token travels as `x-person-token: <JWT>`, a citizen's portal token at
intake as `x-citizen-token: <JWT>` (`authorization` stays the calling frontend's own). In a
servicer:

    person = await authenticate(context, self._verifier)            # aborts unless verified
    citizen = await authenticate(context, self._citizens, CITIZEN_TOKEN_KEY)

A rejected token is UNAUTHENTICATED with a message naming the metadata key and the reason; an
identity provider that cannot be reached is UNAVAILABLE (retryable: the token may be fine). The
token is never part of a message or a log line.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc

from casedesk_runtime.oidc.errors import IdpUnavailable, Reason, TokenRejected
from casedesk_runtime.oidc.verifier import TokenVerifier, VerifiedToken

PERSON_TOKEN_KEY = "x-person-token"
CITIZEN_TOKEN_KEY = "x-citizen-token"

Metadata = Iterable[tuple[str, str | bytes]]


def person_token(metadata: Metadata | None, key: str = PERSON_TOKEN_KEY) -> str | None:
    """The token under `key`, None if absent. A `Bearer ` prefix is tolerated; two values under
    the key are TokenRejected(MALFORMED), since it would be unclear whose call this is."""
    values = [value for name, value in metadata or () if name.lower() == key]
    if not values:
        return None
    if len(values) > 1:
        raise TokenRejected(Reason.MALFORMED)
    value = values[0]
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            raise TokenRejected(Reason.MALFORMED) from None
    value = value.strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].lstrip()
    return value


def citizen_token(metadata: Metadata | None) -> str | None:
    return person_token(metadata, CITIZEN_TOKEN_KEY)


def status_for(
    error: TokenRejected | IdpUnavailable, key: str = PERSON_TOKEN_KEY
) -> tuple[grpc.StatusCode, str]:
    """The status and message a call gets for `error` (the message is safe to return)."""
    if isinstance(error, TokenRejected):
        return grpc.StatusCode.UNAUTHENTICATED, f"{key} rejected: {error.reason}"
    return grpc.StatusCode.UNAVAILABLE, "identity provider unavailable, retry later"


async def authenticate(
    context: grpc.aio.ServicerContext,
    verifier: TokenVerifier,
    key: str = PERSON_TOKEN_KEY,
) -> VerifiedToken:
    """The verified token under `key`, or the call is aborted (UNAUTHENTICATED/UNAVAILABLE)."""
    try:
        token = person_token(context.invocation_metadata(), key)
        if token is None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, f"{key} missing")
            raise AssertionError("unreachable: abort raises")
        return await verifier.verify(token)
    except (TokenRejected, IdpUnavailable) as error:
        await context.abort(*status_for(error, key))
        raise AssertionError("unreachable: abort raises") from None
