"""Whom a call acts for, once intake has checked the proof the frontend forwarded with it.

A frontend's bearer token says which frontend calls; it never says which citizen. That takes one
of three proofs, each forwarded as metadata and each only by the frontends it belongs to:

- `x-citizen-token` (the portal's JWT): a portal citizen, by the token's login; forwarded by
  frontends serving PORTAL_CHAT or PERSONAL_ACCOUNT;
- `x-case-access-code`: whoever holds the one-time code sent to the contact a case was opened
  with (access_codes.py); forwarded by frontends serving EMAIL, PHONE, SOCIAL or MFC;
- `x-person-token` (the staff's JWT): an operator who identified the citizen by phone or in
  person; forwarded by frontends serving PHONE or MFC.

The cases a caller may see (`Caller.may_see`): a portal citizen his own, by the token's login,
whatever channel they came by (his account shows them all); a code holder or an operator only
cases of the channels the frontend serves outside the portal. So a frontend bound to one channel
cannot act for another channel's citizens. Any other case answers exactly like a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from casedesk_intake.domain.cases import Actor, Case, citizen_actor
from casedesk_intake.domain.errors import (
    CASE_NOT_FOUND,
    CASE_NOT_FOUND_BY_CODE,
    CaseNotFound,
    NotYourCase,
    Unauthenticated,
)
from casedesk_intake.domain.frontends import Frontend
from casedesk_intake.domain.submissions import MfcOrigin, Origin, Submission
from casedesk_vocabulary.enums import Channel

PORTAL_CHANNELS = frozenset({Channel.PORTAL_CHAT, Channel.PERSONAL_ACCOUNT})
OPERATOR_CHANNELS = frozenset({Channel.PHONE, Channel.MFC})
CONTACT_CHANNELS = frozenset(Channel) - PORTAL_CHANNELS  # citizens known by a contact

CITIZEN_TOKEN_KEY = "x-citizen-token"
PERSON_TOKEN_KEY = "x-person-token"
ACCESS_CODE_KEY = "x-case-access-code"
NEEDS_PROOF = (
    "this call acts for a citizen: forward the citizen's portal token (x-citizen-token), "
    "a one-time code for the case (x-case-access-code) or an operator's token (x-person-token)"
)


@dataclass(frozen=True)
class Proof:
    """What the frontend forwarded, not yet checked. Kept out of `repr`: these are secrets."""

    citizen_token: str = field(default="", repr=False)
    person_token: str = field(default="", repr=False)
    access_code: str = field(default="", repr=False)

    def kinds(self) -> list[str]:
        given = (
            (CITIZEN_TOKEN_KEY, self.citizen_token),
            (PERSON_TOKEN_KEY, self.person_token),
            (ACCESS_CODE_KEY, self.access_code),
        )
        return [key for key, value in given if value]


@dataclass(frozen=True)
class VerifiedPerson:
    """A verified identity-provider token: `preferred_username`, `azp`, realm roles."""

    username: str
    client: str
    roles: frozenset[str]
    expires_at: datetime | None = None


@dataclass(frozen=True)
class PortalCitizen:
    login: str
    # When his token expires: a stream opened with it ends then (domain/watching.py).
    expires_at: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Operator:
    """An operator, by his verified staff token; intake forwards the token with the reads it
    makes for him, so the case service journals them as his (a secret: kept out of `repr`)."""

    username: str
    token: str = field(default="", repr=False, compare=False)
    expires_at: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True)
class CodeHolder:
    """Whoever holds a code; which case it opens is checked against the case number asked for."""

    code: str = field(repr=False)


Acting = PortalCitizen | Operator | CodeHolder


@dataclass(frozen=True)
class Caller:
    """The frontend that calls and whom it acts for (None: nobody, e.g. the e-mail gateway)."""

    frontend: Frontend
    acting: Acting | None = None

    @property
    def citizen_login(self) -> str:
        """The portal citizen's login, proven by his token; empty for any other caller."""
        return self.acting.login if isinstance(self.acting, PortalCitizen) else ""

    @property
    def operator(self) -> str:
        return self.acting.username if isinstance(self.acting, Operator) else ""

    def identity(self) -> str:
        """Whom the call is made for, in idempotency digests: a retry by someone else is not
        a retry. A code holder is not named by his code, which may change between retries."""
        match self.acting:
            case PortalCitizen(login):
                return f"login:{login}"
            case Operator(username):
                return f"operator:{username}"
            case CodeHolder():
                return "code-holder"
        return ""

    @property
    def proof_expires_at(self) -> datetime | None:
        """When the proof of this call stops proving anything (a token's expiry); None for a
        code, which the use case checks again instead, and for nobody."""
        if isinstance(self.acting, PortalCitizen | Operator):
            return self.acting.expires_at
        return None

    def require_acting(self) -> Acting:
        if self.acting is None:
            raise Unauthenticated(NEEDS_PROOF)
        return self.acting

    def require_portal_citizen(self) -> str:
        if isinstance(self.acting, PortalCitizen):
            return self.acting.login
        if self.acting is None:
            raise Unauthenticated(
                "this call lists a portal citizen's cases: forward his token as "
                f"{CITIZEN_TOKEN_KEY}"
            )
        raise NotYourCase(
            "only a portal citizen (x-citizen-token) lists his cases; a one-time code or an "
            "operator opens one case at a time, by its number"
        )

    def may_see(self, case: Case) -> bool:
        if isinstance(self.acting, PortalCitizen):
            return case.citizen.account_login == self.acting.login
        if self.acting is None or case.channel not in CONTACT_CHANNELS:
            return False
        return self.frontend.serves(case.channel)

    def not_found(self) -> CaseNotFound:
        """What every case this caller may not see answers, like one that does not exist."""
        by_code = isinstance(self.acting, CodeHolder)
        return CaseNotFound(CASE_NOT_FOUND_BY_CODE if by_code else CASE_NOT_FOUND)

    def actor_on(self, case: Case, citizen_ref: str) -> Actor:
        """The citizen a command on `case` is recorded for: the portal citizen himself, else
        the case's own citizen (an operator or a code holder acts for him)."""
        return citizen_actor(self.citizen_login or case.citizen.account_login, citizen_ref)


def submission_for(caller: Caller, submission: Submission) -> Submission:
    """The submission as made for the caller's citizen, or the refusal naming what is wrong.

    Portal cases are the token's citizen's (the login comes from the token). Other channels
    name no account, unless an operator, who identified the citizen, vouches for it."""
    channel, acting = submission.channel, caller.acting
    login = submission.citizen.account_login
    if channel is None:
        return submission  # refused for its channel by the submission rules
    if channel in PORTAL_CHANNELS:
        if not isinstance(acting, PortalCitizen):
            raise Unauthenticated(
                f"a {channel.value} case is a portal citizen's: forward his token as "
                f"{CITIZEN_TOKEN_KEY}"
            )
        if login and login != acting.login:
            raise NotYourCase(
                f"citizen.account_login differs from the login of the {CITIZEN_TOKEN_KEY}: leave "
                "it empty, the token says who the citizen is"
            )
        return replace(submission, citizen=replace(submission.citizen, account_login=acting.login))
    if isinstance(acting, PortalCitizen):
        raise NotYourCase(
            f"{CITIZEN_TOKEN_KEY} is for PORTAL_CHAT and PERSONAL_ACCOUNT cases, "
            f"not {channel.value}"
        )
    if isinstance(acting, CodeHolder):
        raise NotYourCase(f"{ACCESS_CODE_KEY} opens an existing case; a new case needs none")
    if isinstance(acting, Operator):
        return _by_operator(acting, submission)
    if login:
        raise NotYourCase(
            f"citizen.account_login may be named only through the portal's token "
            f"({CITIZEN_TOKEN_KEY}) or by an operator ({PERSON_TOKEN_KEY})"
        )
    return submission


def _by_operator(operator: Operator, submission: Submission) -> Submission:
    channel = submission.channel
    if channel not in OPERATOR_CHANNELS:
        raise NotYourCase(
            f"{PERSON_TOKEN_KEY}: operators act for citizens on PHONE and MFC cases, "
            f"not {channel.value if channel else 'unspecified'}"
        )
    return replace(submission, provenance=_operators_origin(operator, submission.provenance))


def _operators_origin(operator: Operator, origin: Origin | None) -> Origin | None:
    """An MFC origin names the operator of the token (a different one is refused)."""
    if not isinstance(origin, MfcOrigin):
        return origin
    if origin.operator_id and origin.operator_id != operator.username:
        raise NotYourCase(
            f"provenance.mfc.operator_id differs from the operator of the {PERSON_TOKEN_KEY}: "
            "leave it empty, the token says who the operator is"
        )
    return replace(origin, operator_id=operator.username)


# Through which channels each proof may bring a citizen's repeat: those it may open cases of.
_REPEAT_CHANNELS = (
    (PortalCitizen, PORTAL_CHANNELS, CITIZEN_TOKEN_KEY),
    (Operator, OPERATOR_CHANNELS, PERSON_TOKEN_KEY),
    (CodeHolder, CONTACT_CHANNELS, ACCESS_CODE_KEY),
)


def repeat_origin(caller: Caller, channel: Channel, origin: Origin | None) -> Origin | None:
    """A repeat through `channel` (`origin`: where it came from there) as made for the caller,
    or the refusal: a frontend's own channels only, and those its proof belongs to."""
    caller.frontend.check_channel(channel)
    for kind, channels, key in _REPEAT_CHANNELS:
        if isinstance(caller.acting, kind) and channel not in channels:
            allowed = ", ".join(sorted(c.value for c in channels))
            raise NotYourCase(
                f"a citizen proven by {key} repeats through {allowed}, not {channel.value}"
            )
    if isinstance(caller.acting, Operator):
        return _operators_origin(caller.acting, origin)
    return origin
