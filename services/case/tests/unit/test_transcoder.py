"""The service's transcoder writes exactly what eventsourcing's own JSONTranscoder writes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from eventsourcing.persistence import JSONTranscoder

from casedesk_case.adapters.persistence.transcodings import TreeJSONTranscoder
from casedesk_case.domain.values import Status
from casedesk_case.testing import CaseApplication

from ..conftest import SPECIALIST, create, meta


def test_stored_events_are_byte_for_byte_the_librarys() -> None:
    app = CaseApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    assert isinstance(app.mapper.transcoder, TreeJSONTranscoder)
    library = JSONTranscoder()
    app.register_transcodings(library)
    case = create(app, meta=meta(key="k-1"))
    app.change_status(case.case_id, to_status=Status.IN_PROGRESS, reason="", meta=meta(SPECIALIST))
    stored = app.recorder.select_notifications(None, 100)
    assert len(stored) >= 4  # the case's events, its receipts, the number's
    for notification in stored:
        state = app.mapper.transcoder.decode(notification.state)
        assert app.mapper.transcoder.encode(state) == library.encode(state) == notification.state
    odd = {
        "text": 'Иванов "Ё" \\ \n\t\x01 \u2028 😀',
        "numbers": [1.5, float("inf"), 10**30, True, None],
        "values": (uuid.uuid4(), datetime.now(UTC), Status.CLOSED),
    }
    assert app.mapper.transcoder.encode(odd) == library.encode(odd)
    app.close()
