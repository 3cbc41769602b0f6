"""Who may call intake's RPCs under each TLS setting: the token check and the certificate check."""

from __future__ import annotations

import pytest
from intake_messages import frontend_entries

from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk_intake.domain.frontends import FrontendRegistry
from casedesk_intake.grpc_api.access import (
    FRONTEND_RPCS,
    INTAKE_SERVICE,
    VAULT_SERVICE,
    check_public_rpcs_are_guarded,
    intake_access,
)
from casedesk_intake.grpc_api.edge import FrontendEdge
from casedesk_runtime.grpc_authz import (
    PUBLIC,
    REFLECTION,
    Caller,
    is_allowed,
    validate_access_table,
)

SUBMIT = f"/{INTAKE_SERVICE}/SubmitCase"
OPEN = f"/{VAULT_SERVICE}/OpenAttachment"
REFLECT = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
HEALTH = "/grpc.health.v1.Health/Check"
NO_CERTIFICATE = Caller(name=None, spiffe_id=None, verified=False)


def _identity(name: str) -> Caller:
    return Caller(name=name, spiffe_id=f"spiffe://casedesk/{name}", verified=True)


def _guards() -> FrontendEdge:
    return FrontendEdge(
        FrontendRegistry(frontend_entries()), service=INTAKE_SERVICE, per_frontend=1, tokenless=1
    )


@pytest.mark.parametrize("client_auth", ["require", "optional"])
def test_both_tables_are_valid_and_public_only_where_the_token_is_checked(client_auth) -> None:
    table = intake_access(client_auth)
    validate_access_table(table, [INTAKE_SERVICE, VAULT_SERVICE])
    check_public_rpcs_are_guarded(table, _guards().guards)


def test_require_needs_the_frontend_certificate_for_frontend_rpcs() -> None:
    table = intake_access("require")
    assert is_allowed(table, SUBMIT, _identity("frontend"))
    assert not is_allowed(table, SUBMIT, _identity("case"))
    assert not is_allowed(table, SUBMIT, NO_CERTIFICATE)
    assert is_allowed(table, REFLECT, _identity("operator"))


def test_optional_leaves_frontend_rpcs_to_the_token_and_nothing_else() -> None:
    table = intake_access("optional")
    assert is_allowed(table, SUBMIT, NO_CERTIFICATE), "the edge's token check admits these"
    assert not is_allowed(table, REFLECT, NO_CERTIFICATE)
    assert is_allowed(table, HEALTH, NO_CERTIFICATE)


@pytest.mark.parametrize(
    "key", [REFLECTION, "/casedesk.intake.v1.IntakeAdmin/*", "/grpc.health.v1.Health/Check"]
)
def test_a_public_grant_the_token_does_not_guard_is_refused(key: str) -> None:
    table = {**intake_access("optional"), key: {PUBLIC}}
    with pytest.raises(ValueError, match="not guarded") as refused:
        check_public_rpcs_are_guarded(table, _guards().guards)
    assert key in str(refused.value)


@pytest.mark.parametrize("client_auth", ["require", "optional"])
def test_only_the_desk_opens_attachments_and_never_without_a_certificate(client_auth) -> None:
    table = intake_access(client_auth)
    assert is_allowed(table, OPEN, _identity("desk"))
    for other in ("frontend", "operator", "escalation", "case"):
        assert not is_allowed(table, OPEN, _identity(other)), other
    assert not is_allowed(table, OPEN, NO_CERTIFICATE)
    assert not _guards().guards(OPEN), "no frontend token applies to the desk's service"


@pytest.mark.parametrize("client_auth", ["require", "optional"])
def test_every_rpc_of_the_contract_is_named_for_the_frontends_alone(client_auth) -> None:
    """Each RPC is listed by name (one added to the contract stays closed until it is): the new
    ConfirmAnswer, RateAnswer and WatchMyCase too."""
    contract = set(intake_pb2.DESCRIPTOR.services_by_name["IntakeService"].methods_by_name)
    assert set(FRONTEND_RPCS) == contract
    assert {"ConfirmAnswer", "RateAnswer", "WatchMyCase"} <= contract
    table = intake_access(client_auth)
    for rpc in contract:
        method = f"/{INTAKE_SERVICE}/{rpc}"
        if client_auth == "require":
            assert is_allowed(table, method, _identity("frontend")), rpc
            for other in ("desk", "operator", "case", "escalation"):
                assert not is_allowed(table, method, _identity(other)), (rpc, other)
        else:
            assert is_allowed(table, method, NO_CERTIFICATE), rpc
            assert _guards().guards(method), f"{rpc} is behind the frontend token"
    assert not is_allowed(table, f"/{INTAKE_SERVICE}/Unlisted", _identity("frontend"))
