"""Who may call which RPC of intake: the one table, checked by the runtime (default deny).

Intake is the edge for channel frontends (identity `frontend`); a frontend is then bound to its
channels by its bearer token (settings' frontend registry). Reflection serves frontends'
developers and operators (grpcurl).
"""

from __future__ import annotations

from casedesk_runtime.grpc_authz import REFLECTION, AccessTable

FRONTEND, OPERATOR = "frontend", "operator"

INTAKE_ACCESS: AccessTable = {
    "/casedesk.intake.v1.IntakeService/*": {FRONTEND},
    REFLECTION: {FRONTEND, OPERATOR},
}
