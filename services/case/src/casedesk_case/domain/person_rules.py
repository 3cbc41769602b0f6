"""Who may do what to a case: the one place these rules live.

Two kinds of actors reach the case service (DESIGN.md "Identity and trust"):
- services, known by their certificate: intake acts for citizens (and as itself), escalation as
  the system. Nobody but intake acts as a citizen.
- people, known by the access token the identity provider signed for them, whose realm roles
  say what they may do:

| role | reads (opens, lists, watches) | works (status, comments, attachments, escalation) | also |
|---|---|---|---|
| specialist L1 | L1 cases | L1 cases | registers PHONE and MFC cases at the desk |
| specialist L2 | L1 and L2 cases | L1 and L2 cases | registers PHONE and MFC cases at the desk |
| specialist L3 | every case | every case | registers PHONE and MFC cases at the desk |
| supervisor | every case | none (unless also a specialist) | reassigns, closes spam, merges; desk |
| auditor | every case | none | reads the access journal |

A specialist reads the cases of his working tier and below, as he works them: a case that went up
to L3 (quality control) holds what the first line has no business reading, and a desk that lists
only what its reader may open never shows a case that refuses to open. Roles add up (a supervisor
who is also an L1 specialist reads every case). The tier is the case's tier now: once a case goes
up, the lower tier no longer opens even its earlier versions.

A specialist asking for a case above his tier is refused with the rule's reason
(PERMISSION_DENIED, `l1.ivanova (L1) may not open an L3 case`), like a command on it: the case's
number reached him anyway (the citizen's call, a colleague), and saying why spares him a search
for a case that "does not exist". A person who reads no tier at all (none of the roles, or a
specialist whose token carries no tier) sees no case, and is answered exactly as for a missing
one. Every read by a person is journaled.

The tier rule is checked on the case as the command is decided, so it uses the tier the command's
events are appended to (the store's version check refuses the save if the case moved meanwhile).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from casedesk_case.domain.errors import NotPermitted
from casedesk_case.domain.values import Actor, ActorKind, Channel, Tier

INTAKE, ESCALATION, DESK, OPERATOR = "intake", "escalation", "desk", "operator"

# Services that act by themselves, and as whom: the actor they name in a command.
SERVICE_ACTORS: Mapping[str, frozenset[ActorKind]] = {
    INTAKE: frozenset({ActorKind.CITIZEN, ActorKind.SYSTEM}),
    ESCALATION: frozenset({ActorKind.SYSTEM}),
}
# Callers that carry a person's access token: the actor is the person, never the request's word.
PERSON_CALLERS = frozenset({DESK, OPERATOR})
# Services that may send, with a read, the token of the person they read for (intake: the
# operator who acts for a citizen, whose token intake verified): the read is that person's and
# journaled as such, via the service. Without a token the service reads for itself.
READING_FOR_PEOPLE = frozenset({INTAKE})
# Services that may name the operator who identified the citizen they act for
# (context.identified_by): intake verifies the operator's staff token before it does.
IDENTIFYING_SERVICES = frozenset({INTAKE})
# Channels where a member of staff meets the citizen (a call, a visit) and registers the case.
DESK_CHANNELS = frozenset({Channel.PHONE, Channel.MFC})
EVERY_TIER = frozenset(Tier)


class Role(Enum):
    SPECIALIST = "specialist"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"


class Work(Enum):
    """What a person's command does, as far as the rules are concerned."""

    WORK = "work"  # status changes, comments, attachments, escalation, callbacks: tier-limited
    REASSIGN = "reassign"  # Assign
    REGISTER = "register"  # CreateCase at the desk (a phone call, an MFC visit)
    SUPERVISE = "supervise"  # CloseCase (spam) and MergeCases (duplicates)


# The supervisors' work, as a refusal names it.
SUPERVISORS_WORK = {
    Work.REASSIGN: "reassign cases",
    Work.SUPERVISE: "close cases as spam or merge duplicates",
}


@dataclass(frozen=True)
class Person:
    """A member of staff as the identity provider vouches for them (a verified access token)."""

    username: str
    roles: frozenset[Role]
    tier: Tier | None = None  # the `tier` claim; only a specialist's means anything

    @property
    def working_tier(self) -> Tier | None:
        """The tier whose cases (and those below) this person works; None: works no case."""
        return self.tier if Role.SPECIALIST in self.roles else None

    def describe(self) -> str:
        """How a refusal names the person: `l1.ivanova (L1)`, `audit.kuznetsov (auditor)`."""
        if self.working_tier is not None:
            return f"{self.username} ({self.working_tier.value})"
        return f"{self.username} ({self.role_label() or 'no casedesk role'})"

    def role_label(self) -> str:
        """The roles as the access journal records them: `supervisor, specialist L3`."""
        labels = []
        for role in Role:
            if role in self.roles:
                tier = f" {self.tier.value}" if role is Role.SPECIALIST and self.tier else ""
                labels.append(role.value + tier)
        return ", ".join(labels)


def check_may(person: Person, work: Work, channel: Channel | None = None) -> None:
    """The rules that need no case: the role the work needs (and, to register, the channel)."""
    if work in SUPERVISORS_WORK:
        if Role.SUPERVISOR not in person.roles:
            raise NotPermitted(
                f"{person.describe()} may not {SUPERVISORS_WORK[work]}: only supervisors do"
            )
        return
    if Role.SPECIALIST not in person.roles:
        only = "auditors only read" if Role.AUDITOR in person.roles else "specialists do"
        raise NotPermitted(f"{person.describe()} may not {work.value} cases: {only}")
    if person.tier is None:
        raise NotPermitted(
            f"{person.username} is a specialist without a tier (the token's tier claim is not "
            "L1, L2 or L3), so works no case"
        )
    if work is Work.REGISTER and channel not in DESK_CHANNELS:
        name = channel.value if channel is not None else "unspecified"
        raise NotPermitted(
            f"the desk registers PHONE and MFC cases only; a {name} case comes through intake"
        )


def check_may_work(person: Person, case_tier: Tier) -> None:
    """The tier rule, on the case as it is now: L1 works L1 cases, L2 also L1, L3 all."""
    check_may(person, Work.WORK)
    tier = person.working_tier
    assert tier is not None  # check_may refused a person without one
    if case_tier.rank > tier.rank:
        raise NotPermitted(f"{person.describe()} may not work an {case_tier.value} case")


def check_may_take(person: Person, case_number: str, holder: str) -> None:
    """Taking a case in work makes it the person's. A case another person holds (took, or was
    given) is theirs until a supervisor reassigns it; only a supervisor who also works cases
    takes it over directly. A case the roster assigned, or nobody, is any specialist's to take
    (the tier rule still applies)."""
    if not holder or holder == person.username or Role.SUPERVISOR in person.roles:
        return
    raise NotPermitted(
        f"{person.describe()} may not take case {case_number}: it is in work with {holder}; "
        "a supervisor reassigns it or takes it over"
    )


def readable_tiers(person: Person) -> frozenset[Tier]:
    """The tiers whose cases the person reads (module docstring): empty, they read none."""
    if person.roles & {Role.SUPERVISOR, Role.AUDITOR}:
        return EVERY_TIER
    tier = person.working_tier
    if tier is None:
        return frozenset()
    return frozenset(t for t in Tier if t <= tier)


def reads_cases(person: Person) -> bool:
    """Whether the person sees any case at all."""
    return bool(readable_tiers(person))


def may_read(person: Person, case_tier: Tier) -> bool:
    """Whether the person reads a case that is now at `case_tier`."""
    return case_tier in readable_tiers(person)


def check_may_read(person: Person, case_tier: Tier) -> None:
    """The read rule for a person who reads some tier (one who reads none is answered as for a
    missing case before anything is looked at: see `reads_cases`)."""
    if not may_read(person, case_tier):
        raise NotPermitted(f"{person.describe()} may not open an {case_tier.value} case")


def check_may_oversee(person: Person) -> None:
    """The desk overview (load per tier, queue and specialist; breaches) is the supervisors'."""
    if Role.SUPERVISOR not in person.roles:
        raise NotPermitted(
            f"{person.describe()} may not see the desk overview: it needs the role supervisor"
        )


def check_may_audit(person: Person) -> None:
    if Role.AUDITOR not in person.roles:
        raise NotPermitted(f"{person.describe()} may not read the access journal: only auditors do")


def person_actor(person: Person, named: Actor | None) -> Actor:
    """The actor of a person's command: the person, whatever the request would have said.

    A request may repeat the person (the desk's older clients name the specialist) but not name
    anybody else; a mismatch is refused rather than silently overridden, so the client's bug
    shows.
    """
    actor = Actor(ActorKind.SPECIALIST, person.username)
    if named is not None and named != actor:
        raise NotPermitted(
            f"context.actor must be empty or SPECIALIST {person.username} (the person token's "
            "user): a person acts only as themself"
        )
    return actor


def check_service_actor(service: str, actor: Actor) -> None:
    """A service acting by itself may name only the actors it stands for."""
    allowed = SERVICE_ACTORS.get(service)
    if allowed is None:
        raise NotPermitted(f"{service} acts on cases only for a person, with a person token")
    if actor.kind not in allowed:
        if actor.kind is ActorKind.CITIZEN:
            raise NotPermitted(f"only intake acts as a citizen; {service} acts as SYSTEM")
        kinds = " or ".join(sorted(k.value for k in allowed))
        raise NotPermitted(f"{service} may act only as {kinds}, not as {actor.kind.value}")


def check_may_name_identifier(caller: str, person: Person | None) -> None:
    """Who may record that an operator identified the citizen a command acts for: a service in
    IDENTIFYING_SERVICES. Anyone else could otherwise pin a command on a member of staff who
    never saw the citizen."""
    if person is not None:
        raise NotPermitted(
            f"context.identified_by must be empty for {person.username}: a person acts as "
            "themself (a case they register records them as the one who identified the citizen)"
        )
    if caller not in IDENTIFYING_SERVICES:
        raise NotPermitted(
            f"only intake names the operator who identified the citizen "
            f"(context.identified_by); {caller} must leave it empty"
        )
