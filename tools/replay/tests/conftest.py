"""Fixtures of the replay's unit tests; event builders live in `casedesk_replay.synthetic`."""

from __future__ import annotations

import pytest

from casedesk_replay.synthetic import Scenario, generate
from casedesk_replay.synthetic.builders import CaseEvents


@pytest.fixture
def case() -> CaseEvents:
    return CaseEvents()


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    return generate(400, seed=11)
