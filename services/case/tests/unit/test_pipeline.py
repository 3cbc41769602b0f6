"""The command pipeline: batches that settle every command as running it alone would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from casedesk_case.application.pipeline import CommandPipeline
from casedesk_case.domain.errors import IdempotencyKeyReused, PreconditionFailed, VersionConflict
from casedesk_case.domain.values import CaseContent, CaseType, Category, Channel, Status
from casedesk_case.testing import CaseApplication

from ..conftest import SPECIALIST, citizen, meta


@pytest.fixture
async def pipeline(app: CaseApplication) -> AsyncIterator[CommandPipeline]:
    executor = ThreadPoolExecutor(4)
    pipeline = CommandPipeline(app, executor)
    yield pipeline
    pipeline.stop()
    executor.shutdown()


async def test_a_burst_on_one_case_is_applied_in_full(
    app: CaseApplication, pipeline: CommandPipeline
) -> None:
    case = await pipeline.run(app.create_case, **_arguments())
    await pipeline.run(
        app.change_status, case.case_id, to_status=Status.IN_PROGRESS, reason="",
        meta=meta(SPECIALIST),
    )  # fmt: skip
    views = await asyncio.gather(*(
        pipeline.run(app.add_comment, case.case_id, body=f"#{n}", public=True,
                     meta=meta(SPECIALIST))
        for n in range(40)
    ))  # fmt: skip
    # Each comment saw the one before it: versions are consecutive, none lost.
    assert sorted(v.version for v in views) == list(range(case.version + 2, case.version + 42))
    stored = app.get_case(case.case_id)
    assert sorted(c.body for c in stored.comments) == sorted(f"#{n}" for n in range(40))
    # The view returned carries the conversation as it was after that command.
    last = max(views, key=lambda v: v.version)
    assert len(last.comments) == 40


async def test_many_new_cases_get_distinct_numbers(
    app: CaseApplication, pipeline: CommandPipeline
) -> None:
    views = await asyncio.gather(*(pipeline.run(app.create_case, **_arguments())
                                   for _ in range(120)))  # fmt: skip
    assert len({v.number for v in views}) == 120
    assert all(app.get_case(v.case_id).number == v.number for v in views)


async def test_a_refusal_names_the_rule(app: CaseApplication, pipeline: CommandPipeline) -> None:
    case = await pipeline.run(app.create_case, **_arguments())
    with pytest.raises(PreconditionFailed):
        await pipeline.run(
            app.change_status, case.case_id, to_status=Status.CLOSED, reason="",
            meta=meta(SPECIALIST),
        )  # fmt: skip
    # The refused command left the case as it was.
    assert app.get_case(case.case_id).version == case.version


async def test_a_retried_command_returns_the_original_result(
    app: CaseApplication, pipeline: CommandPipeline
) -> None:
    arguments = _arguments(key="create-1")
    first = await pipeline.run(app.create_case, **arguments)
    again = await pipeline.run(app.create_case, **arguments)
    assert again == first
    change = {"to_status": Status.IN_PROGRESS, "reason": "", "meta": meta(SPECIALIST, "take-1")}
    taken = await pipeline.run(app.change_status, first.case_id, **change)
    assert await pipeline.run(app.change_status, first.case_id, **change) == taken
    with pytest.raises(IdempotencyKeyReused):
        await pipeline.run(
            app.change_status, first.case_id, to_status=Status.WAITING_FOR_CITIZEN,
            reason="", meta=meta(SPECIALIST, "take-1"),
        )  # fmt: skip


async def test_expected_version_is_checked(app: CaseApplication, pipeline: CommandPipeline) -> None:
    case = await pipeline.run(app.create_case, **_arguments())
    with pytest.raises(VersionConflict):
        await pipeline.run(
            app.change_status, case.case_id, to_status=Status.IN_PROGRESS, reason="",
            meta=meta(SPECIALIST, expected=case.version + 5),
        )  # fmt: skip
    moved = await pipeline.run(
        app.change_status, case.case_id, to_status=Status.IN_PROGRESS, reason="",
        meta=meta(SPECIALIST, expected=case.version),
    )  # fmt: skip
    assert moved.version == case.version + 1


async def test_a_case_changed_by_another_replica_is_decided_again(tmp_path: Path) -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "c.db")}
    here, elsewhere = CaseApplication(env=env), CaseApplication(env=env)
    executor = ThreadPoolExecutor(2)
    pipeline = CommandPipeline(here, executor)
    try:
        case = await pipeline.run(here.create_case, **_arguments())  # cached here
        elsewhere.change_status(
            case.case_id, to_status=Status.IN_PROGRESS, reason="", meta=meta(SPECIALIST)
        )
        # Decided first on the stale cached case (REGISTERED), stored on the real one.
        view = await pipeline.run(
            here.add_comment, case.case_id, body="ответ", public=True, meta=meta(SPECIALIST)
        )
        assert view.version == case.version + 2
        assert view.status is Status.IN_PROGRESS
        # A command the stale case would refuse is decided on the stored state too.
        waiting = await pipeline.run(
            here.change_status, case.case_id, to_status=Status.WAITING_FOR_CITIZEN,
            reason="", meta=meta(SPECIALIST),
        )  # fmt: skip
        assert waiting.status is Status.WAITING_FOR_CITIZEN
    finally:
        pipeline.stop()
        executor.shutdown()
        here.close()
        elsewhere.close()


def _arguments(key: str = "") -> dict[str, object]:
    return {
        "channel": Channel.EMAIL,
        "case_type": CaseType.TECHNICAL,
        "category": Category.TECHNICAL_FAULT,
        "citizen": citizen(),
        "content": CaseContent(subject="Не приходит СМС-код", description="Жду 10 минут"),
        "meta": meta(key=key),
    }
