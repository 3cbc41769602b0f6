"""The mail use case with stand-ins: the message is read on a worker thread, a subject costs a
few lookups at most, and ignored mail reaches nobody."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest

from casedesk_intake.application.mail_intake import MailIntake, MailIntakeConfig
from casedesk_intake.application.mail_reading import MailReader
from casedesk_intake.domain.acting import Caller
from casedesk_intake.domain.attachment_rules import AttachmentRules
from casedesk_intake.domain.errors import InvalidRequest
from casedesk_intake.domain.frontends import Frontend
from casedesk_intake.domain.inbound_email import InboundEmail, parse_email
from casedesk_intake.domain.mail_limits import MailLimits
from casedesk_intake.domain.mail_rules import IgnoredReason
from casedesk_intake.domain.submission_rules import SubmissionRules

GATEWAY = Caller(frontend=Frontend("mail-gateway", frozenset({"EMAIL"})))


def raw_mail(subject: str, **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = "Иван <ivan@example.ru>"
    message["Subject"] = subject
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content("Текст")
    return message.as_bytes()


@dataclass
class CasesLookedUp:
    numbers: list[str] = field(default_factory=list)

    async def find_by_number(self, number: str, person_token: str = "") -> None:
        self.numbers.append(number)
        return None


@dataclass
class Registrations:
    made: list[object] = field(default_factory=list)

    async def register(self, submission, key, *, identified_by="", verified=False):  # type: ignore[no-untyped-def]
        self.made.append(submission)
        return "acknowledged", None


def mail_intake(cases: CasesLookedUp, registration: Registrations, **config: object) -> MailIntake:
    attachments = AttachmentRules(5, 1 << 20, 2 << 20, frozenset({"application/pdf"}))
    rules = SubmissionRules(attachments, ["telegram"])
    return MailIntake(cases, None, registration, rules, config=MailIntakeConfig(**config))  # type: ignore[arg-type]


async def test_a_subject_full_of_numbers_costs_at_most_the_configured_lookups() -> None:
    cases, registration = CasesLookedUp(), Registrations()
    intake = mail_intake(cases, registration, case_lookups=3)
    numbers = [f"2026-{n:07d}" for n in range(1, 600)]
    subject = " ".join(numbers) + " Обращение в службу поддержки - 2026-9999999"
    mail = await intake.read(raw_mail(subject))
    outcome, _ = await intake.ingest(GATEWAY, mail, "m-1", "key-1")
    assert cases.numbers == ["2026-9999999", *numbers[:2]]  # the formal reference first
    assert outcome.created == "acknowledged"


def test_candidates_are_distinct_and_bounded() -> None:
    email = InboundEmail("", "a@example.ru", "", "2026-0000001 2026-0000001 2026-0000002", "", ())
    assert email.case_number_candidates(at_most=1) == ["2026-0000001"]
    assert email.case_number_candidates() == ["2026-0000001", "2026-0000002"]


async def test_ignored_mail_reaches_neither_a_case_nor_the_registration() -> None:
    cases, registration = CasesLookedUp(), Registrations()
    intake = mail_intake(cases, registration)
    mail = await intake.read(
        raw_mail("Обращение в службу поддержки - 2026-0000001", Auto_Submitted="auto-replied")
    )
    outcome, recent = await intake.ingest(GATEWAY, mail, "m-1", "key-1")
    assert outcome.ignored is not None and outcome.ignored.reason is IgnoredReason.AUTOMATIC
    assert (outcome.created, outcome.commented, recent) == (None, None, None)
    assert cases.numbers == [] and registration.made == []


async def test_the_message_is_parsed_on_a_worker_thread_not_the_loop() -> None:
    threads: list[int] = []

    def parse(raw: bytes, limits: MailLimits) -> InboundEmail:
        threads.append(threading.get_ident())
        return parse_email(raw, limits)

    reader = MailReader(MailLimits(), parse=parse)
    try:
        read = await reader.read(raw_mail("Вопрос"))
    finally:
        reader.close()
    assert read.email.subject == "Вопрос" and read.ignored is None
    assert threads and threads[0] != threading.get_ident()


async def test_the_loop_runs_while_a_message_is_read() -> None:
    """A parse that takes long holds a worker, not the loop: a timer fires meanwhile."""
    started, release = threading.Event(), threading.Event()

    def parse(raw: bytes, limits: MailLimits) -> InboundEmail:
        started.set()
        release.wait(10)
        return parse_email(raw, limits)

    reader = MailReader(MailLimits(), parse=parse)
    reading = asyncio.ensure_future(reader.read(raw_mail("Вопрос")))
    try:
        await asyncio.to_thread(started.wait, 10)
        await asyncio.sleep(0.01)  # only a running loop gets here
        assert not reading.done()
    finally:
        release.set()
        await reading
        reader.close()


async def test_an_unreadable_message_is_invalid_naming_raw_message() -> None:
    reader = MailReader(MailLimits(subject_bytes=100))
    try:
        with pytest.raises(InvalidRequest) as refused:
            await reader.read(raw_mail("a" * 200))
    finally:
        reader.close()
    assert refused.value.violations == [
        ("raw_message", "the Subject header is longer than the limit of 100 bytes")
    ]


def test_settings_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="case_lookups"):
        MailIntakeConfig(case_lookups=0)
    with pytest.raises(ValueError, match="workers"):
        MailReader(MailLimits(), workers=0)
