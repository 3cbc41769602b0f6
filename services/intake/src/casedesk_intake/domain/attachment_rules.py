"""What a citizen may attach: how many files, how large, which types, and whether they are intact.

The declared media type is checked against the file's first bytes, so a renamed executable does
not reach a specialist's desktop as a "PDF".
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = b"PK\x03\x04"
_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/msword": (_OLE,),
    "application/vnd.ms-excel": (_OLE,),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (_ZIP,),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (_ZIP,),
    "application/vnd.oasis.opendocument.text": (_ZIP,),
}
_HEX_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_MAX_NAME = 255


@dataclass(frozen=True)
class Upload:
    file_name: str
    media_type: str
    content: bytes
    sha256: str = ""


@dataclass(frozen=True)
class AttachmentRules:
    max_count: int
    max_bytes: int
    max_total_bytes: int
    media_types: frozenset[str]

    def violations(self, uploads: Sequence[Upload], field: str) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        if len(uploads) > self.max_count:
            found.append((field, f"at most {self.max_count} attachments are allowed"))
        if sum(len(u.content) for u in uploads) > self.max_total_bytes:
            found.append((field, f"attachments together exceed {self.max_total_bytes} bytes"))
        for index, upload in enumerate(uploads):
            found.extend(self._check_one(upload, f"{field}[{index}]"))
        return found

    def _check_one(self, upload: Upload, where: str) -> list[tuple[str, str]]:
        found = []
        name_problem = file_name_problem(upload.file_name)
        if name_problem:
            found.append((f"{where}.file_name", name_problem))
        media_type = upload.media_type.strip().lower()
        if media_type not in self.media_types:
            found.append((f"{where}.media_type", "this file type is not accepted"))
        if not upload.content:
            found.append((f"{where}.content", "the file is empty"))
        elif len(upload.content) > self.max_bytes:
            found.append((f"{where}.content", f"the file exceeds {self.max_bytes} bytes"))
        elif media_type in self.media_types and not content_matches(media_type, upload.content):
            found.append((f"{where}.content", "the file content does not match its type"))
        if upload.sha256:
            if not _HEX_SHA256.fullmatch(upload.sha256):
                found.append((f"{where}.sha256", "must be 64 hexadecimal characters"))
            elif hashlib.sha256(upload.content).hexdigest() != upload.sha256.lower():
                found.append((f"{where}.sha256", "does not match the content (damaged upload?)"))
        return found


def file_name_problem(name: str) -> str:
    if not name.strip():
        return "is required"
    if len(name) > _MAX_NAME:
        return f"is longer than {_MAX_NAME} characters"
    if name.strip() in (".", "..") or any(c in name for c in "/\\"):
        return "must be a plain file name without a path"
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in name):
        return "contains control characters"
    return ""


def content_matches(media_type: str, content: bytes) -> bool:
    if media_type == "image/webp":
        return content[:4] == b"RIFF" and content[8:12] == b"WEBP"
    if media_type == "text/plain":
        # Logs arrive in UTF-8 or a Windows code page; a NUL byte means a binary file.
        return b"\x00" not in content[:8192]
    signatures = _SIGNATURES.get(media_type)
    return signatures is None or content.startswith(signatures)
