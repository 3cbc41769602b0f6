"""The cases the gRPC fuzzing refers to, opened before it starts.

`plant(stack)` opens cases through intake (one with an attachment) and directly on the case
service, takes one of them through to ANSWER_READY at the desk (what RepeatCase needs), and
collects what a request can name: case ids and numbers, an attachment, a page token. On the key
service it gives two subjects a key (GetKey's generation 1) and erases a third (what
ReopenSubject is for).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import grpc

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk.keys.v1 import key_service_pb2 as keys_pb2
from fuzzkit.callers import CITIZEN_LOGIN, bearer, people
from fuzzkit.requests import create_case, submission
from fuzzkit.stack import CASE_SERVICE, KEY_SERVICE, Stack


@dataclass
class Known:
    case_ids: list[str] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    attachment_ids: list[str] = field(default_factory=list)
    page_tokens: list[str] = field(default_factory=list)
    attachment: types_pb2.Attachment | None = None
    answered_case_id: str = ""  # a case in ANSWER_READY (RepeatCase's precondition)
    answered_number: str = ""
    live_subjects: list[str] = field(default_factory=list)  # key subjects with generation 1
    erased_subject: str = ""  # erased by the case service's retention after it had a key


async def plant(stack: Stack) -> Known:
    """Open cases to refer to; run on the servers' loop."""
    known = Known()
    intake_channel = stack.channel(stack.intake_port, "frontend")
    submit = intake_channel.unary_unary(
        "/casedesk.intake.v1.IntakeService/SubmitCase",
        request_serializer=intake_pb2.SubmitCaseRequest.SerializeToString,
        response_deserializer=intake_pb2.Acknowledgement.FromString,
    )
    portal = (bearer("desk-all"), ("x-citizen-token", stack.citizen_token(CITIZEN_LOGIN)))
    for index in range(3):
        ack = await submit(submission(f"seed-{index}", attachment=index == 0), metadata=portal)
        known.case_ids.append(ack.case_id)
        known.numbers.append(ack.number)
    case_channel = stack.channel(stack.case_port, "intake")
    create = case_channel.unary_unary(
        f"/{CASE_SERVICE}/CreateCase",
        request_serializer=case_pb2.CreateCaseRequest.SerializeToString,
        response_deserializer=case_pb2.CaseView.FromString,
    )
    view = await create(create_case("seed-direct"))
    known.case_ids.append(view.case_id)
    known.numbers.append(view.number)
    desk = stack.channel(stack.case_port, "desk")
    tokens = people(stack)
    person = (("x-person-token", tokens["l3.sidorova"]),)
    get = desk.unary_unary(
        f"/{CASE_SERVICE}/GetCase",
        request_serializer=case_pb2.GetCaseRequest.SerializeToString,
        response_deserializer=case_pb2.CaseView.FromString,
    )
    first = await get(case_pb2.GetCaseRequest(case_id=known.case_ids[0]), metadata=person)
    known.attachment_ids = [a.attachment_id for a in first.attachments]
    known.attachment = first.attachments[0] if first.attachments else None
    listing = desk.unary_unary(
        f"/{CASE_SERVICE}/ListCases",
        request_serializer=case_pb2.ListCasesRequest.SerializeToString,
        response_deserializer=case_pb2.CaseList.FromString,
    )
    try:
        page = await listing(case_pb2.ListCasesRequest(page_size=1), metadata=person)
        known.page_tokens = [page.next_page_token] if page.next_page_token else []
    except grpc.aio.AioRpcError:
        known.page_tokens = []  # the index may not have caught up: no token to offer then
    if not known.attachment_ids:
        raise AssertionError("the seeded case has no attachment: OpenAttachment would be blind")
    known.answered_case_id, known.answered_number = known.case_ids[1], known.numbers[1]
    await _answer(desk, known.answered_case_id, (("x-person-token", tokens["l1.ivanova"]),))
    await _plant_keys(stack, known)
    return known


async def _plant_keys(stack: Stack, known: Known) -> None:
    """Keys for two new subjects (as intake seals a new case), a third subject given a key and
    then erased (as the case service's retention does, without a person)."""
    current = stack.channel(stack.keys_port, "intake").unary_unary(
        f"/{KEY_SERVICE}/GetCurrentKey",
        request_serializer=keys_pb2.GetCurrentKeyRequest.SerializeToString,
        response_deserializer=keys_pb2.DataKey.FromString,
    )
    erase = stack.channel(stack.keys_port, "case").unary_unary(
        f"/{KEY_SERVICE}/EraseCitizen",
        request_serializer=keys_pb2.EraseCitizenRequest.SerializeToString,
        response_deserializer=keys_pb2.EraseCitizenResponse.FromString,
    )
    subjects = [uuid.uuid4().hex for _ in range(3)]
    for subject in subjects:
        key = await current(keys_pb2.GetCurrentKeyRequest(subject=subject))
        if key.generation != 1:
            raise AssertionError(f"a new subject's first key is generation {key.generation}")
    *known.live_subjects, known.erased_subject = subjects
    order = keys_pb2.EraseCitizenRequest(subjects=[known.erased_subject], reason="plant-retention")
    erased = await erase(order)
    if [s.erasure.subject for s in erased.subjects] != [known.erased_subject]:
        raise AssertionError(f"the planted erasure erased {erased.subjects}")


async def _answer(
    desk: grpc.aio.Channel, case_id: str, person: tuple[tuple[str, str], ...]
) -> None:
    """Take the case in work, reply in public and mark the answer ready, as l1.ivanova."""
    change = desk.unary_unary(
        f"/{CASE_SERVICE}/ChangeStatus",
        request_serializer=case_pb2.ChangeStatusRequest.SerializeToString,
        response_deserializer=case_pb2.CaseView.FromString,
    )
    comment = desk.unary_unary(
        f"/{CASE_SERVICE}/AddComment",
        request_serializer=case_pb2.AddCommentRequest.SerializeToString,
        response_deserializer=case_pb2.CaseView.FromString,
    )
    await change(status(case_id, case_pb2.TAKE_IN_WORK), metadata=person)
    reply = case_pb2.AddCommentRequest(case_id=case_id, body="Код отправлен повторно", public=True)
    reply.context.idempotency_key = f"plant-reply-{case_id}"
    await comment(reply, metadata=person)
    view = await change(status(case_id, case_pb2.ANSWER_READY_ACTION), metadata=person)
    if view.status != types_pb2.ANSWER_READY:
        raise AssertionError(f"the planted case did not reach ANSWER_READY: {view.status}")


def status(case_id: str, action: int) -> case_pb2.ChangeStatusRequest:
    request = case_pb2.ChangeStatusRequest(case_id=case_id, action=action)  # type: ignore[arg-type]
    request.context.idempotency_key = f"plant-{case_id}-{action}"
    return request
