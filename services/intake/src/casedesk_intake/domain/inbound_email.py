"""Reading a raw RFC 5322 message from the e-mail gateway: sender, subject, text, attachments.

A reply to support routes to its case by the number in the subject: the regulation asks citizens
to write "Обращение в службу поддержки - <номер заявки>", and mail clients add "Re:" or keep a bare
number, so number-shaped words of the subject are candidates, the formal one first, and only the
first few of them (each is a lookup at the case service).

The parse is bounded by `MailLimits` (mail_limits.py) and slow even within them (a second for a
4 MiB HTML message): callers run it off the event loop (application/mail_reading.py).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from email.feedparser import BytesFeedParser
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any

from casedesk_intake.domain.identifiers import IdentifierError, normalize_email
from casedesk_intake.domain.mail_limits import MailLimits, MailOverLimit, guarded_policy
from casedesk_intake.domain.mail_rules import SCREENED_FIELDS
from casedesk_intake.domain.wording import EMAIL_SUBJECT_PREFIX

_FORMAL_REFERENCE = re.compile(
    re.escape(EMAIL_SUBJECT_PREFIX) + r"\s*[-–—:]*\s*(?:№|N|#)?\s*\[?([0-9][0-9-]*[0-9])",
    re.IGNORECASE,
)
_CASE_NUMBER = re.compile(r"(?<![\d-])(\d{4}-\d{7,})(?![\d-])")
# Where the quoted previous message starts in a reply ("On ... wrote:", Outlook's separator).
_REPLY_HEADER = re.compile(
    r"^(-{2,}\s*(Original Message|Исходное сообщение|Пересылаемое сообщение)\s*-{2,}"
    r"|.{0,200}(wrote|писал|писала|написал|написала)\s*(\(а\))?:\s*)$",
    re.IGNORECASE,
)


class MalformedEmail(ValueError):
    """The message cannot be read; the message names the part, never its content."""


@dataclass(frozen=True)
class InboundAttachment:
    file_name: str
    media_type: str
    content: bytes


@dataclass(frozen=True)
class InboundEmail:
    message_id: str
    from_address: str
    from_name: str
    subject: str
    body: str
    attachments: tuple[InboundAttachment, ...]
    # The top-level fields that tell who wrote the message (mail_rules.SCREENED_FIELDS), as
    # (lower-case name, unfolded raw value), in the message's order.
    marks: tuple[tuple[str, str], ...] = ()

    def case_number_candidates(self, at_most: int | None = None) -> list[str]:
        """Numbers the subject refers to, the formal "Обращение в службу поддержки - N" first,
        each once; `at_most` of them."""
        found = [m.group(1) for m in _FORMAL_REFERENCE.finditer(self.subject)]
        found += _CASE_NUMBER.findall(self.subject)
        return list(dict.fromkeys(found))[:at_most]


def parse_email(raw: bytes, limits: MailLimits | None = None) -> InboundEmail:
    if not raw.strip():
        raise MalformedEmail("the message is empty")
    limits = limits or MailLimits()
    try:
        limits.check_header_section(raw)
        parser = BytesFeedParser(policy=guarded_policy(limits))
        parser.feed(raw)
        message = parser.close()
        assert isinstance(message, EmailMessage)
        from_name, from_address = _sender(message)
        return InboundEmail(
            message_id=str(message.get("message-id", "")).strip().strip("<>"),
            from_address=from_address,
            from_name=from_name,
            subject=" ".join(_printable(str(message.get("subject", ""))).split()),
            body=_body_text(message),
            attachments=tuple(_attachments(message)),
            marks=_marks(message),
        )
    except MalformedEmail:
        raise
    except MailOverLimit as over:
        raise MalformedEmail(str(over)) from None
    except Exception as error:  # the stdlib parser raises many types on hostile input
        raise MalformedEmail(f"the message cannot be parsed ({type(error).__name__})") from None


def _marks(message: EmailMessage) -> tuple[tuple[str, str], ...]:
    # Raw values: screening reads tokens, and the structured parser is what limits guard against.
    return tuple(
        (name.lower(), " ".join(str(value).split()))
        for name, value in message.raw_items()
        if name.lower() in SCREENED_FIELDS
    )


def _sender(message: EmailMessage) -> tuple[str, str]:
    header = message.get("from")
    addresses: tuple[Any, ...] = getattr(header, "addresses", ()) if header is not None else ()
    if len(addresses) != 1 or not addresses[0].addr_spec:
        raise MalformedEmail("the From header must name exactly one sender address")
    try:
        address = normalize_email(addresses[0].addr_spec)
    except IdentifierError:
        raise MalformedEmail("the From address is not a valid e-mail address") from None
    return " ".join(_printable(addresses[0].display_name).split()), address


def _body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    text = content if isinstance(content, str) else content.decode("utf-8", "replace")
    if part.get_content_type() == "text/html":
        text = _html_to_text(text)
    return _without_quoted_reply(_printable(text))


def _printable(text: str) -> str:
    """Drop control characters (form feeds, NULs, stray escapes) that mail clients leave."""
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cs"))


def _without_quoted_reply(text: str) -> str:
    kept: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if _REPLY_HEADER.match(line.strip()):
            break
        if not line.lstrip().startswith(">"):
            kept.append(line.rstrip())
    return "\n".join(kept).strip()


class _TextExtractor(HTMLParser):
    _SKIPPED = frozenset({"script", "style", "head"})
    _BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in self._SKIPPED:
            self._skipping += 1
        elif tag in self._BREAKS:
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.chunks.append(data)


def _html_to_text(html: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = (" ".join(line.split()) for line in "".join(extractor.chunks).split("\n"))
    return "\n".join(line for line in lines if line)


def _attachments(message: EmailMessage) -> list[InboundAttachment]:
    found = []
    for index, part in enumerate(message.iter_attachments(), start=1):
        payload = part.get_payload(decode=True)
        content = payload if isinstance(payload, bytes) else part.as_bytes()
        found.append(
            InboundAttachment(
                file_name=part.get_filename() or f"attachment-{index}",
                media_type=part.get_content_type(),
                content=content,
            )
        )
    return found
