"""How many pods each service may run, and how its pods are replaced on upgrade.

A service whose state is a SQLite file of one process (sla and notify always; case and escalation
on database.backend=sqlite; intake until its state is shared) runs a single pod that is replaced,
never surged, so two processes never work on one store. The refusals are in
test_values_validation.py.
"""

from __future__ import annotations

from typing import Any

from helmchart import EPHEMERAL, SERVICES, Release

ROLLING = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}

SHARED_INTAKE = {
    "databaseUrl": {"existingSecret": "casedesk-intake", "key": "database-url"},
    "masterKey": {"existingSecret": "casedesk-intake", "key": "master-key"},
    "persistence": {"enabled": True, "accessMode": "ReadWriteMany"},
}
POSTGRES = {
    "backend": "postgres",
    "postgres": {"host": "pg.example", "existingSecret": "casedesk-postgres"},
}


def test_single_pod_services_are_replaced_never_surged(minimal: Release, render: Any) -> None:
    # On their claims (the default) as StatefulSets, whose rolling update of a single pod deletes
    # it before creating its successor; on emptyDirs as Deployments, which would surge unless told
    # to recreate.
    for service in SERVICES:
        workload = minimal.workload(service)
        assert workload["kind"] == "StatefulSet", service
        assert workload["spec"]["replicas"] == 1, service
        assert workload["spec"]["updateStrategy"] == {"type": "RollingUpdate"}, service
    ephemeral: Release = render("minimal-values.yaml", values=EPHEMERAL)
    for service in SERVICES:
        workload = ephemeral.workload(service)
        assert workload["kind"] == "Deployment", service
        assert workload["spec"]["replicas"] == 1, service
        assert workload["spec"]["strategy"] == {"type": "Recreate"}, service


def test_services_with_shared_state_roll_without_downtime(production: Release) -> None:
    for service in ("intake", "case", "escalation"):
        assert production.workload(service)["spec"]["strategy"] == ROLLING, service


def test_intake_scales_out_once_its_state_is_shared(render: Any) -> None:
    intake = {"replicas": 3, **SHARED_INTAKE}
    released: Release = render("minimal-values.yaml", values={"services": {"intake": intake}})
    workload = released.workload("intake")
    assert workload["kind"] == "Deployment"
    assert workload["spec"]["replicas"] == 3
    assert workload["spec"]["strategy"] == ROLLING
    assert released.secret_of("intake", "CASEDESK_DATABASE_URL") == (
        "casedesk-intake",
        "database-url",
    )


def test_case_and_escalation_scale_out_on_postgres(render: Any) -> None:
    values = {
        "database": POSTGRES,
        "services": {"case": {"replicas": 4}, "escalation": {"replicas": 2}},
    }
    released: Release = render("minimal-values.yaml", values=values)
    for service, replicas in (("case", 4), ("escalation", 2)):
        assert released.workload(service)["spec"]["replicas"] == replicas
        assert released.workload(service)["spec"]["strategy"] == ROLLING
    assert released.value("escalation", "CASEDESK_ESCALATION_STORE") == "postgres"


def test_a_single_pod_service_may_be_stopped(render: Any) -> None:
    released: Release = render("minimal-values.yaml", values={"services": {"sla": {"replicas": 0}}})
    assert released.workload("sla")["spec"]["replicas"] == 0
