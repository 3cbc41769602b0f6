"""Who may call which RPC of the key service: the one table, checked by the runtime before a
request is read (default deny: any other caller is PERMISSION_DENIED naming the RPC).

Callers are known by their certificate (`spiffe://casedesk/<name>`). The table follows what
each service may decrypt (libs/keys/README.md "What each service may decrypt"): intake seals a
new case and reads a citizen's own, the case service seals specialists' texts and reads for an
authorised specialist (its read rules and access journal decide which person reads what), notify
reads to send. sla, escalation and the analysts' replay never decrypt and get no key; nor does
the `operator` identity: an export with personal data in clear would be a decision of its own,
per person and journaled, not a side door through the key service. Which person may erase is
decided after this table, from the person's token (grpc_api/erasers.py, domain/people.py).
"""

from __future__ import annotations

from casedesk_runtime.grpc_authz import REFLECTION, AccessTable

SERVICE_NAME = "casedesk.keys.v1.KeyService"
_SERVICE = f"/{SERVICE_NAME}/"

INTAKE, CASE, NOTIFY, OPERATOR = "intake", "case", "notify", "operator"

KEY_ACCESS: AccessTable = {
    # Sealing new personal fields: a new case and its files (intake), specialists' texts (case).
    _SERVICE + "GetCurrentKey": {INTAKE, CASE},
    _SERVICE + "GetCurrentKeys": {INTAKE, CASE},  # the same for a burst of new citizens
    # Opening them: the citizen's own case (intake), a specialist's read (case), a notice (notify).
    _SERVICE + "GetKey": {INTAKE, CASE, NOTIFY},
    # A citizen erased before comes back with a new case of his own: intake decides that.
    _SERVICE + "ReopenSubject": {INTAKE},
    # A privacy officer's order through his tool, or through the case service; the case
    # service's retention job by itself.
    _SERVICE + "EraseCitizen": {OPERATOR, CASE},
    # Every service that caches keys forgets an erased citizen's key.
    _SERVICE + "WatchErasures": {INTAKE, CASE, NOTIFY},
    # KEK versions and counts, no personal data.
    _SERVICE + "GetKeyStatus": {OPERATOR},
    REFLECTION: {OPERATOR},
}
