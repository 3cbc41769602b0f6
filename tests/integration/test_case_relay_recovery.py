"""kill -9 of the case service between commit and publish loses no event on case.events.v1.

The events stored before the crash must all reach Kafka after a restart; a duplicate may appear
(the last batch is re-published when its position was not recorded) but only with the same event
id and payload, which consumers deduplicate.
"""

from __future__ import annotations

import asyncio
from typing import Any

from test_case_service import (  # the sibling module's helpers (tests/integration is on sys.path)
    SPECIALIST,
    case_env,
    change,
    consume_events,
    context,
    create_request,
    history,
    stub_factory,
)

from casedesk.case.v1 import case_service_pb2 as pb

__all__ = ["case_env", "stub_factory"]  # fixtures used here, defined beside the service test


def assert_all_published_once_or_identically(stored: list[Any], published: list[Any]) -> None:
    by_id: dict[str, bytes] = {}
    for _, event in published:
        payload = event.SerializeToString(deterministic=True)
        assert by_id.setdefault(event.meta.event_id, payload) == payload, "same id, other event"
    missing = {e.meta.event_id for e in stored} - set(by_id)
    assert not missing, f"{len(missing)} stored events never reached Kafka"
    assert set(by_id) == {e.meta.event_id for e in stored}


async def work_on_cases(stub: Any, count: int, case_ids: list[str] | None = None) -> list[str]:
    case_ids = [] if case_ids is None else case_ids
    for _ in range(count):
        case = await stub.CreateCase(create_request())
        await stub.ChangeStatus(change(case.case_id, pb.TAKE_IN_WORK))
        await stub.AddComment(
            pb.AddCommentRequest(
                context=context(SPECIALIST, "l1-001"),
                case_id=case.case_id,
                body="ok",
                public=True,  # type: ignore[arg-type]
            )
        )
        case_ids.append(case.case_id)
    return case_ids


async def test_events_committed_before_a_kill_reach_kafka_after_restart(
    services: Any, case_env: dict[str, str], kafka_bootstrap: str, stub_factory: Any
) -> None:
    # The relay waits a minute before its first publish: every command commits, none publishes.
    service = services("casedesk_case", {**case_env, "CASEDESK_RELAY_START_DELAY_S": "60"})
    stub = stub_factory(service.address)
    case_ids = await work_on_cases(stub, 5)
    stored = [e for case_id in case_ids for e in await history(stub, case_id)]
    assert not await consume_events(kafka_bootstrap, set(case_ids), 1, timeout=2)

    service.kill()
    service.env["CASEDESK_RELAY_START_DELAY_S"] = "0"
    service.start()

    published = await consume_events(kafka_bootstrap, set(case_ids), len(stored))
    assert_all_published_once_or_identically(stored, published)
    for case_id in case_ids:
        versions = [e.meta.case_version for _, e in published if e.meta.case_id == case_id]
        assert versions == sorted(versions)


async def test_kill_while_publishing_under_load_loses_nothing(
    services: Any, case_env: dict[str, str], kafka_bootstrap: str, stub_factory: Any
) -> None:
    service = services("casedesk_case", {**case_env, "CASEDESK_RELAY_BATCH_SIZE": "7"})
    stub = stub_factory(service.address)
    finished: list[str] = []
    writers = [asyncio.create_task(work_on_cases(stub, 25, finished)) for _ in range(4)]
    for _ in range(300):  # until commands and publishing are both in full swing
        if len(finished) >= 12:
            break
        await asyncio.sleep(0.05)
    service.kill()
    await asyncio.gather(*writers, return_exceptions=True)
    survivors = list(finished)

    service.start()
    stub = stub_factory(service.address)
    # Cases whose commands were cut short are still in the store: find them via the index.
    listing = await stub.ListCases(pb.ListCasesRequest(citizen_login="ivanov.ii", page_size=500))
    for _ in range(50):
        if len(listing.cases) >= len(survivors):
            break
        await asyncio.sleep(0.1)
        listing = await stub.ListCases(
            pb.ListCasesRequest(citizen_login="ivanov.ii", page_size=500)
        )
    case_ids = {c.case_id for c in listing.cases} | set(survivors)
    stored = [e for case_id in case_ids for e in await history(stub, case_id)]
    assert len(stored) >= 3 * len(survivors) >= 36
    published = await consume_events(kafka_bootstrap, case_ids, len(stored), timeout=60)
    assert_all_published_once_or_identically(stored, published)
