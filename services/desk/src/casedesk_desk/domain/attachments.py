"""How an attachment is handed to the browser: always as a download, under a harmless name, with
a media type the desk vouches for.

The file comes from a citizen: its name and declared type are the citizen's words. A name can
carry a path, control characters or right-to-left overrides that make `счёт.exe` read as
`счёт.pdf`; a declared type can ask the browser to render HTML in the desk's origin. So the name
is cleaned, the download is forced (`Content-Disposition: attachment`, RFC 6266 with the UTF-8
name in `filename*` per RFC 8187), and a type outside the list below becomes
application/octet-stream (sent with `X-Content-Type-Options: nosniff`).
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from casedesk_vocabulary.attachments import ATTACHMENT_MEDIA_TYPES

# The types intake accepts by default: none a browser would run.
ALLOWED_MEDIA_TYPES = frozenset(ATTACHMENT_MEDIA_TYPES)
FALLBACK_MEDIA_TYPE = "application/octet-stream"
FALLBACK_NAME = "вложение"
MAX_NAME = 150  # characters; file systems allow 255 bytes, Cyrillic takes two each


def served_media_type(declared: str) -> str:
    """The declared type if the desk serves it as such, else application/octet-stream; text is
    sent as UTF-8 (intake accepts text/plain only as valid UTF-8)."""
    media_type = declared.split(";", 1)[0].strip().lower()
    if media_type not in ALLOWED_MEDIA_TYPES:
        return FALLBACK_MEDIA_TYPE
    return "text/plain; charset=utf-8" if media_type == "text/plain" else media_type


def safe_file_name(name: str) -> str:
    """The last path component, without control or format characters (bidi overrides), without
    leading dots (hidden files) or trailing dots and spaces, at most MAX_NAME characters keeping
    the extension; «вложение» when nothing is left."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] not in ("C", "Z") or c == " ")
    name = name.strip(" ").lstrip(".").rstrip(". ")
    if len(name) > MAX_NAME:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 10:
            name = stem[: MAX_NAME - len(extension) - 1] + "." + extension
        else:
            name = name[:MAX_NAME]
    return name or FALLBACK_NAME


def content_disposition(name: str) -> str:
    """`attachment` with an ASCII `filename` for old clients and the exact `filename*`."""
    safe = safe_file_name(name)
    ascii_name = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in safe
    )
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(safe, safe='')}"


def readable_size(size_bytes: int) -> str:
    """«812 Б», «14 КБ», «2,4 МБ»."""
    if size_bytes < 1024:
        return f"{size_bytes} Б"
    if size_bytes < 1024 * 1024:
        return f"{round(size_bytes / 1024)} КБ"
    return f"{size_bytes / (1024 * 1024):.1f} МБ".replace(".", ",")
