"""Who may call which RPC of intake: the table checked by the runtime (default deny).

Every IntakeService RPC is a frontend's, each named below (`FRONTEND_RPCS`: an RPC added to
the contract stays closed until it is listed here): the edge (edge.py) admits it by the
frontend's bearer token before the request is read, whatever the TLS setting. What the
certificate adds depends on CASEDESK_TLS_CLIENT_AUTH:

- `require` (mutual TLS): the frontend also presents the `frontend` certificate; a call needs
  both, the token (UNAUTHENTICATED without it) and the certificate (PERMISSION_DENIED for any
  other identity).
- `optional` (TLS without client certificates, see grpc_tls): no caller has a certificate, so
  the frontend RPCs are PUBLIC to the certificate check and the token alone admits them.

Nothing but frontend RPCs may ever be PUBLIC (`check_public_rpcs_are_guarded`, at start). The
other RPCs keep certificate authorisation: reflection, for frontends' developers and operators
(grpcurl), needs a verified `frontend` or `operator` identity, so with `optional` no caller
reaches it (PERMISSION_DENIED). Health is open to every caller, as on every Casedesk server.

AttachmentVaultService is no frontend's: only the specialists' desk (`desk` certificate) opens
attachments, for the person whose token it forwards, under either setting (with `optional` no
caller presents a certificate, so nobody reaches it: a desk needs `require`). The frontend token
does not apply to it (edge.py gives it its own slots instead).

Which frontend may do what for which citizen is the use cases' business (domain/acting.py): a
frontend acts only on its own channels, for the citizen its forwarded proof names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from casedesk.intake.v1 import attachment_vault_pb2 as vault_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk_runtime.grpc_authz import PUBLIC, REFLECTION, AccessTable

FRONTEND, OPERATOR, DESK = "frontend", "operator", "desk"
INTAKE_SERVICE = intake_pb2.DESCRIPTOR.services_by_name["IntakeService"].full_name
VAULT_SERVICE = vault_pb2.DESCRIPTOR.services_by_name["AttachmentVaultService"].full_name
FRONTEND_RPCS = (
    "SubmitCase",
    "AddComment",
    "RepeatCase",
    "RequestEscalation",
    "GetCase",
    "ListMyCases",
    "IngestEmail",
    "RequestAccessCode",
    "ConfirmAnswer",
    "RateAnswer",
    "WatchMyCase",
)


def intake_access(client_auth: Literal["require", "optional"]) -> AccessTable:
    frontends = {FRONTEND} if client_auth == "require" else {PUBLIC}
    return {
        **{f"/{INTAKE_SERVICE}/{rpc}": set(frontends) for rpc in FRONTEND_RPCS},
        f"/{VAULT_SERVICE}/OpenAttachment": {DESK},
        REFLECTION: {FRONTEND, OPERATOR},
    }


def check_public_rpcs_are_guarded(table: AccessTable, guarded: Callable[[str], bool]) -> None:
    """Refuse to serve a table granting PUBLIC an RPC the token check does not cover."""
    unguarded = sorted(
        key for key, grantees in table.items() if PUBLIC in grantees and not guarded(key)
    )
    if unguarded:
        raise ValueError(
            "PUBLIC (no certificate) is only for RPCs that the frontend token check guards; "
            f"not guarded: {', '.join(unguarded)}"
        )
