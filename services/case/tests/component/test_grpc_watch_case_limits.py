"""WatchCase's bounds through a real grpc.aio server: how many streams one process serves at once,
and how long a stream lasts (idle, at most) before it ends cleanly for the client to resume."""

from __future__ import annotations

import asyncio
import functools
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk_case.grpc_api.servicer import CaseServicer
from casedesk_case.grpc_api.stream_limits import WatchCaseLimits
from casedesk_case.settings import CaseSettings
from casedesk_runtime.testing.identity_provider import FakeIdentityProvider

from .conftest import RunningService, people_of, running_case_service
from .messages import reply
from .test_grpc_people import as_person, new_case, refused, token_of


@pytest.fixture
def limits() -> WatchCaseLimits:
    return WatchCaseLimits(max_streams=2, idle_s=60, max_s=600)


@pytest.fixture
async def service(
    tmp_path: Path,
    idp: FakeIdentityProvider,
    limits: WatchCaseLimits,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[RunningService]:
    """The in-process service of the component tests, with WatchCase bounds of the test's own."""
    # The shared builder takes no WatchCase limits: its servicer class gets them bound here.
    builder = sys.modules[running_case_service.__module__]
    monkeypatch.setattr(builder, "CaseServicer", functools.partial(CaseServicer, watch_case=limits))
    settings = CaseSettings(grpc_port=0, grpc_insecure_dev=True)
    async with running_case_service(tmp_path, settings, people_of(idp)) as running:
        yield running


def watch(service: RunningService, case_id: str, after: int = 0, **kwargs: Any) -> Any:
    return service.stub.WatchCase(
        pb.WatchCaseRequest(case_id=case_id, after_version=after), **kwargs
    )


async def versions_until_end(stream: Any, timeout_s: float = 10) -> list[int]:
    """The versions a stream sends until it ends; it must end with OK."""
    got = []
    async with asyncio.timeout(timeout_s):
        async for event in stream:
            got.append(event.meta.case_version)
    assert await stream.code() == grpc.StatusCode.OK
    return got


async def test_streams_beyond_the_bound_are_resource_exhausted_until_one_closes(
    service: RunningService, idp: FakeIdentityProvider
) -> None:
    case_id = await new_case(service)
    ivanova = as_person(token_of(idp, "l1.ivanova"))
    streams = [watch(service, case_id, metadata=ivanova) for _ in range(2)]
    for stream in streams:  # both are served
        assert (await asyncio.wait_for(stream.read(), 10)).meta.case_version == 1

    error = await refused(watch(service, case_id, metadata=ivanova).read())
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.details() == (
        "the case service already serves 2 case streams (WatchCase), its limit: retry later"
    )
    streams[0].cancel()
    for _ in range(50):  # the server notices the cancellation
        try:
            retry = watch(service, case_id, metadata=ivanova)
            assert (await asyncio.wait_for(retry.read(), 10)).meta.case_version == 1
            break
        except grpc.aio.AioRpcError as refused_again:
            assert refused_again.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            await asyncio.sleep(0.1)
    else:
        raise AssertionError("a closed stream never gave its place back")
    # A refused stream read nothing: only the streams served are in the access journal.
    auditor = as_person(token_of(idp, "audit.kuznetsov"))
    page = await service.stub.ListAccessRecords(
        pb.ListAccessRecordsRequest(case_id=case_id), metadata=auditor
    )
    assert [r.rpc for r in page.records] == ["WatchCase"] * 3


async def test_a_refused_watch_gives_its_place_back(service: RunningService) -> None:
    missing = "7b1e7c4e-2a43-4a55-9e3e-1f0a9b5c4d21"
    for _ in range(3):  # more than the bound: each NOT_FOUND must have left its place
        error = await refused(watch(service, missing).read())
        assert error.code() == grpc.StatusCode.NOT_FOUND
    case_id = await new_case(service)
    assert (await asyncio.wait_for(watch(service, case_id).read(), 10)).meta.case_version == 1


@pytest.mark.parametrize("limits", [WatchCaseLimits(max_streams=2, idle_s=0.5, max_s=600)])
async def test_an_idle_stream_ends_cleanly_and_resumes_after_its_last_version(
    service: RunningService,
) -> None:
    case_id = await new_case(service)
    started = time.monotonic()
    first = await versions_until_end(watch(service, case_id))
    lasted = time.monotonic() - started
    await service.stub.AddComment(reply(case_id, "Пока стрим закрыт"))

    resumed = watch(service, case_id, after=first[-1])
    next_event = await asyncio.wait_for(resumed.read(), 10)
    resumed.cancel()

    assert 0.5 <= lasted < 5
    assert first == list(range(1, first[-1] + 1))  # the case's events so far, then the end
    assert next_event.meta.case_version == first[-1] + 1  # nothing missed while closed


@pytest.mark.parametrize("limits", [WatchCaseLimits(max_streams=2, idle_s=60, max_s=1.0)])
async def test_a_busy_stream_ends_cleanly_at_its_maximum_lifetime(
    service: RunningService,
) -> None:
    case_id = await new_case(service)
    stream = watch(service, case_id)
    started = time.monotonic()

    async def comment_meanwhile() -> None:
        for n in range(15):  # a change every 0.2 s keeps it from ever being idle
            await service.stub.AddComment(reply(case_id, f"Комментарий {n}"))
            await asyncio.sleep(0.2)

    commenting = asyncio.create_task(comment_meanwhile())
    sent = await versions_until_end(stream)
    lasted = time.monotonic() - started
    await commenting
    rest = watch(service, case_id, after=sent[-1])
    final = (await service.stub.GetCase(pb.GetCaseRequest(case_id=case_id))).version
    resumed = [(await asyncio.wait_for(rest.read(), 10)).meta.case_version
               for _ in range(final - sent[-1])]  # fmt: skip
    rest.cancel()

    assert 1.0 <= lasted < 3
    assert sent[-1] < final  # it ended while the case was still changing
    assert sent + resumed == list(range(1, final + 1))  # resumed without a gap or a repeat
