"""The desk's /metrics as Prometheus scrapes it: requests by route template and status class, their
duration, open live feeds and sign-in outcomes; never a case id, number or login in a label."""

from __future__ import annotations

import socket
import time

import pytest

from casedesk_desk.adapters.case_service import CaseService
from casedesk_desk.domain.errors import RefusalKind, Refused
from casedesk_desk.settings import DeskSettings
from casedesk_desk.web.app import COOKIE
from casedesk_runtime.grpc_client import insecure_channel
from casedesk_runtime.testing.metrics import Scrape, scrape

from .apps import DeskUnderTest, desk_app
from .fakes import FakeCases, FakeVerifier, case_details, signed_in

REQUESTS = "casedesk_desk_http_requests_total"
DURATION_COUNT = "casedesk_desk_http_duration_seconds_count"
LIVE = "casedesk_desk_live_streams"
SIGNINS = "casedesk_desk_signins_total"
GRPC_CALLS = "casedesk_grpc_client_handled_total"
# What the requests below put in paths and queries: none may become a label value.
PERSONAL = ("4711", "c-4711", "l1.petrova", "petrova", "l1.ivanova", "79161234567")


def _signed_in(cases: FakeCases) -> DeskUnderTest:
    under_test = desk_app(cases)
    session = signed_in(under_test.store)
    under_test.client.cookies.set(COOKIE, session.session_id)
    return under_test


def _difference(before: Scrape, after: Scrape, name: str, **labels: str) -> float:
    return after.value(name, **labels) - before.value(name, **labels)


def _desk_label_values(scraped: Scrape) -> set[str]:
    values: set[str] = set()
    for name in (
        REQUESTS,
        DURATION_COUNT,
        LIVE,
        SIGNINS,
        "casedesk_desk_http_duration_seconds_bucket",
    ):
        for labels in scraped.label_sets(name):
            values.update(value for key, value in labels.items() if key != "le")
    return values


def test_requests_are_counted_by_route_template_and_status_class_without_personal_data() -> None:
    cases = FakeCases()
    cases.case = case_details("c-4711", number="4711")
    desk = _signed_in(cases)
    before = scrape()

    assert desk.client.get("/cases/c-4711").status_code == 200
    assert desk.client.get("/queue?assignee=l1.petrova&citizen=79161234567").status_code == 200
    cases.refuse["get_case"] = Refused(RefusalKind.NOT_FOUND, "Обращение не найдено.")
    assert desk.client.get("/cases/c-4712").status_code == 404
    assert desk.client.get("/people/l1.petrova/4711").status_code == 404
    assert desk.client.delete("/cases/c-4711").status_code == 405

    after = scrape()
    page = {"route": "/cases/{case_id}", "method": "GET"}
    assert _difference(before, after, REQUESTS, **page, status_class="2xx") == 1
    assert _difference(before, after, REQUESTS, **page, status_class="4xx") == 1
    assert _difference(before, after, DURATION_COUNT, **page) == 2
    assert _difference(before, after, REQUESTS, route="/queue", status_class="2xx") == 1
    # A path no route knows, and a method none takes, are one label value each.
    assert _difference(before, after, REQUESTS, route="unmatched", status_class="4xx") == 1
    assert _difference(before, after, REQUESTS, route="/cases/{case_id}", method="other") == 1
    types = after.family_types()
    assert types["casedesk_desk_http_requests"] == "counter"
    assert types["casedesk_desk_http_duration_seconds"] == "histogram"
    leaked = {v for v in _desk_label_values(after) if any(p in v for p in PERSONAL)}
    assert leaked == set()


def test_an_open_live_feed_is_counted_while_open_and_not_timed() -> None:
    cases = FakeCases()  # its queue feed stays open after its changes
    desk = _signed_in(cases)
    route = {"route": "/queue/live"}
    before = scrape()
    with desk.client.stream("GET", "/queue/live?view=tier") as reply:
        assert reply.status_code == 200
        next(reply.iter_lines())  # the feed has started
        assert _difference(before, scrape(), LIVE, **route) == 1
    deadline = time.monotonic() + 5
    while _difference(before, scrape(), LIVE, **route) != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    after = scrape()
    assert _difference(before, after, LIVE, **route) == 0
    assert _difference(before, after, REQUESTS, **route, status_class="2xx") == 1
    assert _difference(before, after, DURATION_COUNT, **route) == 0
    assert after.family_types()[LIVE] == "gauge"


def test_sign_ins_are_counted_by_outcome_and_reason() -> None:
    ids, access = FakeVerifier(), FakeVerifier()
    desk = desk_app(FakeCases(), verifiers=(ids, access))
    client = desk.client
    before = scrape()

    assert client.get("/auth/callback?error=access_denied").status_code == 401
    client.get("/auth/login?next=/queue")
    assert client.get("/auth/callback?code=c&state=forged").status_code == 400
    client.get("/auth/login?next=/queue")
    session = desk.store.get(client.cookies.get(COOKIE))
    assert session is not None and session.pending is not None
    ids.add("id-1", time.time() + 300, nonce=session.pending.nonce)
    access.add("access-1", time.time() + 300)
    state = session.pending.state
    assert client.get(f"/auth/callback?code=c&state={state}").status_code == 303

    after = scrape()
    assert _difference(before, after, SIGNINS, outcome="refused", reason="cancelled") == 1
    assert _difference(before, after, SIGNINS, outcome="refused", reason="state") == 1
    assert _difference(before, after, SIGNINS, outcome="success") == 1
    assert _difference(before, after, SIGNINS, outcome="refused") == 2
    leaked = {v for v in _desk_label_values(after) if any(p in v for p in PERSONAL)}
    assert leaked == set()


def test_metrics_listen_beside_the_http_port_unless_configured() -> None:
    assert DeskSettings().metrics_address() == ("127.0.0.1", 9080)
    configured = DeskSettings(desk_http_host="0.0.0.0", metrics_port=9464)
    assert configured.metrics_address() == ("0.0.0.0", 9464)
    assert DeskSettings(metrics_port=0).metrics_address() is None
    assert DeskSettings(desk_http_port=0).metrics_address() is None


async def test_a_failing_call_to_the_case_service_is_counted_by_method_and_code() -> None:
    # The desk's channels are the runtime's (channel_for), measured by its client interceptors.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # nothing listens there once the socket is closed
    channel = insecure_channel(f"127.0.0.1:{closed}")
    before = scrape()
    with pytest.raises(Refused) as refused:
        await CaseService(channel, timeout_s=5).get_case("access", "c-4711", "работа с обращением")
    await channel.close()
    assert refused.value.kind is RefusalKind.UNAVAILABLE
    after = scrape()
    call = {"grpc_service": "casedesk.case.v1.CaseService", "grpc_method": "GetCase"}
    assert _difference(before, after, GRPC_CALLS, **call, grpc_code="UNAVAILABLE") == 1
