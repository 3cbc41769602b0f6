"""The kinds of files citizens may attach: what intake accepts by default
(CASEDESK_ATTACHMENT_MEDIA_TYPES) and what the desk hands to a specialist's browser under its own
media type (anything else is downloaded as application/octet-stream). Documents and images a
specialist opens with a viewer; none a browser would run."""

from __future__ import annotations

ATTACHMENT_MEDIA_TYPES = (
    "application/pdf",
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "text/plain",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
)
