"""How much of a raw e-mail intake reads: header fields, their length, the subject, MIME parts.

The standard library's parser is slow on hostile input, and not linearly so: a 1 MB Subject costs
it tens of seconds, 300,000 empty MIME parts over a minute. The whole message is bounded already
(4 MiB, `request_limits.MAX_RAW_EMAIL_BYTES`); these limits bound the parser's work, and they are
checked while it parses (`guarded_policy`), before any header value is interpreted, so a message
over a limit costs about one linear pass over its bytes. The defaults are far above real mail: a
reply relayed a dozen times, DKIM-signed, 200 messages deep in its thread and with five attachments
has 40 header fields and 11 KB of them.
"""

from __future__ import annotations

import dataclasses
import io
import re
from dataclasses import dataclass, field
from email.headerregistry import BaseHeader
from email.message import EmailMessage
from email.policy import EmailPolicy
from typing import Any

KIB = 1024
_FIELD_NAME = re.compile(r"[!-9;-~]{1,40}")  # printable, no colon: safe to quote back


class MailOverLimit(ValueError):
    """The message exceeds one of the limits; the text names the limit, never content."""


@dataclass(frozen=True)
class MailLimits:
    header_fields: int = 500  # in the whole message, every MIME part's header included
    header_field_bytes: int = 16 * KIB  # one field: name and value, folding included
    header_bytes: int = 128 * KIB  # every header field of the message together
    subject_bytes: int = 8 * KIB  # the Subject as it arrives (encoded words included)
    parts: int = 50  # MIME parts, the message itself and nested messages included

    def __post_init__(self) -> None:
        for name, value in dataclasses.asdict(self).items():
            if value < 1:
                raise ValueError(f"mail limit {name} must be at least 1")

    def check_header_section(self, raw: bytes) -> None:
        """The top-level header fields, checked as they are met: the parser would first collect
        every line of the section, however many, before handing over its first field."""
        budget = _Budget(self)
        name, size = "", 0
        for line in io.BytesIO(raw):
            if line[:1] in (b" ", b"\t") and name:  # a folded field goes on
                size += len(line)
                if size > self.header_field_bytes or budget.header_bytes + size > self.header_bytes:
                    budget.count_field(name, size)  # raises
                continue
            if name:
                budget.count_field(name, size)
            if b":" not in line or not line.strip():  # the body starts
                return
            name, size = line.split(b":", 1)[0].decode("ascii", "replace"), len(line)
        if name:
            budget.count_field(name, size)


@dataclass
class _Budget:
    """What one parse has used of the limits so far."""

    limits: MailLimits
    fields: int = 0
    header_bytes: int = 0
    parts: int = 0
    parsed: dict[tuple[str, str], Any] = field(default_factory=dict)

    def count_field(self, name: str, size: int) -> None:
        limits = self.limits
        self.fields += 1
        self.header_bytes += size
        if self.fields > limits.header_fields:
            raise MailOverLimit(
                f"the message has more header fields than the limit of {limits.header_fields}"
            )
        if name.lower() == "subject" and size > limits.subject_bytes:
            raise MailOverLimit(
                f"the Subject header is longer than the limit of {limits.subject_bytes} bytes"
            )
        if size > limits.header_field_bytes:
            shown = name if _FIELD_NAME.fullmatch(name) else "a"
            raise MailOverLimit(
                f"the {shown} header field is longer than the limit of "
                f"{limits.header_field_bytes} bytes"
            )
        if self.header_bytes > limits.header_bytes:
            raise MailOverLimit(
                f"the header fields together are larger than the limit of "
                f"{limits.header_bytes} bytes"
            )

    def count_part(self) -> None:
        self.parts += 1
        if self.parts > self.limits.parts:
            raise MailOverLimit(
                f"the message has more MIME parts than the limit of {self.limits.parts}"
            )


class _GuardedPolicy(EmailPolicy):
    """The standard policy, counting what the parser meets and parsing each field value once.

    The parser hands every header field to `header_source_parse` as soon as the field is
    complete, and creates every part through `message_factory`: both count against the budget
    and stop the parse at the first limit exceeded. Reading a value (`header_fetch_parse`) runs
    the slow structured-header parser, which `EmailMessage` otherwise does again on every access
    (a part's Content-Type is read a dozen times); the budget keeps each result.
    """

    budget: _Budget | None = None

    def header_source_parse(self, sourcelines: list[str]) -> tuple[str, str]:
        assert self.budget is not None
        name = sourcelines[0].split(":", 1)[0]
        self.budget.count_field(name, sum(len(line) for line in sourcelines))
        return super().header_source_parse(sourcelines)

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if self.budget is None or isinstance(value, BaseHeader):
            return super().header_fetch_parse(name, value)
        key = (name.lower(), value)
        if key not in self.budget.parsed:
            self.budget.parsed[key] = super().header_fetch_parse(name, value)
        return self.budget.parsed[key]


class _CountedMessage(EmailMessage):
    def __init__(self, policy: Any = None) -> None:
        super().__init__(policy=policy)
        if isinstance(policy, _GuardedPolicy) and policy.budget is not None:
            policy.budget.count_part()


def guarded_policy(limits: MailLimits) -> EmailPolicy:
    """A policy for one parse: its budget is spent as the parser goes."""
    # A policy takes any attribute its class defines as a keyword; typeshed knows the stdlib's.
    return _GuardedPolicy(budget=_Budget(limits), message_factory=_CountedMessage)  # type: ignore[call-overload]
