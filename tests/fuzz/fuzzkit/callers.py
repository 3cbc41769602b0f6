"""Who calls an RPC in the fuzzing: the ways an authorised client does, and unauthorised ones.

`identities(stack, service, method)` are derived from the service's access table (the
certificate the RPC grants) and what each such caller sends with it: a person's token for the
desk and operators' tools, a frontend's token and the citizen's (or an operator's, or a one-time
code) for intake's frontends; for the key service, services acting as themselves, and for
EraseCitizen a privacy officer's token (through the operator's tool or forwarded by the case
service) or none (the case service's retention). `intruders(...)` are the certificates the table
does not grant, and granted certificates with missing, forged or insufficient tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

from casedesk_case.grpc_api.access import CASE_ACCESS
from casedesk_intake.grpc_api.access import intake_access
from casedesk_keyservice.grpc_api.access import KEY_ACCESS
from casedesk_runtime.grpc_authz import AccessTable
from fuzzkit.stack import CASE_SERVICE, FRONTEND_TOKENS, KEY_SERVICE, Stack

CITIZEN_LOGIN = "ivanov.ii"
# Every certificate of the stack's PKI: an intruder wherever the access table does not grant it
# (`keys` is the key service's own, which no table grants anything).
CERTIFICATES = ("sla", "notify", "case", "intake", "escalation", "frontend", "operator", "desk",
                "keys")  # fmt: skip
# The key service's RPC that acts for a person (the others serve services acting as themselves).
ERASE_CITIZEN = "EraseCitizen"
Metadata = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Identity:
    """A client: the certificate it presents (None: none) and the metadata it sends."""

    certificate: str | None
    metadata: Metadata
    label: str
    # For an intruder: True when its certificate is one the RPC grants and only the token it
    # sends (a person's, a citizen's) is bad; the request may then be judged before the token.
    granted_certificate: bool = False
    frontend: str = ""  # intake's frontend whose token it sends (its channels: FRONTEND_TOKENS)
    # For such an intruder: True when the RPC judges the token before the request (the key
    # service's EraseCitizen: strangers learn no rule), so that only bytes that are no message
    # at all (refused by the runtime's decoding, before any handler) may be INVALID_ARGUMENT.
    token_judged_first: bool = False


def access_table(service: str) -> AccessTable:
    if service == KEY_SERVICE:
        return KEY_ACCESS
    return CASE_ACCESS if service == CASE_SERVICE else intake_access("require")


def grantees(service: str, method: str) -> set[str]:
    table = access_table(service)
    exact = table.get(f"/{service}/{method}")
    return set(exact if exact is not None else table.get(f"/{service}/*", ()))


def bearer(frontend: str) -> tuple[str, str]:
    """The metadata of a frontend's token (intake's edge)."""
    return ("authorization", f"Bearer {FRONTEND_TOKENS[frontend][0]}")


def people(stack: Stack) -> dict[str, str]:
    """Person tokens: an L1 specialist, and an L3 specialist who supervises and audits."""
    return {
        "l1.ivanova": stack.person_token("l1.ivanova", "L1", ["specialist"]),
        "l3.sidorova": stack.person_token(
            "l3.sidorova", "L3", ["specialist", "supervisor", "auditor"]
        ),
    }


def privacy_officers(stack: Stack) -> dict[str, str]:
    """Person tokens with the realm role privacy_officer (who may erase citizens): an officer
    with that role alone, and an L3 specialist who also holds it."""
    return {
        "po.orlova": stack.person_token("po.orlova", "L3", ["privacy_officer"]),
        "l3.petrova": stack.person_token(
            "l3.petrova", "L3", ["specialist", "auditor", "privacy_officer"]
        ),
    }


def key_service_callers(stack: Stack, name: str, method: str) -> list[Identity]:
    """How `name` calls the key service: a service acting as itself; for EraseCitizen, an
    officer's order through the operator's tool or forwarded by the case service, and the case
    service's retention, which alone erases without a person."""
    if method != ERASE_CITIZEN:
        return [Identity(name, (), name)]
    found = [
        Identity(name, (("x-person-token", token),), f"{name} for {officer}")
        for officer, token in privacy_officers(stack).items()
    ]
    if name == "case":
        found.append(Identity(name, (), "case for its retention"))
    return found


def identities(stack: Stack, service: str, method: str) -> list[Identity]:
    """Every authorised way to call `/service/method` the fuzzing uses (at least one)."""
    tokens = people(stack)
    found: list[Identity] = []
    for name in sorted(grantees(service, method)):
        if service == KEY_SERVICE:
            found += key_service_callers(stack, name, method)
        elif name in ("desk", "operator"):  # a person's calls: their token says who
            found += [
                Identity(name, (("x-person-token", token),), f"{name} for {person}")
                for person, token in tokens.items()
            ]
            purpose = ("x-access-purpose", "%D0%BF%D1%80%D0%BE%D0%B2%D0%B5%D1%80%D0%BA%D0%B0")
            found.append(
                Identity(
                    name,
                    (("x-person-token", tokens["l3.sidorova"]), purpose),
                    f"{name} for l3.sidorova with a purpose",
                )
            )
        elif name == "frontend":
            citizen = ("x-citizen-token", stack.citizen_token(CITIZEN_LOGIN))
            operator = ("x-person-token", tokens["l3.sidorova"])
            code = ("x-case-access-code", "123456")
            found += [
                Identity(name, (bearer("desk-all"), citizen), "portal frontend for a citizen",
                         frontend="desk-all"),
                Identity(name, (bearer("mail-gateway"),), "mail gateway",
                         frontend="mail-gateway"),
                Identity(name, (bearer("contact-centre"), operator), "contact centre operator",
                         frontend="contact-centre"),
                Identity(name, (bearer("contact-centre"), code), "contact centre with a code",
                         frontend="contact-centre"),
            ]  # fmt: skip
        else:  # a service acting as itself
            found.append(Identity(name, (), name))
            if name == "intake":  # also reading for the operator it verified
                operator = ("x-person-token", tokens["l1.ivanova"])
                found.append(Identity(name, (operator,), "intake for l1.ivanova"))
    if not found:
        raise AssertionError(f"/{service}/{method}: its access table grants nobody")
    return found


def intruders(stack: Stack, service: str, method: str) -> list[Identity]:
    """Callers that must be refused (UNAUTHENTICATED or PERMISSION_DENIED) before the handler."""
    granted = grantees(service, method)
    found = [
        Identity(other, (), f"certificate of {other}")
        for other in CERTIFICATES
        if other not in granted
    ]
    garbage = ("x-person-token", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
    forged = (
        "x-person-token",
        stack.person_token("l3.sidorova", "L3", ["specialist"]).rsplit(".", 1)[0] + ".forged",
    )
    if service == KEY_SERVICE:
        return found + _key_service_intruders(stack, granted, method, garbage, forged)
    for name in granted & {"desk", "operator"}:
        found += [
            Identity(name, (), f"{name} without a person token", True),
            Identity(name, (garbage,), f"{name} with an unsigned token", True),
            Identity(name, (forged,), f"{name} with a forged signature", True),
        ]
    if "frontend" in granted:
        found += [
            Identity("frontend", (), "frontend without its token"),
            Identity("frontend", (("authorization", "Bearer guessed-0123456789"),), "wrong token"),
            Identity(
                "frontend",
                (bearer("desk-all"), ("x-citizen-token", "not-a-jwt")),
                "portal frontend with a broken citizen token",
                True,
            ),
        ]
    return found


def _key_service_intruders(
    stack: Stack,
    granted: set[str],
    method: str,
    garbage: tuple[str, str],
    forged: tuple[str, str],
) -> list[Identity]:
    """Granted certificates ordering an erasure for nobody valid: no token (the operator's
    tool; the case service without one is its retention, authorised), an unsigned or forged
    token, a person without the role privacy_officer, an officer whose name no tombstone can
    keep as who erased (over 200 characters, or two lines: the identity provider signs such
    names; they once failed the erasure UNKNOWN). The other RPCs read no token."""
    if method != ERASE_CITIZEN:
        return []
    specialist = ("x-person-token", people(stack)["l3.sidorova"])  # supervisor, auditor: no more
    unkeepable = [
        ("x-person-token", stack.person_token(username, "L3", ["privacy_officer"]))
        for username in ("po." + "o" * 200, "po.orlova\nroot")
    ]
    found = []
    for name in sorted(granted):
        found += [
            Identity(name, (garbage,), f"{name} with an unsigned token", True,
                     token_judged_first=True),
            Identity(name, (forged,), f"{name} with a forged signature", True,
                     token_judged_first=True),
            Identity(name, (specialist,), f"{name} for l3.sidorova, no privacy officer", True,
                     token_judged_first=True),
            *[
                Identity(name, (token,), f"{name} for an officer named beyond a tombstone",
                         True, token_judged_first=True)
                for token in unkeepable
            ],
        ]  # fmt: skip
        if name != "case":
            found.append(
                Identity(name, (), f"{name} without a person token", True,
                         token_judged_first=True)
            )  # fmt: skip
    return found
