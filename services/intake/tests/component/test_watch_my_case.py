"""WatchMyCase: the citizen's own case now, then after every change he may see (the chat shows the
answer live), resumable, bounded per frontend and in time (issue 19, item 1)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import grpc
import pytest
from google.rpc import status_pb2
from grpc_status import rpc_status
from intake_messages import (
    PORTAL_CLIENT,
    as_operator,
    frontend_only,
    metadata,
    portal,
    submission,
    with_code,
)
from mail_and_sms import MailSink, code_in

from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2

CHAT = "portal-chat"
MAIL = "mail-gateway"
SETTINGS = {"watch_my_case_idle_s": 30.0, "watch_my_case_max_s": 60.0}


@pytest.fixture
def mail() -> Iterator[MailSink]:
    sink = MailSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def settings_overrides(mail: MailSink) -> dict[str, object]:
    return {**SETTINGS, "smtp_host": "127.0.0.1", "smtp_port": mail.port}


async def _chat_case(intake) -> str:  # type: ignore[no-untyped-def]
    return (await intake.stub.SubmitCase(submission("PORTAL_CHAT"), metadata=metadata(CHAT))).number


class Watch:
    """A WatchMyCase call, read with timeouts that do not cancel it (a read cancelled by a
    timeout would cancel the whole call): a read that timed out is taken up by the next one."""

    def __init__(self, call) -> None:  # type: ignore[no-untyped-def]
        self.call = call
        self._reading: asyncio.Future | None = None

    async def _read(self, timeout: float):  # type: ignore[no-untyped-def]
        if self._reading is None:
            self._reading = asyncio.ensure_future(self.call.read())
        message = await asyncio.wait_for(asyncio.shield(self._reading), timeout)
        self._reading = None
        return message

    async def take(self, timeout: float = 5.0) -> intake_pb2.CitizenCaseChange:
        change = await self._read(timeout)
        assert change is not grpc.aio.EOF, "the stream ended"
        return change

    async def nothing_within(self, seconds: float) -> None:
        with pytest.raises(TimeoutError):
            await self._read(seconds)

    async def ended(self, timeout: float = 5.0) -> grpc.StatusCode:
        """How the stream ended (nothing more may come before)."""
        try:
            leftover = await self._read(timeout)
        except grpc.aio.AioRpcError as error:
            return error.code()
        assert leftover is grpc.aio.EOF, f"expected the end, got {leftover}"
        return await self.call.code()

    def cancel(self) -> None:
        self.call.cancel()


def _watch(intake, number: str, after: int = 0, sent: tuple = ()) -> Watch:  # type: ignore[no-untyped-def]
    request = intake_pb2.WatchMyCaseRequest(case_number=number, after_version=after)
    return Watch(intake.stub.WatchMyCase(request, metadata=sent or metadata(CHAT)))


async def test_the_chat_sees_the_case_then_the_answer_but_never_an_internal_note(intake) -> None:
    number = await _chat_case(intake)
    stream = _watch(intake, number)
    first = await stream.take()
    assert (first.case.number, first.case.status, first.version) == (
        number,
        types_pb2.REGISTERED,
        1,
    )
    intake.cases.reply_as_specialist(number, "внутренняя заметка: проверить логи", public=False)
    intake.cases.assign(number, "l1.petrova")
    await stream.nothing_within(0.5)
    intake.cases.reply_as_specialist(number, "Сбросьте пароль по ссылке")
    reply = await stream.take()
    assert [(c.body, c.from_support) for c in reply.case.comments] == [
        ("Сбросьте пароль по ссылке", True)
    ]
    assert reply.version == intake.cases.by_number(number).version == 4
    intake.cases.set_status(number, types_pb2.ANSWER_READY)
    ready = await stream.take()
    assert (ready.case.status_label, ready.case.can_rate, ready.version) == ("Ответ готов", True, 5)
    assert all("заметка" not in c.body for c in ready.case.comments)
    stream.cancel()


async def test_the_citizens_own_confirmation_and_rating_come_back_on_his_stream(intake) -> None:
    number = await _chat_case(intake)
    intake.cases.set_status(number, types_pb2.ANSWER_READY)
    stream = _watch(intake, number)
    assert (await stream.take()).case.status == types_pb2.ANSWER_READY
    rate = intake_pb2.RateAnswerRequest(idempotency_key="r", case_number=number, score=5)
    await intake.stub.RateAnswer(rate, metadata=metadata(CHAT))
    rated = await stream.take()
    assert (rated.case.rating, rated.case.can_rate) == (5, False)
    confirm = intake_pb2.ConfirmAnswerRequest(idempotency_key="c", case_number=number)
    await intake.stub.ConfirmAnswer(confirm, metadata=metadata(CHAT))
    assert (await stream.take()).case.status == types_pb2.CLOSED
    stream.cancel()


async def test_a_stream_resumes_after_the_last_version_received(intake) -> None:
    number = await _chat_case(intake)
    intake.cases.reply_as_specialist(number, "Первый ответ")  # version 2, while nobody watched
    intake.cases.reply_as_specialist(number, "скрытая заметка", public=False)  # 3
    stream = _watch(intake, number, after=1)
    change = await stream.take()
    # The case as it is now: the reply, and the version of what it already holds (the note's).
    assert change.version == 3 and [c.body for c in change.case.comments] == ["Первый ответ"]
    await stream.nothing_within(0.3)
    stream.cancel()
    again = _watch(intake, number, after=3)
    await again.nothing_within(0.3)
    intake.cases.reply_as_specialist(number, "Второй ответ")
    assert (await again.take()).version == 4
    again.cancel()


async def test_a_stream_ended_by_the_case_service_is_reopened_from_where_it_stood(intake) -> None:
    number = await _chat_case(intake)
    stream = _watch(intake, number)
    await stream.take()
    intake.cases.reply_as_specialist(number, "скрытая заметка", public=False)  # version 2
    await asyncio.sleep(0.2)
    intake.cases.end_watches()  # the case service's idle time or lifetime
    intake.cases.reply_as_specialist(number, "Ответ")  # version 3, while the stream reopens
    change = await stream.take()
    assert change.version == 3
    await stream.nothing_within(0.3)
    after = [request.after_version for request, _ in intake.cases.watch_calls]
    assert after[0] == 1 and after[1] in (2, 3), "reopened from the last event seen"
    stream.cancel()


@pytest.mark.parametrize(
    ("code", "passed_on"),
    [
        (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.RESOURCE_EXHAUSTED),
    ],
)
async def test_a_case_service_refusal_ends_the_stream_with_its_status(
    intake, code: grpc.StatusCode, passed_on: grpc.StatusCode
) -> None:
    number = await _chat_case(intake)
    stream = _watch(intake, number)
    await stream.take()
    refusal = status_pb2.Status(code=code.value[0], message="the case service refuses")
    intake.cases.refuse_next["WatchCase"] = rpc_status.to_status(refusal)
    intake.cases.end_watches()
    assert await stream.ended() == passed_on


async def test_after_version_ahead_of_the_case_or_negative_is_invalid(intake) -> None:
    number = await _chat_case(intake)
    for after in (5, -1):
        assert await _watch(intake, number, after).ended() == grpc.StatusCode.INVALID_ARGUMENT
    assert not intake.cases.watch_calls


async def test_a_padded_request_is_refused_at_once(intake) -> None:
    """An open stream keeps its request: one larger than a watch needs is not kept."""
    stream = _watch(intake, "2026-" + "1" * 2000)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stream.call.read()
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "more than the 1024 a watch needs" in refused.value.details()


async def test_another_citizens_case_answers_like_a_missing_one(intake) -> None:
    number = await _chat_case(intake)
    for case_number, login in ((number, "petrov.pp"), ("2026-0999999", "ivanov.ii")):
        stream = _watch(intake, case_number, sent=metadata(CHAT, login=login))
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stream.call.read()
        assert (refused.value.code(), refused.value.details()) == (
            grpc.StatusCode.NOT_FOUND, "case not found",
        )  # fmt: skip
    assert not intake.cases.watch_calls, "nothing watched for him"


async def test_without_a_proof_of_the_citizen_it_is_unauthenticated(intake) -> None:
    number = await _chat_case(intake)
    stream = _watch(intake, number, sent=tuple(frontend_only(CHAT)))
    assert await stream.ended() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_citizens_stream_ends_when_his_token_expires(intake) -> None:
    number = await _chat_case(intake)
    short = portal().mint_citizen("ivanov.ii", expires_in=2, extra={"azp": PORTAL_CLIENT})
    stream = _watch(intake, number, sent=(*frontend_only(CHAT), ("x-citizen-token", short)))
    await stream.take()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stream.take(timeout=6)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert refused.value.details().startswith("x-citizen-token expired: watch again")


async def test_a_code_holder_watches_while_his_code_is_the_cases(intake, mail) -> None:
    case = await intake.stub.SubmitCase(submission("EMAIL"), metadata=metadata(MAIL))
    ask = intake_pb2.RequestAccessCodeRequest(case_number=case.number)
    await intake.stub.RequestAccessCode(ask, metadata=frontend_only(MAIL))
    await intake.parts.deliveries.drain()
    code = code_in(mail.messages[-1].get_content())
    stream = _watch(intake, case.number, sent=with_code(MAIL, code))
    await stream.take()
    intake.cases.reply_as_specialist(case.number, "Ответ")
    assert [c.body for c in (await stream.take()).case.comments] == ["Ответ"]
    assert intake.cases.watch_calls[-1][1] == {}, "a code holder's watch is not a person's read"
    await intake.stub.RequestAccessCode(ask, metadata=frontend_only(MAIL))  # replaces the code
    await intake.parts.deliveries.drain()
    intake.cases.reply_as_specialist(case.number, "Ещё ответ")
    assert await stream.ended() == grpc.StatusCode.NOT_FOUND


async def test_an_operators_watch_is_journaled_as_his(intake) -> None:
    case = await intake.stub.SubmitCase(submission("PHONE"), metadata=as_operator())
    stream = _watch(intake, case.number, sent=as_operator())
    await stream.take()
    await stream.nothing_within(0.3)  # meanwhile intake opens the case service's stream
    ((_, sent),) = intake.cases.watch_calls
    assert sent["x-person-token"] and sent["x-access-purpose"]
    stream.cancel()


class TestBounds:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {
            "watch_my_case_idle_s": 0.6,
            "watch_my_case_max_s": 1.5,
            "watch_my_case_streams_per_frontend": 1,
        }

    async def test_a_quiet_stream_ends_cleanly_after_the_idle_time(self, intake) -> None:
        number = await _chat_case(intake)
        stream = _watch(intake, number)
        await stream.take()
        intake.cases.reply_as_specialist(number, "заметка", public=False)  # not a change sent
        assert await stream.ended(timeout=3) == grpc.StatusCode.OK

    async def test_a_busy_stream_ends_cleanly_at_its_lifetime(self, intake) -> None:
        number = await _chat_case(intake)
        stream = _watch(intake, number)
        await stream.take()
        loop = asyncio.get_running_loop()
        began = loop.time()
        received = 0
        while True:
            intake.cases.reply_as_specialist(number, f"ответ {received}")
            try:
                await stream.take(timeout=2)
            except AssertionError:
                break  # the stream ended
            received += 1
            await asyncio.sleep(0.2)
        assert received >= 4, "changes kept coming until the end"
        assert 1.2 < loop.time() - began < 2.5
        assert await stream.call.code() == grpc.StatusCode.OK

    async def test_a_frontends_streams_are_bounded_apart_from_its_calls(self, intake) -> None:
        number = await _chat_case(intake)
        first = _watch(intake, number)
        await first.take()
        second = _watch(intake, number)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await second.take()
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "CASEDESK_WATCH_MY_CASE_STREAMS_PER_FRONTEND" in refused.value.details()
        # Its unary calls are not crowded out, nor another frontend's streams.
        read = await intake.stub.GetCase(
            intake_pb2.GetCaseRequest(case_number=number), metadata=metadata(CHAT)
        )
        assert read.number == number
        other = _watch(intake, number, sent=metadata("desk-all"))
        await other.take()
        other.cancel()
        first.cancel()
        for _ in range(50):  # the slot is freed when the cancelled call's task ends
            third = _watch(intake, number)
            try:
                await third.take()
                break
            except grpc.aio.AioRpcError:
                await asyncio.sleep(0.05)
        else:
            raise AssertionError("the slot of the cancelled stream never came back")
        third.cancel()
