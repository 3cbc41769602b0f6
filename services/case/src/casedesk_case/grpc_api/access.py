"""Who may call which RPC of the case service: the one table, checked by the runtime (default deny).

Callers are known by the identity in their certificate (`spiffe://casedesk/<name>`, DESIGN.md
"Identity and trust"): intake creates cases and acts for citizens, escalation escalates, the
desk performs specialists' actions and reads, an operator's tools may read and use reflection.
"""

from __future__ import annotations

from casedesk_runtime.grpc_authz import REFLECTION, AccessTable

_SERVICE = "/casedesk.case.v1.CaseService/"
INTAKE, ESCALATION, DESK, OPERATOR = "intake", "escalation", "desk", "operator"

CASE_ACCESS: AccessTable = {
    # Citizens' requests, relayed by intake; the desk registers cases taken by phone or at an MFC.
    _SERVICE + "CreateCase": {INTAKE, DESK},
    _SERVICE + "CreateCases": {INTAKE},
    _SERVICE + "AddComment": {INTAKE, DESK},
    _SERVICE + "RepeatCase": {INTAKE},
    _SERVICE + "RequestEscalation": {INTAKE},
    _SERVICE + "AddAttachment": {INTAKE, DESK},
    # Specialists' actions come only through the desk; escalation moves cases up the tiers.
    _SERVICE + "ChangeStatus": {DESK},
    _SERVICE + "Assign": {DESK},
    _SERVICE + "Escalate": {ESCALATION, DESK},
    # Reads.
    _SERVICE + "GetCase": {INTAKE, DESK, OPERATOR},
    _SERVICE + "GetHistory": {DESK, OPERATOR},
    _SERVICE + "ListCases": {INTAKE, DESK, OPERATOR},
    _SERVICE + "WatchCase": {DESK},
    REFLECTION: {OPERATOR},
}
