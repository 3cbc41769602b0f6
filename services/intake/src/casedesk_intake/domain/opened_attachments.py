"""An attachment handed out in pieces, its content checked before the last piece leaves.

The case records each attachment's SHA-256 as intake computed it on arrival. A reader streaming
the file must never receive all of a file that is not that one: the digest is computed over the
pieces as they go and compared before the last piece is released, so a damaged copy ends the
stream short, never complete.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from casedesk_intake.domain.errors import AttachmentDamaged

# The contract's chunk size (attachment_vault.proto): small enough for any gRPC message limit.
CHUNK_BYTES = 256 * 1024


def checked_chunks(content: bytes, sha256: str, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """`content` in pieces of `size` bytes (one empty piece for an empty file); raises
    AttachmentDamaged instead of yielding the last piece when its digest is not `sha256`."""
    digest = hashlib.sha256()
    view = memoryview(content)
    starts = range(0, len(content), size) if content else range(1)
    last = starts[-1]
    for start in starts:
        piece = bytes(view[start : start + size])
        digest.update(piece)
        if start == last and digest.hexdigest() != sha256.lower():
            raise AttachmentDamaged("the attachment differs from the SHA-256 the case recorded")
        yield piece
