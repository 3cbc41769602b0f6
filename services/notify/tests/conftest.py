from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest

from casedesk_notify.adapters.rendering import TemplateCatalog
from casedesk_notify.adapters.store import DeliveryStore
from casedesk_notify.domain import (
    CaseCard,
    Contacts,
    ExpectedDeadlines,
)
from casedesk_notify.testing.sinks import SmsSink, SmtpSink
from casedesk_vocabulary.enums import ContactChannel, Status

PORTAL = "https://portal.test/cases"


@pytest.fixture
def catalog() -> TemplateCatalog:
    return TemplateCatalog(PORTAL)


@pytest.fixture
def card() -> CaseCard:
    return CaseCard(
        case_id="case-1",
        number="2026-0001234",
        status=Status.REGISTERED,
        contacts=Contacts("+79161234567", "ivanov@example.org", ContactChannel.SMS_AND_EMAIL),
        deadlines=ExpectedDeadlines(
            first_response_due=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),  # 12:00 in Moscow
            resolution_due=datetime(2026, 3, 5, 21, 0, tzinfo=UTC),  # 24:00 in Moscow
        ),
    )


@pytest.fixture
def store(tmp_path) -> Iterator[DeliveryStore]:
    opened = DeliveryStore(tmp_path / "notify.sqlite3", synchronous="NORMAL")
    yield opened
    opened.close()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
async def sms_sink() -> AsyncIterator[SmsSink]:
    sink = await SmsSink(token="gateway-token").start()
    yield sink
    await sink.stop()
