"""WatchErasures over gRPC: resumable after the last position received, from now on for a client
with nothing cached, a position the journal never reached refused, and every stream ended at
once when the process stops (its client watches again elsewhere)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc

from casedesk.keys.v1 import key_service_pb2 as pb
from casedesk_runtime.grpc_errors import field_violations
from casedesk_runtime.testing.identity_provider import FakeIdentityProvider

from .conftest import (
    RunningKeyService,
    Token,
    keys_settings,
    running_key_service,
    service_settings,
)


async def erase(service: RunningKeyService, count: int) -> list[str]:
    subjects = [os.urandom(16).hex() for _ in range(count)]
    request = pb.EraseCitizenRequest(subjects=subjects, reason="retention:closed-3y")
    await service.stub_as("case").EraseCitizen(request)
    return subjects


async def next_batch(stream: AsyncIterator[pb.ErasureBatch]) -> pb.ErasureBatch:
    async with asyncio.timeout(5):
        return await anext(aiter(stream))


async def test_a_watch_resumes_after_the_last_position_received(
    key_service: RunningKeyService,
) -> None:
    first, second = await erase(key_service, 2)
    case = key_service.stub_as("case")
    everything = await next_batch(case.WatchErasures(pb.WatchErasuresRequest()))
    assert [(e.position, e.subject) for e in everything.erasures] == [(1, first), (2, second)]
    assert everything.position == 2

    stream = case.WatchErasures(pb.WatchErasuresRequest(after_position=1))
    resumed = await next_batch(stream)
    assert [e.subject for e in resumed.erasures] == [second]
    (third,) = await erase(key_service, 1)
    live = await next_batch(stream)
    assert ([e.subject for e in live.erasures], live.position) == ([third], 3)
    stream.cancel()


async def test_from_now_tells_where_the_journal_is(key_service: RunningKeyService) -> None:
    await erase(key_service, 3)
    stream = key_service.stub_as("intake").WatchErasures(pb.WatchErasuresRequest(from_now=True))
    first = await next_batch(stream)
    assert (list(first.erasures), first.position) == ([], 3)
    stream.cancel()


async def test_a_position_the_journal_never_reached_is_refused(
    key_service: RunningKeyService,
) -> None:
    stream = key_service.stub_as("notify").WatchErasures(pb.WatchErasuresRequest(after_position=5))
    try:
        await next_batch(stream)
    except grpc.aio.AioRpcError as error:
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_violations(error) == [
            (
                "after_position",
                "after_position 5 is ahead of the erasure journal (newest 0): watch from_now, "
                "and drop every cached key",
            )
        ]
    else:
        raise AssertionError("the watch was not refused")


async def test_stopping_the_process_ends_its_streams_at_once(
    tmp_path: Path, softhsm_token: Token, pki_dir: Path, idp: FakeIdentityProvider
) -> None:
    settings = service_settings(pki_dir, idp).model_copy(update={"shutdown_grace_s": 20.0})
    keys = keys_settings(tmp_path, softhsm_token)
    async with running_key_service(settings, keys, pki_dir) as service:
        stream = service.stub_as("case").WatchErasures(pb.WatchErasuresRequest(from_now=True))
        await next_batch(stream)
        started = time.monotonic()
        stopping = asyncio.create_task(service.process.stop())
        try:
            await next_batch(stream)
        except grpc.aio.AioRpcError as error:
            assert (error.code(), error.details()) == (
                grpc.StatusCode.UNAVAILABLE,
                "the key service is stopping: watch again",
            )
        else:
            raise AssertionError("the stream went on")
        await stopping
        assert time.monotonic() - started < 5  # not the 20 s of grace
