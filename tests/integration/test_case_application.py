"""The case application's own test suites, run again on PostgreSQL.

services/case/tests runs them on the in-memory and SQLite stores; here the same test functions get
an application on a real PostgreSQL, each in a fresh schema (fresh numbers, empty case index).
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from casedesk_case.testing import CaseApplication  # noqa: E402
from services.case.tests.unit import (  # noqa: E402
    test_application,
    test_case_index,
    test_concurrency,
)

# The suites' test functions, collected here as this module's own tests.
for _suite in (test_application, test_case_index):
    globals().update({n: f for n, f in vars(_suite).items() if n.startswith("test_")})
test_concurrent_commands_on_one_case_are_all_applied = (
    test_concurrency.test_concurrent_commands_on_one_case_are_all_applied
)
projector = test_case_index.projector


@pytest.fixture
def persistence_env(postgres_env: dict[str, str], postgres_dsn: str) -> Iterator[dict[str, str]]:
    schema = f"case_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    yield {
        **postgres_env,
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_SCHEMA": schema,
        "POSTGRES_POOL_SIZE": "4",
    }
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def app(persistence_env: dict[str, str]) -> Iterator[CaseApplication]:
    application = CaseApplication(env=persistence_env)
    yield application
    application.close()
