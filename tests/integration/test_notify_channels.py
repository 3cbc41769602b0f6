"""The answer goes back the way the question came, on the real system.

One system serves the module (support/system.py): the case service, intake and notify as
processes on the secured Kafka and PostgreSQL, with the real SMTP sink, and a local server
speaking the Telegram Bot API's and the VK API's documented subset
(casedesk_notify.testing.social_server), whose URL and token files notify gets through
`start_casedesk`'s `settings`. Intake serves a mail gateway and a social moderation tool (its
frontends set through `settings` too); a specialist answers at the case service as the desk does.

1. A citizen without a portal account writes by e-mail: every e-mail of his case, the answer's
   among them (one e-mail carrying it: the reply merged into «Ответ готов»), is a reply in his own
   thread (In-Reply-To, References, «Re: <his subject> [Обращение в службу поддержки - N]»), and
   his reply to the answer lands on the case.
2. Social cases: the answer of a private Telegram message is posted into that chat as a reply to
   his message; a public VK wall post gets a comment under it without the answer or any personal
   data. Each once, journaled on notification.events.v1 as channel SOCIAL.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
import pytest_asyncio
from support.people import Keycloak
from support.provisioning import SecureKafka
from support.system import MESSAGE_ID_DOMAIN, Casedesk, read_topic, start_casedesk, until_true

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.case.v1 import case_service_pb2_grpc as case_grpc
from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk.intake.v1 import intake_service_pb2_grpc as intake_grpc
from casedesk.notification.v1 import events_pb2 as journal_pb2
from casedesk_notify.testing.sinks import AcceptedEmail
from casedesk_notify.testing.social_server import SocialRequest, SocialServer

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

SPECIALIST = "l3.sidorova"  # a development user of Keycloak's casedesk realm (tier L3)
GATEWAY_TOKEN = "e2e-channels-frontend-token"
SUPPORT = "support@casedesk.e2e"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def social() -> AsyncIterator[SocialServer]:
    server = await SocialServer().start()
    yield server
    await server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def casedesk(
    secure_kafka: SecureKafka,
    keycloak: Keycloak,
    postgres_env: dict[str, str],
    postgres_dsn: str,
    tmp_path_factory: pytest.TempPathFactory,
    social: SocialServer,
) -> AsyncIterator[Casedesk]:
    directory: Path = tmp_path_factory.mktemp("casedesk-channels")
    telegram_token, vk_token = directory / "telegram.token", directory / "vk.token"
    telegram_token.write_text(social.telegram_token + "\n")
    vk_token.write_text(social.vk_token + "\n")
    frontend = {
        "name": "mail-gateway-and-moderation",
        "token_sha256": hashlib.sha256(GATEWAY_TOKEN.encode()).hexdigest(),
        "channels": ["EMAIL", "SOCIAL"],
    }
    settings = {
        "intake": {"CASEDESK_FRONTENDS": json.dumps([frontend])},
        "notify": {
            "CASEDESK_TELEGRAM_API_URL": social.url,
            "CASEDESK_TELEGRAM_TOKEN_FILE": str(telegram_token),
            "CASEDESK_VK_API_URL": social.url,
            "CASEDESK_VK_TOKEN_FILE": str(vk_token),
        },
    }
    async with start_casedesk(
        secure_kafka, postgres_env, postgres_dsn, directory, keycloak=keycloak,
        services=("case", "intake", "notify"), settings=settings,
    ) as system:  # fmt: skip
        yield system


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def intake(casedesk: Casedesk) -> AsyncIterator[intake_grpc.IntakeServiceStub]:
    async with casedesk.channel("intake", caller="frontend") as channel:
        yield intake_grpc.IntakeServiceStub(channel)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cases(casedesk: Casedesk) -> AsyncIterator[case_grpc.CaseServiceStub]:
    async with casedesk.channel("case", caller="desk", person=SPECIALIST) as channel:
        yield case_grpc.CaseServiceStub(channel)


GATEWAY = (("authorization", f"Bearer {GATEWAY_TOKEN}"),)


@dataclass(frozen=True)
class Specialist:
    cases: case_grpc.CaseServiceStub
    case_id: str

    async def answer(self, body: str) -> None:
        """Takes the case, replies publicly and marks «Ответ готов», as at the desk."""
        await self._act(case_pb2.TAKE_IN_WORK)
        await self.cases.AddComment(
            case_pb2.AddCommentRequest(
                context=self._context(), case_id=self.case_id, body=body, public=True
            )
        )
        await self._act(case_pb2.ANSWER_READY_ACTION)

    async def _act(self, action: int) -> None:
        request = case_pb2.ChangeStatusRequest(
            context=self._context(), case_id=self.case_id, action=action
        )
        await self.cases.ChangeStatus(request)

    @staticmethod
    def _context() -> case_pb2.CommandContext:
        return case_pb2.CommandContext(idempotency_key=str(uuid.uuid4()))


def citizens_mail(address: str, subject: str, message_id: str, body: str, **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = f"Иван Петров <{address}>"
    message["To"] = SUPPORT
    message["Subject"] = subject
    message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


async def ingest(intake: intake_grpc.IntakeServiceStub, raw: bytes, key: str):
    request = intake_pb2.IngestEmailRequest(idempotency_key=key, raw_message=raw)
    return await intake.IngestEmail(request, metadata=GATEWAY)


async def test_an_email_citizen_gets_the_answer_in_his_own_thread(
    casedesk: Casedesk,
    intake: intake_grpc.IntakeServiceStub,
    cases: case_grpc.CaseServiceStub,
) -> None:
    address = f"e2e.mail.{uuid.uuid4().hex[:8]}@example.ru"
    original = f"<{uuid.uuid4()}@mail.example.ru>"
    raw = citizens_mail(address, "Не приходит СМС-код", original, "Код для входа не приходит.")
    outcome = await ingest(intake, raw, original)
    assert outcome.WhichOneof("outcome") == "created"
    number, case_id = outcome.created.number, outcome.created.case_id
    answer = f"Код отправлен повторно ({uuid.uuid4().hex[:6]}). Проверьте папку «Спам»."

    def mails() -> list[AcceptedEmail]:
        return [m for m in casedesk.smtp.snapshot() if m.recipients == (address,)]

    await until_true(lambda: len(mails()) >= 1, 30, "the acknowledgement e-mail")
    await Specialist(cases, case_id).answer(answer)
    # The acknowledgement, «В работе», and «Ответ готов» carrying the reply (merged into it).
    await until_true(lambda: len(mails()) >= 3, 30, "three e-mails to the citizen")
    await asyncio.sleep(1.5)  # anything sent twice, or the reply alone, arrives meanwhile
    received = mails()
    assert len(received) == 3
    subject = f"Re: Не приходит СМС-код [Обращение в службу поддержки - {number}]"
    for mail in received:
        assert mail.message["In-Reply-To"] == original
        assert mail.message["References"] == original
        assert mail.message["Subject"] == subject
        assert mail.message_id.endswith(f"@{MESSAGE_ID_DOMAIN}>")
    assert len({mail.message_id for mail in received}) == 3
    carrying = [mail for mail in received if answer in mail.body("plain")]
    assert carrying == [received[-1]]
    text = carrying[0].body("plain")
    assert "«Ответ готов»" in text and "личный кабинет" not in text
    assert answer in carrying[0].body("html")

    # His reply to the answer, as his mail client writes it, lands on the case.
    reply_id = f"<{uuid.uuid4()}@mail.example.ru>"
    raw_reply = citizens_mail(
        address, str(carrying[0].message["Subject"]), reply_id, "Спасибо, код пришёл.",
        In_Reply_To=carrying[0].message_id, References=f"{original} {carrying[0].message_id}",
    )  # fmt: skip
    commented = await ingest(intake, raw_reply, reply_id)
    assert commented.WhichOneof("outcome") == "commented"
    assert commented.commented.number == number


@dataclass(frozen=True)
class SocialCase:
    number: str
    case_id: str


async def social_case(
    intake: intake_grpc.IntakeServiceStub, network: str, reference: str, private: bool
) -> SocialCase:
    request = intake_pb2.SubmitCaseRequest(
        idempotency_key=str(uuid.uuid4()),
        channel=types_pb2.SOCIAL,
        citizen=types_pb2.Citizen(
            full_name="Петрова Анна Николаевна",
            mobile_phone="+79161112233",
            email="anna.petrova@example.ru",
        ),
        content=types_pb2.CaseContent(
            subject="Не могу войти в личный кабинет", description="Пишет «неверный пароль»."
        ),
        provenance=types_pb2.Provenance(
            social=types_pb2.SocialOrigin(
                network=network,
                post_reference=reference,
                author_handle="@anna_petrova",
                private_message=private,
            )
        ),
    )
    reply = await intake.SubmitCase(request, metadata=GATEWAY)
    return SocialCase(reply.number, reply.case_id)


async def test_a_social_cases_answer_reaches_the_right_post_privately_or_not_at_all_publicly(
    casedesk: Casedesk,
    intake: intake_grpc.IntakeServiceStub,
    cases: case_grpc.CaseServiceStub,
    social: SocialServer,
) -> None:
    chat = 100_000_000 + uuid.uuid4().int % 10**8  # the citizen's private chat with the bot
    community, post = -(10**6 + uuid.uuid4().int % 10**6), 1000 + uuid.uuid4().int % 1000
    private = await social_case(intake, "telegram", f"{chat}:42", private=True)
    public = await social_case(intake, "vk", f"{community}_{post}", private=False)
    answer = f"Сбросьте пароль по ссылке «Забыли пароль?» ({uuid.uuid4().hex[:6]})."
    await Specialist(cases, private.case_id).answer(answer)
    await Specialist(cases, public.case_id).answer(answer)

    def to_chat() -> list[SocialRequest]:
        return [p for p in social.posts_to("telegram") if p.params.get("chat_id") == chat]

    def under_post() -> list[SocialRequest]:
        return [p for p in social.posts_to("vk") if p.params.get("post_id") == str(post)]

    await until_true(lambda: bool(to_chat()) and bool(under_post()), 30, "both social replies")
    await asyncio.sleep(1.5)  # a second post of either would arrive meanwhile
    [telegram] = to_chat()
    assert telegram.method == "sendMessage"
    assert telegram.params["reply_parameters"]["message_id"] == 42
    assert answer in telegram.params["text"] and private.number in telegram.params["text"]

    [vk] = under_post()
    assert vk.method == "wall.createComment"
    assert vk.params["owner_id"] == str(community)
    text = vk.params["message"]
    assert public.number in text and "в личные сообщения" in text
    for personal in (answer, "Петрова", "Анна", "+7916", "79161112233", "anna.petrova", "@anna"):
        assert personal not in text

    journal = await read_topic(
        casedesk.kafka, casedesk.topics.notification, journal_pb2.NotificationEvent.FromString,
        {private.case_id, public.case_id},
        lambda records: {r.event.meta.case_id for r in records
                         if r.event.channel == journal_pb2.SOCIAL
                         and r.event.WhichOneof("payload") == "sent"}
        == {private.case_id, public.case_id},
        timeout_s=30, settle_s=1.0,
    )  # fmt: skip
    masked = sorted(
        r.event.recipient_masked for r in journal
        if r.event.channel == journal_pb2.SOCIAL and r.event.WhichOneof("payload") == "sent"
    )  # fmt: skip
    owner = str(community)
    assert masked == sorted([
        f"telegram:*******{str(chat)[-2:]}:42", f"vk:{'*' * (len(owner) - 2)}{owner[-2:]}_{post}"
    ])  # fmt: skip
