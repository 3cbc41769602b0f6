"""The digest that tells a retry from another request under the same idempotency key."""

from __future__ import annotations

import hashlib

from google.protobuf.message import Message


def request_digest(rpc: str, acting_for: str, request: Message) -> str:
    """Of everything the request says but its key, and of whom it was made for
    (`Caller.identity()`)."""
    content = type(request)()
    content.CopyFrom(request)
    content.ClearField("idempotency_key")  # type: ignore[arg-type]
    digest = hashlib.sha256(f"{rpc}\x1f{acting_for}\x1f".encode())
    digest.update(content.SerializeToString(deterministic=True))
    return digest.hexdigest()
