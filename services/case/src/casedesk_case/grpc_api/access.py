"""Who may call which RPC of the case service: the one table, checked by the runtime (default deny).

Callers are known by the identity in their certificate (`spiffe://casedesk/<name>`, DESIGN.md
"Identity and trust"): intake creates cases and acts for citizens, escalation escalates, the
desk performs specialists' actions and reads, an operator's tools may read and use reflection.
This table says which service may call an RPC at all; what a call may then do — as whom intake
and escalation act, what the person behind a desk or operator call may do (their token's roles
and tier), which cases they see — is decided by domain/person_rules.py.
"""

from __future__ import annotations

from casedesk_case.domain.person_rules import DESK, ESCALATION, INTAKE, OPERATOR
from casedesk_runtime.grpc_authz import REFLECTION, AccessTable

_SERVICE = "/casedesk.case.v1.CaseService/"

CASE_ACCESS: AccessTable = {
    # Citizens' requests, relayed by intake; the desk registers cases taken by phone or at an MFC.
    _SERVICE + "CreateCase": {INTAKE, DESK},
    _SERVICE + "CreateCases": {INTAKE},
    _SERVICE + "AddComment": {INTAKE, DESK},
    _SERVICE + "RepeatCase": {INTAKE},
    _SERVICE + "RequestEscalation": {INTAKE},
    _SERVICE + "AddAttachment": {INTAKE, DESK},
    # The citizen's word on the answer: intake only, acting as the CITIZEN (the case refuses
    # any other actor: domain/closing.py).
    _SERVICE + "ConfirmAnswer": {INTAKE},
    _SERVICE + "RateAnswer": {INTAKE},
    # Specialists' actions come only through the desk; escalation moves cases up the tiers.
    _SERVICE + "ChangeStatus": {DESK},
    _SERVICE + "Assign": {DESK},
    _SERVICE + "Escalate": {ESCALATION, DESK},
    # A supervisor's (the person token's role supervisor: domain/person_rules.py, Work.SUPERVISE)
    # spam closing and merging of duplicates; a specialist's callback on a PHONE case of a tier
    # he works.
    _SERVICE + "CloseCase": {DESK},
    _SERVICE + "MergeCases": {DESK},
    _SERVICE + "RecordCallback": {DESK},
    # Reads: intake's for the citizen the case belongs to (intake checks that); the desk's and
    # an operator's for a person, journaled.
    _SERVICE + "GetCase": {INTAKE, DESK, OPERATOR},
    _SERVICE + "GetHistory": {DESK, OPERATOR},
    _SERVICE + "ListCases": {INTAKE, DESK, OPERATOR},
    # intake follows a case for its citizen's frontend (IntakeService.WatchMyCase: it shows him
    # only what he may see), as it reads one with GetCase.
    _SERVICE + "WatchCase": {INTAKE, DESK},
    # The desk's live queue, a case's SLA and notice timeline, the supervisors' overview: a
    # person's reads only (the person rules decide what each sees), as GetHistory.
    _SERVICE + "WatchQueue": {DESK, OPERATOR},
    _SERVICE + "GetCaseTimeline": {DESK, OPERATOR},
    _SERVICE + "GetDeskOverview": {DESK, OPERATOR},
    # The access journal, for a person with the auditor role.
    _SERVICE + "ListAccessRecords": {DESK, OPERATOR},
    REFLECTION: {OPERATOR},
}
