"""Creates of concurrent submissions travel to the case service together (CreateCases)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import grpc
import pytest
from intake_messages import metadata, submission
from opentelemetry.sdk.trace import TracerProvider

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.case.v1 import case_service_pb2_grpc as case_grpc
from casedesk_intake.adapters.case_client import CaseClient
from casedesk_intake.domain.cases import Actor, Case, Command, NewCase
from casedesk_intake.domain.citizens import Citizen
from casedesk_intake.domain.errors import CaseServiceError, IdempotencyKeyReused, InvalidRequest
from casedesk_intake.domain.field_rules import TextLimits
from casedesk_intake.domain.submissions import CaseContent
from casedesk_intake.testing.case_stand_in import CaseServiceStandIn
from casedesk_vocabulary.enums import ActorKind, CaseType, Category, Channel


def submissions(count: int) -> list:
    requests = []
    for n in range(count):
        request = submission("PERSONAL_ACCOUNT")
        request.idempotency_key = f"batch-{n}"
        request.content.subject = f"Обращение {n}"
        requests.append(request)
    return requests


async def test_concurrent_submissions_share_calls_and_keep_their_own_cases(intake) -> None:
    replies = await asyncio.gather(
        *(
            intake.stub.SubmitCase(request, metadata=metadata("personal-account"))
            for request in submissions(20)
        )
    )
    assert len({reply.number for reply in replies}) == 20
    subjects = {intake.cases.by_number(reply.number).content.subject for reply in replies}
    assert subjects == {f"Обращение {n}" for n in range(20)}
    assert sum(intake.cases.create_batches) == 20
    assert max(intake.cases.create_batches) > 1  # some went together


async def test_a_retry_finds_the_case_its_batch_created(intake) -> None:
    request = submissions(1)[0]
    first = await intake.stub.SubmitCase(request, metadata=metadata("personal-account"))
    again = await intake.stub.SubmitCase(request, metadata=metadata("personal-account"))
    assert again == first
    assert len(intake.cases.cases) == 1


@pytest.mark.parametrize("settings_overrides", [{"case_creates_per_call": 1}])
async def test_batching_can_be_switched_off(intake) -> None:
    replies = await asyncio.gather(
        *(
            intake.stub.SubmitCase(request, metadata=metadata("personal-account"))
            for request in submissions(5)
        )
    )
    assert len({reply.number for reply in replies}) == 5
    assert intake.cases.create_batches == []


async def test_an_older_case_service_gets_single_calls(intake) -> None:
    intake.cases.batching = False
    replies = await asyncio.gather(
        *(
            intake.stub.SubmitCase(request, metadata=metadata("personal-account"))
            for request in submissions(5)
        )
    )
    assert len({reply.number for reply in replies}) == 5
    assert len(intake.cases.of_type(case_pb2.CreateCaseRequest)) == 5


@pytest.fixture
async def stand_in_client():
    cases = CaseServiceStandIn()
    server = grpc.aio.server()
    case_grpc.add_CaseServiceServicer_to_server(cases, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    client = CaseClient(channel)
    yield cases, client
    await client.close()
    await channel.close()
    await server.stop(0)


def create(key: str, subject: str) -> NewCase:
    return NewCase(
        command=Command(key, Actor(ActorKind.CITIZEN, "ivanov.ii")),
        channel=Channel.PORTAL_CHAT,
        case_type=CaseType.TECHNICAL,
        category=Category.OTHER,
        queue="",
        citizen=Citizen(),
        content=CaseContent(subject=subject),
        provenance=None,
        attachments=(),
    )


async def test_a_refused_item_fails_only_its_own_caller(stand_in_client) -> None:
    cases, client = stand_in_client
    await client.create_case(create("used", "first"))
    refused, created = await asyncio.gather(
        client.create_case(create("used", "another subject")),
        client.create_case(create("fresh", "second")),
        return_exceptions=True,
    )
    # The case service's refusal of a reused key reaches the frontend as intake's own.
    assert isinstance(refused, IdempotencyKeyReused)
    assert isinstance(created, Case) and created.subject == "second"
    assert cases.create_batches[-1] == 2


async def test_each_create_carries_its_callers_trace(stand_in_client) -> None:
    cases, client = stand_in_client
    tracer = TracerProvider().get_tracer(__name__)

    async def traced_create(n: int) -> str:
        with tracer.start_as_current_span("frontend call") as span:
            await client.create_case(create(f"k{n}", f"subject {n}"))
            return format(span.get_span_context().trace_id, "032x")

    trace_ids = await asyncio.gather(*(traced_create(n) for n in range(3)))
    sent = {r.content.subject: r for r in cases.of_type(case_pb2.CreateCaseRequest)}
    assert cases.create_batches == [3]
    for n, trace_id in enumerate(trace_ids):
        assert sent[f"subject {n}"].context.traceparent.split("-")[1] == trace_id


async def test_a_batch_the_case_service_cannot_take_fails_each_caller(stand_in_client) -> None:
    cases, client = stand_in_client
    cases.unavailable_next = 10  # more than the client's retries
    failures = await asyncio.gather(
        client.create_case(create("a", "s")),
        client.create_case(create("b", "s")),
        return_exceptions=True,
    )
    assert all(
        isinstance(f, CaseServiceError) and f.code == grpc.StatusCode.UNAVAILABLE for f in failures
    )
    assert cases.cases == {}


# gRPC's default receive limit, which the stand-in's server keeps (as the case service does) and
# so does the client's channel for the replies.
GRPC_DEFAULT_LIMIT = 4 * 1024 * 1024


def long_create(key: str, characters: int) -> NewCase:
    """A case whose description is `characters` Cyrillic letters (two bytes each in UTF-8)."""
    base = create(key, f"long {key}")
    return replace(base, content=replace(base.content, description="ж" * characters))


async def test_long_creates_are_split_under_the_receive_limit(stand_in_client) -> None:
    cases, client = stand_in_client
    # 64 creates of ~100 KB each: 6.4 MB together, too much for one call.
    created = await asyncio.gather(
        *(client.create_case(long_create(f"long-{n}", 50_000)) for n in range(64))
    )
    assert len({case.number for case in created}) == 64
    assert sum(cases.create_batches) == 64 and len(cases.create_batches) > 1
    sizes = [
        case_pb2.CreateCasesRequest(cases=[r]).ByteSize()
        for r in cases.of_type(case_pb2.CreateCaseRequest)
    ]
    assert max(sizes) < GRPC_DEFAULT_LIMIT
    assert max(cases.create_batches) * 100_000 < GRPC_DEFAULT_LIMIT


async def test_a_create_too_long_for_any_call_is_refused_alone_naming_its_field(
    stand_in_client,
) -> None:
    cases, client = stand_in_client
    outcomes = await asyncio.gather(
        client.create_case(create("before", "short")),
        client.create_case(long_create("huge", 2_500_000)),  # 5 MB: no call could carry it
        client.create_case(create("after", "short too")),
        return_exceptions=True,
    )
    before, huge, after = outcomes
    assert isinstance(huge, InvalidRequest)
    assert [field for field, _ in huge.violations] == ["content.description"]
    assert "bytes" in str(huge)
    assert isinstance(before, Case) and isinstance(after, Case)
    assert {c.content.subject for c in cases.cases.values()} == {"short", "short too"}


@pytest.mark.parametrize("settings_overrides", [{"frontend_max_concurrent_calls": 100}])
async def test_sixty_four_citizens_with_the_longest_texts_are_all_registered(intake) -> None:
    # Descriptions and steps at their longest, in characters of four bytes each (letters of the
    # mathematical alphabets, emoji): about 100 KB a case, 6.4 MB for a full batch of creates.
    first, *rest = submissions(65)
    for request in (first, *rest):
        request.content.description = "𝔸" * TextLimits().description
        request.content.steps_taken = "😀" * TextLimits().steps_taken
    # The first create is held up by three refusals (0.75 s of the client's backoff) while the
    # other 64 gather behind it: a full batch, as under load.
    intake.cases.unavailable_next = 3
    calls = [intake.stub.SubmitCase(first, metadata=metadata("personal-account"))]
    await asyncio.sleep(0.1)
    calls += [intake.stub.SubmitCase(r, metadata=metadata("personal-account")) for r in rest]
    replies = await asyncio.gather(*calls)
    assert len({reply.number for reply in replies}) == 65
    assert sum(intake.cases.create_batches) == 65
