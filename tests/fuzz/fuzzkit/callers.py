"""Who calls an RPC in the fuzzing: the ways an authorised client does, and unauthorised ones.

`identities(stack, service, method)` are derived from the service's access table (the
certificate the RPC grants) and what each such caller sends with it: a person's token for the
desk and operators' tools, a frontend's token and the citizen's (or an operator's, or a one-time
code) for intake's frontends. `intruders(...)` are the certificates the table does not grant, and
granted certificates with missing or forged tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

from casedesk_case.grpc_api.access import CASE_ACCESS
from casedesk_intake.grpc_api.access import intake_access
from casedesk_runtime.grpc_authz import AccessTable
from fuzzkit.stack import CASE_SERVICE, FRONTEND_TOKENS, Stack

CITIZEN_LOGIN = "ivanov.ii"
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


def access_table(service: str) -> AccessTable:
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


def identities(stack: Stack, service: str, method: str) -> list[Identity]:
    """Every authorised way to call `/service/method` the fuzzing uses (at least one)."""
    tokens = people(stack)
    found: list[Identity] = []
    for name in sorted(grantees(service, method)):
        if name in ("desk", "operator"):  # a person's calls: their token says who
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
        for other in ("sla", "notify", "case", "escalation", "frontend", "operator", "desk")
        if other not in granted
    ]
    garbage = ("x-person-token", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
    forged = (
        "x-person-token",
        stack.person_token("l3.sidorova", "L3", ["specialist"]).rsplit(".", 1)[0] + ".forged",
    )
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
