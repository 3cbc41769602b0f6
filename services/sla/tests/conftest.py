"""Fixtures of the SLA unit and component tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# --import-mode=importlib leaves sys.path alone; the builders module sits beside this file.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from sla_builders import T0  # noqa: E402

from casedesk_sla.domain import PolicyRegistry, SlaBook  # noqa: E402
from casedesk_sla.testing import ManualClock  # noqa: E402


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def seconds_book() -> SlaBook:
    """A book under the test policy: first response 4 s, resolution 8 s, wall clock."""
    return SlaBook(PolicyRegistry("test-seconds"))


@pytest.fixture
def regulation_book() -> SlaBook:
    return SlaBook(PolicyRegistry("2023.1"))
