"""How large a request intake must be able to receive; the gRPC receive limit follows from it.

The largest valid request carries either the attachments (CASEDESK_ATTACHMENTS_MAX_TOTAL_BYTES)
or a raw e-mail (`MAX_RAW_EMAIL_BYTES`), plus every other field. Intake reads no larger message:
gRPC refuses it (RESOURCE_EXHAUSTED) before anything in intake sees it.
"""

from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB

MAX_RAW_EMAIL_BYTES = 4 * MIB
# Every field but file contents and the raw e-mail: the texts at their TextLimits (at most 4 bytes
# a character in UTF-8, about 110 KiB together), and each attachment's name, type and digest.
# Twice that, so that no valid request meets the receive limit.
ENVELOPE_BYTES = 256 * KIB


def smallest_receive_limit(attachments_max_total_bytes: int) -> int:
    """A smaller receive limit would refuse attachments the attachment rules accept."""
    return attachments_max_total_bytes + ENVELOPE_BYTES


def default_receive_limit(attachments_max_total_bytes: int) -> int:
    """Room for the largest valid request: attachments or a raw e-mail, and the other fields."""
    return max(attachments_max_total_bytes, MAX_RAW_EMAIL_BYTES) + ENVELOPE_BYTES
