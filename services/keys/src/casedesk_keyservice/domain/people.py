"""Who may erase a citizen.

Erasing destroys a citizen's data keys for good: every copy of his personal data, in every
store and topic, becomes unreadable. So it is a person's decision, verified by the identity
provider (the token's realm roles) and journaled under his name: a person with the role
`privacy_officer`. The one exception is the system's own retention (personal data of a case
closed long enough ago), which no person orders case by case: a service in SYSTEM_ERASERS may
erase as the system, journaled as `system:<service>`.
"""

from __future__ import annotations

from dataclasses import dataclass

from casedesk_keyservice.domain.errors import NotPermitted

PRIVACY_OFFICER = "privacy_officer"
# Services that may erase without a person: the case service runs the retention of closed cases.
SYSTEM_ERASERS = frozenset({"case"})
# What a tombstone and the journal keep of who erased: the keyring's limit for the references it
# keeps forever (a longer name would fail the erasure after the person was let in).
NAME_LIMIT = 200


@dataclass(frozen=True)
class Person:
    """A member of staff as their verified token names them."""

    username: str
    roles: frozenset[str]


@dataclass(frozen=True)
class Eraser:
    """Who erases: a person (through the service `caller`), or the system acting as `caller`."""

    caller: str
    person: Person | None = None

    def __post_init__(self) -> None:
        if self.person is None and self.caller not in SYSTEM_ERASERS:
            raise NotPermitted(f"{self.caller} may not erase citizens without a person's token")

    @property
    def name(self) -> str:
        """What the tombstone and the journal keep as `erased_by`."""
        return self.person.username if self.person is not None else f"system:{self.caller}"

    @property
    def kind(self) -> str:
        return "person" if self.person is not None else "system"


def keepable_name(username: str) -> bool:
    """A person's name a tombstone can keep as who erased: one printable line, not blank, at
    most NAME_LIMIT characters (the identity provider allows longer ones)."""
    return bool(username.strip()) and len(username) <= NAME_LIMIT and username.isprintable()


def check_may_erase(person: Person) -> None:
    if PRIVACY_OFFICER not in person.roles:
        raise NotPermitted(
            f"{person.username} may not erase citizens: it needs the role {PRIVACY_OFFICER}"
        )
