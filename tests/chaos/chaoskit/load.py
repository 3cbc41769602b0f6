"""The steady load: new chat cases through intake, each taken through a lifecycle by a
specialist at the case API and, for some, commented on by the citizen through intake.

A call that fails in transit is sent again with the same idempotency key (`retrying`), as a
frontend and the desk do; what the callers were told is kept in the `Ledger` the checks start
from: a case counts as acknowledged once SubmitCase answered with its id. The lifecycles mix
what the SLA service must judge: cases nobody answers (both clocks breach and are escalated),
cases left in work, clarifications (clocks paused, resumed by the citizen's comment), answers
and closures. Every comment carries a marker of its own, so a comment stored twice shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import grpc
from support.system import Casedesk

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.case.v1 import case_service_pb2_grpc as case_grpc
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk.intake.v1 import intake_service_pb2_grpc as intake_grpc
from casedesk_runtime.grpc_errors import precondition_types

from .people import SPECIALIST, Citizen, Citizens
from .retrying import CALL_TIMEOUT_S, GaveUp, until_answered

FIRST_STEP_AFTER_S = 1.0
BETWEEN_STEPS_S = 0.5
# A restarting service comes back within seconds: the channel must not wait gRPC's default
# reconnect backoff (up to two minutes) before it looks again.
CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 500),
    ("grpc.max_reconnect_backoff_ms", 3000),
)


class Step(Enum):
    TAKE = case_pb2.TAKE_IN_WORK
    ASK = case_pb2.ASK_CLARIFICATION
    ANSWER = case_pb2.ANSWER_READY_ACTION
    CLOSE = case_pb2.CLOSE
    REPLY = "the specialist's public reply"
    CITIZEN_REPLY = "the citizen's comment through intake (answers the clarification)"


S = Step
# Case n follows PLANS[n % 6].
PLANS: tuple[tuple[Step, ...], ...] = (
    (),  # nobody answers: both clocks breach, the case is escalated twice
    (S.TAKE,),  # left in work: the resolution clock breaches
    (S.TAKE, S.REPLY, S.ANSWER),
    (S.TAKE, S.ASK, S.CITIZEN_REPLY, S.REPLY, S.ANSWER, S.CLOSE),
    (S.TAKE, S.REPLY, S.ANSWER, S.CLOSE),
    (S.TAKE, S.ASK),  # waiting for the citizen: the clocks stay paused
)
UNANSWERED: tuple[Step, ...] = PLANS[0]


@dataclass(frozen=True)
class Acknowledged:
    case_id: str
    number: str
    citizen: Citizen
    at: float  # time.time() of the acknowledgement


@dataclass
class Ledger:
    """What the frontend and the desk were told."""

    acknowledged: dict[str, Acknowledged] = field(default_factory=dict)  # case id ->
    submitted: dict[str, Citizen] = field(default_factory=dict)  # login -> every submission
    comments: dict[str, str] = field(default_factory=dict)  # marker -> case id, acknowledged
    steps: Counter[str] = field(default_factory=Counter)  # step -> times answered
    failures: Counter[str] = field(default_factory=Counter)  # "RPC CODE" -> calls failed so
    refused: Counter[str] = field(default_factory=Counter)  # "RPC CODE (details)": a final refusal
    # Answers the escalation service overtook: the case was escalated after the specialist's
    # reply, so «Ответ готов» was refused (ANSWER_MISSING) and he replied again, as at the desk.
    answers_overtaken: int = 0
    given_up: Counter[str] = field(default_factory=Counter)  # "RPC CODE": never answered


class Load:
    """Cases at `cases_per_s` while `run` runs; `one_case` for a single one (the canaries)."""

    def __init__(
        self, system: Casedesk, ledger: Ledger, citizens: Citizens, give_up_s: float
    ) -> None:
        self._system, self.ledger, self._citizens = system, ledger, citizens
        self._give_up_s = give_up_s
        self._intake: Any = None
        self._cases: case_grpc.CaseServiceStub | None = None
        self._number = 0
        self.lifecycles: set[asyncio.Task[Acknowledged | None]] = set()

    @contextlib.asynccontextmanager
    async def connected(self) -> AsyncIterator[Load]:
        system = self._system
        async with (
            system.channel("intake", "frontend", options=CHANNEL_OPTIONS) as intake,
            system.channel("case", "desk", SPECIALIST, options=CHANNEL_OPTIONS) as cases,
        ):
            self._intake = intake_grpc.IntakeServiceStub(intake)
            self._cases = case_grpc.CaseServiceStub(cases)
            yield self

    async def run(self, cases_per_s: float, stop: asyncio.Event) -> None:
        """Start a case every 1/cases_per_s seconds until `stop`; the lifecycles started go on
        (`finish` waits for them)."""
        loop = asyncio.get_running_loop()
        due = loop.time()
        while not stop.is_set():
            plan = PLANS[self._number % len(PLANS)]
            self._number += 1
            task = asyncio.create_task(self.one_case(plan))
            self.lifecycles.add(task)
            task.add_done_callback(self.lifecycles.discard)
            due += 1 / cases_per_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, due - loop.time()))

    async def finish(self, timeout_s: float) -> int:
        """Wait for the lifecycles in progress; those still retrying after `timeout_s` are
        cancelled and returned as a count."""
        pending = set(self.lifecycles)
        if not pending:
            return 0
        _, late = await asyncio.wait(pending, timeout=timeout_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        return len(late)

    async def one_case(self, plan: tuple[Step, ...]) -> Acknowledged | None:
        """Submit a case and take it through `plan`; None if it was never acknowledged."""
        citizen = self._citizens.new()
        self.ledger.submitted[citizen.login] = citizen
        request = citizen.submission(str(uuid.uuid4()))
        metadata = self._system.frontend.acting_for(citizen.login)
        ack = await self._call(
            "SubmitCase",
            lambda: self._intake.SubmitCase(request, metadata=metadata, timeout=CALL_TIMEOUT_S),
        )
        if ack is None:
            return None
        case = Acknowledged(ack.case_id, ack.number, citizen, time.time())
        self.ledger.acknowledged[case.case_id] = case
        await asyncio.sleep(FIRST_STEP_AFTER_S)
        for step in plan:
            if not await self._take(step, case, metadata):
                break  # refused or never answered: the rest of the plan depends on it
            self.ledger.steps[step.name] += 1
            await asyncio.sleep(BETWEEN_STEPS_S)
        return case

    async def _take(
        self, step: Step, case: Acknowledged, citizen: tuple[tuple[str, str], ...]
    ) -> bool:
        """Whether the step was answered (False: refused or never answered)."""
        assert self._cases is not None
        cases, key = self._cases, str(uuid.uuid4())
        context = case_pb2.CommandContext(idempotency_key=key)  # the actor: the token's person
        if step is Step.CITIZEN_REPLY:
            body = f"Уточняю: ошибка появляется при входе. [{key[:13]}]"
            request = intake_pb2.AddCommentRequest(
                idempotency_key=key, case_number=case.number, body=body
            )
            reply = await self._call(
                "intake.AddComment",
                lambda: self._intake.AddComment(request, metadata=citizen, timeout=CALL_TIMEOUT_S),
            )
        elif step is Step.REPLY:
            body = f"Проверили: ошибка исправлена, раздел открывается. [{key[:13]}]"
            comment = case_pb2.AddCommentRequest(
                context=context, case_id=case.case_id, body=body, public=True
            )
            reply = await self._call(
                "case.AddComment", lambda: cases.AddComment(comment, timeout=CALL_TIMEOUT_S)
            )
        else:
            change = case_pb2.ChangeStatusRequest(
                context=context, case_id=case.case_id, action=step.value
            )
            overtaken = _answer_missing if step is Step.ANSWER else None
            reply = await self._call(
                f"ChangeStatus {step.name}",
                lambda: cases.ChangeStatus(change, timeout=CALL_TIMEOUT_S),
                expected=overtaken,
            )
            if reply is _OVERTAKEN:
                # Escalated after his reply (the escalation service acts on the SLA clocks the
                # faults push on, a race the load cannot avoid): as at the desk, he answers the
                # new level and marks the answer again.
                self.ledger.answers_overtaken += 1
                replied = await self._take(Step.REPLY, case, citizen)
                return replied and await self._take(step, case, citizen)
        if reply is None:
            return False
        if step in (Step.REPLY, Step.CITIZEN_REPLY):
            self.ledger.comments[key[:13]] = case.case_id
        return True

    async def _call(
        self, rpc: str, call: Any, expected: Callable[[grpc.aio.AioRpcError], bool] | None = None
    ) -> Any:
        """The reply; None if refused or never answered; `_OVERTAKEN` for a refusal `expected`
        says the caller handles (not counted as refused)."""
        try:
            return await until_answered(rpc, call, self.ledger.failures, self._give_up_s)
        except GaveUp as gave_up:
            self.ledger.given_up[str(gave_up)] += 1
        except grpc.aio.AioRpcError as refused:
            if expected is not None and expected(refused):
                return _OVERTAKEN
            # With the refusal's own words (domain rules, no personal data: the load's citizens
            # are made up), so that the report says which rule refused, not only the code.
            why = (refused.details() or "")[:160]
            self.ledger.refused[f"{rpc} {refused.code().name} ({why})"] += 1
        return None


_OVERTAKEN = object()


def _answer_missing(refused: grpc.aio.AioRpcError) -> bool:
    """«Ответ готов» refused for want of an answer to the latest question (the case service's
    PreconditionFailure of type ANSWER_MISSING): the case was escalated after the reply."""
    return refused.code() is grpc.StatusCode.FAILED_PRECONDITION and (
        "ANSWER_MISSING" in precondition_types(refused)
    )
