"""Fixtures of the replay's unit tests; event builders: `casedesk_replay_testing.synthetic`."""

from __future__ import annotations

import pytest

from casedesk_replay_testing.synthetic import Scenario, generate
from casedesk_replay_testing.synthetic.builders import CaseEvents


@pytest.fixture
def case() -> CaseEvents:
    return CaseEvents()


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    return generate(400, seed=11)
