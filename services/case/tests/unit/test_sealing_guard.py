"""Personal data, once sealed, stays sealed (application/sealing_guard.py): a start with
CASEDESK_SEAL_PERSONAL_DATA off on a store that holds sealed data is refused, by the service's
own process too (exit 2, the setting named)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from casedesk_case.application.sealing_guard import SealingTurnedOff, check_sealing
from casedesk_case.testing import CaseApplication

FIRST = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def test_a_store_once_sealed_refuses_a_start_with_sealing_off(
    persistence_env: dict[str, str],
) -> None:
    app = CaseApplication(env=persistence_env)
    try:
        check_sealing(app.index, False, FIRST)  # never sealed: starts as before
        check_sealing(app.index, True, FIRST)
        check_sealing(app.index, True, FIRST + timedelta(days=1))  # the first mark stays
        with pytest.raises(SealingTurnedOff) as refused:
            check_sealing(app.index, False, FIRST + timedelta(days=2))
    finally:
        app.close()
    assert refused.value.since == FIRST
    assert "CASEDESK_SEAL_PERSONAL_DATA=true" in str(refused.value)


def test_the_mark_outlives_the_process(tmp_path: Path) -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "c.db")}
    first = CaseApplication(env=env)
    check_sealing(first.index, True, FIRST)
    first.close()
    again = CaseApplication(env=env)
    try:
        assert again.index.sealed_since() == FIRST
    finally:
        again.close()


def test_the_service_exits_2_naming_the_setting(tmp_path: Path) -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "c.db")}
    marked = CaseApplication(env=env)
    check_sealing(marked.index, True, FIRST)
    marked.close()
    started = subprocess.run(
        [sys.executable, "-m", "casedesk_case"],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("CASEDESK_")},
            **env,
            "CASEDESK_GRPC_PORT": "0",
            "CASEDESK_GRPC_INSECURE_DEV": "true",
            "CASEDESK_RELAY_ENABLED": "false",
            "CASEDESK_CASE_TIMELINE_ENABLED": "false",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 2, started.stderr
    assert "CASEDESK_SEAL_PERSONAL_DATA is off" in started.stderr
    assert "sealed since 2026-12-01T09:30:00+00:00" in started.stderr
