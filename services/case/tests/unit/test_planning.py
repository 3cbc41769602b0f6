"""Planning a command: arguments checked, nothing read, decided or stored."""

from __future__ import annotations

import pytest

from casedesk_case.application.command import Command
from casedesk_case.domain.errors import InvalidCommand
from casedesk_case.domain.values import Status
from casedesk_case.testing import CaseApplication

from ..conftest import SPECIALIST, create, meta


def test_a_plan_is_a_command_and_stores_nothing(app: CaseApplication) -> None:
    case = create(app)
    command = app.plan(
        app.change_status, case.case_id, to_status=Status.IN_PROGRESS, reason="",
        meta=meta(SPECIALIST),
    )  # fmt: skip
    assert isinstance(command, Command)
    assert command.name == "ChangeStatus"
    assert str(command.case_id) == case.case_id
    assert app.get_case(case.case_id).version == case.version
    assert app.execute(command).status is Status.IN_PROGRESS


def test_planning_checks_the_arguments(app: CaseApplication) -> None:
    with pytest.raises(InvalidCommand, match="case_id"):
        app.plan(app.change_status, "not-a-uuid", to_status=Status.CLOSED, reason="", meta=meta())
    with pytest.raises(InvalidCommand, match="body"):
        app.plan(app.add_comment, create(app).case_id, body=" ", public=True, meta=meta())


def test_only_commands_of_the_application_are_planned(app: CaseApplication) -> None:
    with pytest.raises(TypeError):
        app.plan(app.get_case, "00000000-0000-0000-0000-000000000000")
