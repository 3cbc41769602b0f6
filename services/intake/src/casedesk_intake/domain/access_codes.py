"""One-time codes: how a citizen without a portal account proves a case is his.

He asks for a code by case number; intake sends six digits to the contact the case was opened
with (its e-mail for an e-mail case, otherwise its mobile phone by SMS, else its e-mail). The code
then opens that one case, with the number, until it expires; the `max_wrong`-th wrong code locks
it (even the right one is refused then), and the next request replaces it with a new one. Only a
keyed hash of a code is stored, and a code is never logged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from casedesk_intake.domain.cases import Case
from casedesk_intake.domain.citizens import citizen_identity
from casedesk_vocabulary.enums import Channel

CODE_DIGITS = 6
_CODE = re.compile(rf"^\d{{{CODE_DIGITS}}}$")

ContactKind = Literal["email", "sms"]


def new_code(randbelow: Callable[[int], int]) -> str:
    """`randbelow`: a cryptographic source, `secrets.randbelow` (a parameter for tests)."""
    return f"{randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def is_code(value: str) -> bool:
    return _CODE.fullmatch(value) is not None


@dataclass(frozen=True)
class CodePolicy:
    ttl_s: float
    max_wrong: int  # the max_wrong-th wrong code locks the code

    def __post_init__(self) -> None:
        if self.ttl_s <= 0 or self.max_wrong < 1:
            raise ValueError("a code needs a positive lifetime and at least one try")


@dataclass(frozen=True)
class Contact:
    """Where a code goes. The address stays out of `repr`, so it cannot slip into a log."""

    kind: ContactKind
    address: str = field(repr=False)

    def identity(self) -> str:
        """The key its rate limit is counted under (the same form as a citizen's identity)."""
        if self.kind == "email":
            return citizen_identity(email=self.address)
        return citizen_identity(phone=self.address)


def contact_for_code(case: Case, can_send: Callable[[ContactKind], bool]) -> Contact | None:
    """The contact the case was opened with that a code can be sent to, or None."""
    citizen = case.citizen
    options: list[tuple[ContactKind, str]] = [
        ("sms", citizen.mobile_phone),
        ("email", citizen.email),
    ]
    if case.channel is Channel.EMAIL:
        options.reverse()  # the address the case came from
    for kind, address in options:
        if address and can_send(kind):
            return Contact(kind, address)
    return None


@dataclass(frozen=True)
class CodeRequested:
    """The answer to a code request: the same whether the case exists, is the frontend's to
    serve, or has a contact at all, so it tells nobody anything about the case."""

    valid_for_s: int
    text: str
