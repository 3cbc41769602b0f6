"""Canned replies from a TOML file: the one in the package, or CASEDESK_DESK_CANNED_REPLIES_FILE.

A broken file stops the desk at start with the file, the entry and what is wrong: a silently
empty list would look like a desk without canned replies.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from casedesk_desk.domain.canned import CannedReply

PACKAGED = Path(__file__).parent.parent / "canned_replies.toml"
_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_TITLE, MAX_TEXT = 200, 10_000


class CannedRepliesError(ValueError):
    pass


def load_canned_replies(path: Path | None = None) -> list[CannedReply]:
    path = path or PACKAGED
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CannedRepliesError(f"canned replies: cannot read {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CannedRepliesError(f"canned replies: {path} is not valid TOML: {exc}") from None
    entries = data.get("reply", [])
    if not isinstance(entries, list) or set(data) - {"reply"}:
        raise CannedRepliesError(f"canned replies: {path} must hold only [[reply]] tables")
    replies: list[CannedReply] = []
    for number, entry in enumerate(entries, start=1):
        where = f"canned replies: {path}, reply {number}"
        if not isinstance(entry, dict) or set(entry) != {"key", "title", "text"}:
            raise CannedRepliesError(f"{where}: needs exactly key, title and text")
        key, title, text = entry["key"], entry["title"], entry["text"]
        if not isinstance(key, str) or not _KEY.match(key):
            raise CannedRepliesError(f"{where}: key must be 1-64 latin letters, digits, - or _")
        if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE:
            raise CannedRepliesError(f"{where} ({key}): title must be 1-{MAX_TITLE} characters")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            raise CannedRepliesError(f"{where} ({key}): text must be 1-{MAX_TEXT} characters")
        if any(r.key == key for r in replies):
            raise CannedRepliesError(f"{where}: key {key} is used twice")
        replies.append(CannedReply(key, title.strip(), text.strip()))
    return replies
