"""`python -m casedesk_case.cli.outbox_status` reads the relay's lag from the store, read only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from casedesk_case.adapters.outbox.relay import OutboxRelay
from casedesk_case.cli import outbox_status
from casedesk_case.testing import CaseApplication

from ..conftest import create
from .test_relay import MemoryBroker, publisher


async def test_status_counts_case_events_not_yet_acknowledged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "c.db")}
    app = CaseApplication(env=env)
    try:
        relay = OutboxRelay(app, publisher(MemoryBroker()))
        create(app)  # Created + Assigned
        while await relay.publish_batch():
            pass
        published = outbox_status.read_status("case.events.v1", env)
        assert published.unpublished == 0 and published.position > 0
        create(app)
        create(app)  # four case events behind the relay now (and receipts, which do not count)
    finally:
        app.close()

    behind = outbox_status.read_status("case.events.v1", env)
    assert behind.unpublished == 4 and behind.position == published.position
    assert behind.oldest_unpublished_age_s is not None and behind.oldest_unpublished_age_s < 60
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert outbox_status.main(["--json"]) == 0
    assert json.loads(capsys.readouterr().out)["unpublished"] == 4
    assert outbox_status.main([]) == 0
    assert "4 case events not yet on case.events.v1" in capsys.readouterr().out


def test_an_unreadable_store_is_reported_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PERSISTENCE_MODULE", "eventsourcing.sqlite")
    monkeypatch.setenv("SQLITE_DBNAME", str(tmp_path / "missing" / "c.db"))
    assert outbox_status.main([]) == 2
    assert "outbox status unavailable" in capsys.readouterr().err
