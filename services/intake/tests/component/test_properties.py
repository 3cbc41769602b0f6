"""Property tests on the request handlers through real gRPC.

1. No input crashes the server: whatever a frontend sends, the answer is a success or a
   deliberate refusal, never INTERNAL or UNKNOWN.
2. Each bad input is refused with INVALID_ARGUMENT naming the spoiled field.
"""

from __future__ import annotations

import uuid

import grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from intake_messages import FRONTEND_OF_CHANNEL, metadata, submission

from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk_intake.domain.identifiers import snils_control
from casedesk_runtime.grpc_errors import field_violations

PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
DELIBERATE = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.UNAUTHENTICATED,
}

texts = st.text(max_size=40) | st.text(min_size=240, max_size=300)
digits = st.text(alphabet="0123456789 -", max_size=14)
enums = st.integers(min_value=-3, max_value=12)
keys = st.text(max_size=140) | st.uuids().map(str)
# Near the forms a social network's references take (telegram "<chat>:<message>", vk "<a>_<b>").
references = st.builds(
    "{}{}{}".format,
    st.sampled_from(["", "-", "@"]) | st.text(max_size=3),
    st.integers(-(10**20), 10**20).map(str) | st.from_regex(r"[A-Za-z]\w{0,33}", fullmatch=True),
    st.tuples(st.sampled_from([":", "_", "/"]), st.integers(-5, 10**19)).map(
        lambda pair: f"{pair[0]}{pair[1]}"
    ),
)


@st.composite
def provenances(draw: st.DrawFn) -> types_pb2.Provenance:
    origin = draw(
        st.sampled_from(["none", "chat", "personal_account", "email", "phone", "social", "mfc"])
    )
    message = types_pb2.Provenance()
    if origin == "chat":
        message.chat.session_id = draw(texts)
    elif origin == "personal_account":
        message.personal_account.form_id = draw(texts)
    elif origin == "email":
        message.email.message_id, message.email.from_address = draw(texts), draw(texts)
    elif origin == "phone":
        message.phone.call_id, message.phone.caller_number = draw(texts), draw(digits | texts)
        message.phone.from_abroad = draw(st.booleans())
        message.phone.caller_checks.extend(draw(st.lists(enums, max_size=4)))
    elif origin == "social":
        message.social.network = draw(st.sampled_from(["telegram", "VK", ""]) | texts)
        message.social.post_reference = draw(references | texts)
        message.social.private_message = draw(st.booleans())
    elif origin == "mfc":
        message.mfc.office_code, message.mfc.operator_id = draw(texts), draw(texts)
    return message


@st.composite
def submissions(draw: st.DrawFn) -> intake_pb2.SubmitCaseRequest:
    request = intake_pb2.SubmitCaseRequest(
        idempotency_key=draw(keys),
        channel=draw(enums),
        type=draw(enums),
        category=draw(enums),
        citizen=types_pb2.Citizen(
            full_name=draw(texts),
            snils=draw(digits | texts),
            inn=draw(digits | texts),
            account_login=draw(texts),
            mobile_phone=draw(digits | texts),
            email=draw(texts | st.emails()),
            preferred_contact=draw(enums),
        ),
        content=types_pb2.CaseContent(
            subject=draw(texts), description=draw(texts), service_code=draw(texts)
        ),
        provenance=draw(provenances()),
    )
    if draw(st.booleans()):
        stamp = request.content.problem_occurred_at
        stamp.seconds = draw(st.integers(min_value=-(2**62), max_value=2**62))
        stamp.nanos = draw(st.integers(min_value=-(2**31), max_value=2**31 - 1))
    for _ in range(draw(st.integers(min_value=0, max_value=7))):
        request.attachments.add(
            file_name=draw(texts),
            media_type=draw(st.sampled_from(["application/pdf", "text/plain", "x/y"]) | texts),
            content=draw(st.binary(max_size=64)),
            sha256=draw(st.just("") | texts),
        )
    return request


async def _outcome(call) -> tuple[grpc.StatusCode, list[tuple[str, str]]]:  # type: ignore[no-untyped-def]
    try:
        await call
    except grpc.aio.AioRpcError as error:
        return error.code(), field_violations(error)
    return grpc.StatusCode.OK, []


@PROPERTY
@given(request=submissions(), login=st.none() | st.just("ivanov.ii"))
async def test_no_submission_crashes_the_server(intake, request, login) -> None:
    code, violations = await _outcome(
        intake.stub.SubmitCase(request, metadata=metadata(login=login))
    )
    assert code in DELIBERATE
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        assert violations and all(field and text for field, text in violations)


@PROPERTY
@given(
    raw=st.binary(max_size=400)
    | st.builds(
        lambda sender, subject, body: f"From: {sender}\r\nSubject: {subject}\r\n\r\n{body}".encode(
            "utf-8", "surrogatepass"
        ),
        st.emails() | texts,
        texts,
        texts,
    ),
    key=keys,
)
async def test_no_email_crashes_the_server(intake, raw: bytes, key: str) -> None:
    request = intake_pb2.IngestEmailRequest(idempotency_key=key, raw_message=raw)
    code, _ = await _outcome(intake.stub.IngestEmail(request, metadata=metadata(login=None)))
    assert code in DELIBERATE


@PROPERTY
@given(
    number=texts,
    body=texts,
    key=keys,
    reason=enums,
    page_size=st.integers(-5, 200),
    channel=enums,
    origin=provenances(),
    score=st.integers(-(2**31), 2**31 - 1),
)
async def test_no_follow_up_crashes_the_server(
    intake, number, body, key, reason, page_size, channel, origin, score
) -> None:
    calls = [
        intake.stub.RepeatCase(
            intake_pb2.RepeatCaseRequest(
                idempotency_key=key,
                case_number=number,
                reason=body,
                channel=channel,
                provenance=origin,
            ),
            metadata=metadata("desk-all"),
        ),
        intake.stub.ConfirmAnswer(
            intake_pb2.ConfirmAnswerRequest(idempotency_key=key, case_number=number),
            metadata=metadata(),
        ),
        intake.stub.RateAnswer(
            intake_pb2.RateAnswerRequest(
                idempotency_key=key, case_number=number, score=score, comment=body
            ),
            metadata=metadata(),
        ),
        intake.stub.AddComment(
            intake_pb2.AddCommentRequest(idempotency_key=key, case_number=number, body=body),
            metadata=metadata(),
        ),
        intake.stub.RepeatCase(
            intake_pb2.RepeatCaseRequest(idempotency_key=key, case_number=number, reason=body),
            metadata=metadata(),
        ),
        intake.stub.RequestEscalation(
            intake_pb2.RequestEscalationRequest(
                idempotency_key=key, case_number=number, reason=reason, explanation=body
            ),
            metadata=metadata(),
        ),
        intake.stub.GetCase(intake_pb2.GetCaseRequest(case_number=number), metadata=metadata()),
        intake.stub.ListMyCases(
            intake_pb2.ListMyCasesRequest(page_size=page_size, page_token=body),
            metadata=metadata(),
        ),
    ]
    for call in calls:
        code, _ = await _outcome(call)
        assert code in DELIBERATE | {grpc.StatusCode.FAILED_PRECONDITION}
    watch = intake.stub.WatchMyCase(
        intake_pb2.WatchMyCaseRequest(case_number=number, after_version=score),
        metadata=metadata(),
    )
    code, _ = await _outcome(watch.read())
    watch.cancel()
    assert code in DELIBERATE


# -- property 2: one spoiled field, named in the refusal --------------------------------------


@st.composite
def wrong_snils(draw: st.DrawFn) -> str:
    body = draw(st.integers(min_value=1_001_999, max_value=999_999_999))
    control = snils_control(f"{body:09d}")
    wrong = draw(st.integers(min_value=0, max_value=99).filter(lambda c: c != control))
    return f"{body:09d}{wrong:02d}"


@st.composite
def wrong_inn(draw: st.DrawFn) -> str:
    inn = draw(st.sampled_from(["7707083893", "500100732259"]))
    position = draw(st.integers(min_value=0, max_value=len(inn) - 1))
    digit = draw(st.sampled_from("0123456789").filter(lambda d: d != inn[position]))
    return inn[:position] + digit + inn[position + 1 :]


SPOILERS = {
    "citizen.snils": wrong_snils() | st.text(alphabet="0123456789", min_size=1, max_size=10),
    "citizen.inn": wrong_inn() | st.text(alphabet="0123456789", min_size=13, max_size=14),
    "citizen.mobile_phone": st.from_regex(r"\A8\d{10}\Z") | st.from_regex(r"\A\+0\d{9}\Z"),
    # Invalid once the surrounding white space is stripped (the validator strips it).
    "citizen.email": st.text(alphabet="abc.@ ", min_size=1, max_size=12)
    .map(str.strip)
    .filter(lambda s: s.count("@") != 1 or s.startswith("@") or s.endswith("@") or " " in s)
    .filter(bool),
    "citizen.full_name": st.text(min_size=301, max_size=320).filter(lambda s: s.strip()),
    "content.subject": st.text(min_size=251, max_size=260) | st.sampled_from(["", "   ", "a\x07b"]),
    "content.description": st.sampled_from(["", "\x00", "  "])
    | st.text(min_size=1, max_size=20).map(lambda s: s * (20_001 // len(s) + 1)),
}


@st.composite
def spoiled(draw: st.DrawFn) -> tuple[intake_pb2.SubmitCaseRequest, str, str]:
    channel = draw(st.sampled_from(list(FRONTEND_OF_CHANNEL)))
    field = draw(st.sampled_from(sorted(SPOILERS)))
    request = submission(channel, key=str(uuid.uuid4()))
    section, leaf = field.split(".")
    setattr(getattr(request, section), leaf, draw(SPOILERS[field]))
    return request, field, channel


@PROPERTY
@given(case=spoiled())
async def test_each_bad_field_is_named(intake, case) -> None:
    request, field, channel = case
    code, violations = await _outcome(
        intake.stub.SubmitCase(request, metadata=metadata(FRONTEND_OF_CHANNEL[channel]))
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert field in [f for f, _ in violations]
