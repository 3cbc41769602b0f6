"""Casedesk's metrics as a real Prometheus sees them: the whole system scraped, the chart's alert
rules evaluated, the dashboard's queries answered.

One system serves the module (support/system.py, as test_end_to_end.py starts it: five service
processes on the secured Kafka, PostgreSQL, SMTP and SMS sinks, the `test-seconds` SLA policy:
chat first response 4 s, resolution 8 s). A Prometheus built from source (support/prometheus.py)
scrapes every service's /metrics each second as job casedesk-<service>, the job names the chart's
ServiceMonitors give, and loads deploy/helm/casedesk/files/alerts.yaml, the chart's rule file.

The scenario, once: four citizens submit chat cases through intake, one more submission is
refused; a specialist takes two of the cases in work, replies, has their answers ready and closes
them; the other two are left alone, so both their clocks breach and escalation lifts them L1 -> L2
-> L3; notify tells every citizen of every step by e-mail and SMS. The tests then compare what
Prometheus answers with what the scenario did, what the SMTP and SMS sinks received, and what the
services wrote to Kafka (SLA events, escalation decisions, case events): on a loaded machine an
answered case may still breach its 4 s, and the records say so as the metrics must.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import urllib.request
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from support.people import Keycloak
from support.prometheus import Prometheus, Sample, prometheus_binary, running_prometheus
from support.provisioning import SecureKafka
from support.system import SERVICES, Casedesk, read_topic, start_casedesk, until_true

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.case.v1 import case_service_pb2_grpc as case_grpc
from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2 as S
from casedesk.escalation.v1 import events_pb2 as escalation_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk.intake.v1 import intake_service_pb2_grpc as intake_grpc
from casedesk.sla.v1 import events_pb2 as sla_pb2

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "casedesk"
RULE_FILE = CHART / "files" / "alerts.yaml"
DASHBOARD = CHART / "files" / "dashboard.json"
SPECIALIST = "l3.sidorova"  # a development user of Keycloak's casedesk realm (tier L3)
CASE_SERVICE = "casedesk.case.v1.CaseService"
INTAKE_SERVICE = "casedesk.intake.v1.IntakeService"
# What a specialist does with an answered case: takes it in work, replies (AddComment, public),
# marks the answer ready and closes it. The citizen is told of each step.
ANSWERING = (case_pb2.TAKE_IN_WORK, "reply", case_pb2.ANSWER_READY_ACTION, case_pb2.CLOSE)
ANSWERED, UNANSWERED = 2, 2
# Notifications per channel at least: every case's registration, the answered cases' steps (the
# reply and «Ответ готов» right after it make one notice: notify's reply window), and the
# unanswered ones' two escalations (L1 -> L2 at the first-response breach, L2 -> L3 at the
# resolution breach).
NOTIFICATIONS = ANSWERED + UNANSWERED + ANSWERED * (len(ANSWERING) - 1) + UNANSWERED * 2
WAIT_S = 90.0
QUIET_S = 3.0  # nothing new for this long: the system has done what the scenario caused


@dataclass(frozen=True)
class Citizen:
    login: str
    email: str
    phone: str

    @classmethod
    def new(cls, tag: str) -> Citizen:
        login = f"metrics.{tag}.{uuid.uuid4().hex[:6]}"
        return cls(login, f"{login}@example.ru", f"+7916{uuid.uuid4().int % 10**7:07d}")

    def submission(self) -> intake_pb2.SubmitCaseRequest:
        return intake_pb2.SubmitCaseRequest(
            idempotency_key=str(uuid.uuid4()),
            channel=S.PORTAL_CHAT,
            citizen=S.Citizen(
                full_name="Смирнова Ольга Петровна",
                account_login=self.login,
                mobile_phone=self.phone,
                email=self.email,
            ),
            content=S.CaseContent(subject="Не открывается заявление", description="Ошибка 500"),
            provenance=S.Provenance(chat=S.ChatOrigin(session_id=f"chat-{uuid.uuid4().hex[:8]}")),
        )


@dataclass(frozen=True)
class Scenario:
    citizens: list[Citizen]
    case_ids: list[str]
    numbers: list[str]
    submitted: int  # SubmitCase calls intake answered OK
    refused: int  # SubmitCase calls intake refused INVALID_ARGUMENT
    status_changes: int  # ChangeStatus calls the specialist made
    notified: tuple[int, int]  # e-mails and SMS the sinks accepted
    # What sla.events.v1 and escalation.decisions.v1 hold for the cases.
    sla_events: Counter[tuple[str, str]]  # (payload, target) -> events
    breaches: Counter[tuple[str, str]]  # (tier, target) -> Breached events
    escalations: Counter[tuple[str, str]]  # (from tier, to tier) -> accepted decisions


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def casedesk(
    secure_kafka: SecureKafka,
    keycloak: Keycloak,
    postgres_env: dict[str, str],
    postgres_dsn: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Casedesk]:
    directory: Path = tmp_path_factory.mktemp("casedesk-metrics")
    async with start_casedesk(
        secure_kafka, postgres_env, postgres_dsn, directory, keycloak=keycloak
    ) as system:
        yield system


@pytest.fixture(scope="module")
def prometheus(
    casedesk: Casedesk, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    jobs = {f"casedesk-{name}": [casedesk.metrics_address(name)] for name in SERVICES}
    directory = tmp_path_factory.mktemp("prometheus")
    with running_prometheus(prometheus_binary(), jobs, directory, rule_files=[RULE_FILE]) as server:
        server.wait_for("sum(up)", lambda s: bool(s) and s[0].value == len(SERVICES), 30)
        yield server


def counts(samples: list[Sample], *labels: str) -> dict[tuple[str, ...], float]:
    return {tuple(s.labels.get(label, "") for label in labels): s.value for s in samples}


def breaches_by_target(scenario: Scenario) -> Counter[str]:
    found: Counter[str] = Counter()
    for (_, target), n in scenario.breaches.items():
        found[target] += n
    return found


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def scenario(casedesk: Casedesk, prometheus: Prometheus) -> Scenario:
    citizens = [Citizen.new(f"c{i}") for i in range(ANSWERED + UNANSWERED)]
    case_ids, numbers, changes = [], [], 0
    async with (
        casedesk.channel("intake", caller="frontend") as to_intake,
        casedesk.channel("case", caller="desk", person=SPECIALIST) as to_case,
    ):
        intake = intake_grpc.IntakeServiceStub(to_intake)
        cases = case_grpc.CaseServiceStub(to_case)
        # The specialist's token is fetched from Keycloak now, not in the 4 s of a first response.
        await cases.ListCases(case_pb2.ListCasesRequest(page_size=1))
        for index, citizen in enumerate(citizens):
            as_citizen = casedesk.frontend.acting_for(citizen.login)
            ack = await intake.SubmitCase(citizen.submission(), metadata=as_citizen)
            case_ids.append(ack.case_id)
            numbers.append(ack.number)
            if index >= ANSWERED:
                continue  # left alone: both its clocks breach
            for action in ANSWERING:
                context = case_pb2.CommandContext(idempotency_key=str(uuid.uuid4()))
                if action == "reply":
                    await cases.AddComment(
                        case_pb2.AddCommentRequest(
                            context=context, case_id=ack.case_id, body="Исправлено", public=True
                        )
                    )
                    continue
                await cases.ChangeStatus(
                    case_pb2.ChangeStatusRequest(
                        context=context, case_id=ack.case_id, action=action
                    )
                )
                changes += 1
        empty = citizens[0].submission()
        empty.content.Clear()
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await intake.SubmitCase(empty, metadata=casedesk.frontend.acting_for(citizens[0].login))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    def received() -> tuple[int, int]:
        emails = {c.email for c in citizens}
        phones = {c.phone for c in citizens}
        mails = [m for m in casedesk.smtp.snapshot() if set(m.recipients) <= emails]
        texts = [s for s in list(casedesk.sms.accepted) if s.fields.get("to") in phones]
        return len(mails), len(texts)

    # The unanswered cases reach L3 (8 s in); then whatever else follows is let happen.
    await read_topic(
        casedesk.kafka, casedesk.topics.decisions, escalation_pb2.EscalationDecision.FromString,
        set(case_ids[ANSWERED:]), lambda rs: len(rs) >= UNANSWERED * 2, timeout_s=WAIT_S,
    )  # fmt: skip
    await until_true(
        lambda: min(received()) >= NOTIFICATIONS, WAIT_S, f"{NOTIFICATIONS} e-mails and SMS"
    )
    notified = received()
    while True:
        await asyncio.sleep(QUIET_S)
        if received() == notified:
            break
        notified = received()
    sla = await read_topic(
        casedesk.kafka, casedesk.topics.sla, sla_pb2.SlaEvent.FromString, set(case_ids),
        lambda rs: True, settle_s=QUIET_S,
    )  # fmt: skip
    decisions = await read_topic(
        casedesk.kafka, casedesk.topics.decisions, escalation_pb2.EscalationDecision.FromString,
        set(case_ids), lambda rs: True, settle_s=QUIET_S,
    )  # fmt: skip
    return Scenario(
        citizens=citizens,
        case_ids=case_ids,
        numbers=numbers,
        submitted=len(citizens),
        refused=1,
        status_changes=changes,
        notified=notified,
        sla_events=Counter(
            (str(r.event.WhichOneof("payload")), sla_pb2.Target.Name(r.event.target)) for r in sla
        ),
        breaches=Counter(
            (S.Tier.Name(r.event.breached.tier), sla_pb2.Target.Name(r.event.target))
            for r in sla
            if r.event.HasField("breached")
        ),
        escalations=Counter(
            (S.Tier.Name(r.event.from_tier), S.Tier.Name(r.event.to_tier))
            for r in decisions
            if r.event.accepted
        ),
    )


async def settled(prometheus: Prometheus, expression: str, expected: float) -> None:
    """Wait for `expression` (one sample, or none for 0) to reach `expected` after a scrape."""
    await asyncio.to_thread(
        prometheus.wait_for,
        expression,
        lambda s: (s[0].value if s else 0.0) == expected,
        WAIT_S,
    )


async def test_grpc_calls_are_counted_per_method_as_they_were_made(
    casedesk: Casedesk, prometheus: Prometheus, scenario: Scenario
) -> None:
    submit = f'grpc_service="{INTAKE_SERVICE}", grpc_method="SubmitCase"'
    await settled(prometheus, f"sum(casedesk_grpc_server_handled_total{{{submit}}})", 5)
    by_code = counts(
        prometheus.query(f"sum by (grpc_code) (casedesk_grpc_server_handled_total{{{submit}}})"),
        "grpc_code",
    )
    assert by_code == {("OK",): scenario.submitted, ("INVALID_ARGUMENT",): scenario.refused}
    assert (
        prometheus.value(f"sum(casedesk_grpc_server_handling_seconds_count{{{submit}}})")
        == scenario.submitted + scenario.refused
    )
    assert (
        prometheus.value('sum(intake_refusals_total{rpc="SubmitCase", code="INVALID_ARGUMENT"})')
        == scenario.refused
    )

    # Intake creates the cases in the case service, alone or batched (CreateCase, CreateCases):
    # each call intake made is a call the case service served, and none failed.
    creates = 'grpc_method=~"CreateCases?"'
    by_method = "sum by (grpc_method, grpc_code)"
    made = counts(
        prometheus.query(
            f'{by_method} (casedesk_grpc_client_handled_total{{job="casedesk-intake", {creates}}})'
        ),
        "grpc_method", "grpc_code",
    )  # fmt: skip
    served = counts(
        prometheus.query(
            f'{by_method} (casedesk_grpc_server_handled_total{{job="casedesk-case", {creates}}})'
        ),
        "grpc_method", "grpc_code",
    )  # fmt: skip
    assert made == served
    assert {code for _, code in made} == {"OK"}
    assert 1 <= sum(made.values()) <= scenario.submitted

    change = f'grpc_service="{CASE_SERVICE}", grpc_method="ChangeStatus"'
    assert counts(
        prometheus.query(f"sum by (grpc_code) (casedesk_grpc_server_handled_total{{{change}}})"),
        "grpc_code",
    ) == {("OK",): scenario.status_changes}


async def test_sla_breaches_and_escalations_are_counted(
    prometheus: Prometheus, scenario: Scenario
) -> None:
    # Both clocks of each unanswered case breached (an answered one may too on a slow machine:
    # what sla.events.v1 holds is what the counters must say).
    by_target = breaches_by_target(scenario)
    assert by_target["FIRST_RESPONSE"] >= UNANSWERED and by_target["RESOLUTION"] >= UNANSWERED
    expected_escalations = scenario.escalations.total()
    assert scenario.escalations[("L1", "L2")] >= UNANSWERED
    assert scenario.escalations[("L2", "L3")] >= UNANSWERED
    await settled(prometheus, "sum(casedesk_escalation_escalations_total)", expected_escalations)
    await settled(prometheus, "sum(casedesk_sla_breaches_total)", scenario.breaches.total())
    await settled(prometheus, "sum(casedesk_sla_events_total)", scenario.sla_events.total())

    breaches = counts(
        prometheus.query("sum by (channel, tier, target) (casedesk_sla_breaches_total)"),
        "channel", "tier", "target",
    )  # fmt: skip
    assert breaches == {("PORTAL_CHAT", *key): n for key, n in scenario.breaches.items()}
    events = counts(
        prometheus.query("sum by (kind, target) (casedesk_sla_events_total)"), "kind", "target"
    )
    payload_kinds = {"started": "ClockStarted", "paused": "ClockPaused", "resumed": "ClockResumed",
                     "warning": "Warning", "breached": "Breached", "met": "Met"}  # fmt: skip
    assert events == {
        (payload_kinds[payload], target): n for (payload, target), n in scenario.sla_events.items()
    }
    escalations = counts(
        prometheus.query("sum by (from_tier, to_tier) (casedesk_escalation_escalations_total)"),
        "from_tier", "to_tier",
    )  # fmt: skip
    assert escalations == dict(scenario.escalations)
    # Escalation applied each of them through the case service's Escalate.
    escalate = 'grpc_method="Escalate", grpc_code="OK"'
    assert (
        prometheus.value(
            f'sum(casedesk_grpc_client_handled_total{{job="casedesk-escalation", {escalate}}})'
        )
        == expected_escalations
    )
    assert (
        prometheus.value(
            f'sum(casedesk_grpc_server_handled_total{{job="casedesk-case", {escalate}}})'
        )
        == expected_escalations
    )


async def test_notifications_sent_by_channel_are_what_the_gateways_received(
    casedesk: Casedesk, prometheus: Prometheus, scenario: Scenario
) -> None:
    emails, texts = scenario.notified
    await settled(prometheus, "sum(casedesk_notify_notifications_sent_total)", emails + texts)
    sent = counts(
        prometheus.query("sum by (channel) (casedesk_notify_notifications_sent_total)"), "channel"
    )
    # Everything the sinks accepted came from this system's notify (intake sent no codes).
    assert sent == {("email",): len(casedesk.smtp.snapshot()), ("sms",): len(casedesk.sms.accepted)}
    assert sent == {("email",): emails, ("sms",): texts}
    failed = (
        "casedesk_notify_notifications_dead_lettered_total or casedesk_kafka_dead_letters_total"
    )
    assert prometheus.query(failed) == []


async def test_consumers_and_the_outbox_catch_up(
    casedesk: Casedesk, prometheus: Prometheus, scenario: Scenario
) -> None:
    groups = {
        casedesk.sla.env["CASEDESK_SLA_CONSUMER_GROUP"],
        casedesk.escalation.env["CASEDESK_ESCALATION_CONSUMER_GROUP"],
        casedesk.notify.env["CASEDESK_CONSUMER_GROUP"],
    }
    # Measured every 15 s per assigned partition; each group's lag back to 0 once it caught up
    # (the case service's timeline consumer, when measured, as well).
    await asyncio.to_thread(
        prometheus.wait_for,
        "max by (consumer_group) (casedesk_kafka_consumer_lag)",
        lambda s: (
            {x.labels["consumer_group"] for x in s} >= groups and all(x.value == 0 for x in s)
        ),
        WAIT_S,
    )
    topics = counts(
        prometheus.query("count by (consumer_group, topic) (casedesk_kafka_consumer_lag)"),
        "consumer_group", "topic",
    )  # fmt: skip
    assert {topic for _, topic in topics} >= {casedesk.topics.case, casedesk.topics.sla}

    await settled(prometheus, "max(casedesk_case_outbox_lag_seconds)", 0)
    await settled(prometheus, "max(casedesk_case_outbox_lag)", 0)
    published = prometheus.value("sum(casedesk_case_outbox_published_total)")
    assert published is not None
    # Every case event on the topic was counted once: the topic holds only this system's cases.
    records = await read_topic(
        casedesk.kafka, casedesk.topics.case, events_pb2.CaseEvent.FromString,
        set(scenario.case_ids), lambda rs: len(rs) >= published, timeout_s=30, settle_s=1.0,
    )  # fmt: skip
    assert len(records) == published


async def test_no_label_carries_personal_data_or_ids(
    prometheus: Prometheus, scenario: Scenario
) -> None:
    secrets = {SPECIALIST, "Смирнова", *scenario.case_ids, *scenario.numbers}
    for citizen in scenario.citizens:
        secrets |= {citizen.login, citizen.email, citizen.phone, citizen.phone.lstrip("+")}
    label_sets = prometheus.label_sets()
    names = {labels["__name__"] for labels in label_sets}
    assert {"casedesk_sla_breaches_total", "casedesk_notify_notifications_sent_total"} <= names
    leaks = [
        (labels["__name__"], label, value)
        for labels in label_sets
        for label, value in labels.items()
        if any(secret in value for secret in secrets)
    ]
    assert leaks == []


async def test_each_scrape_passes_promtools_metric_lint(
    casedesk: Casedesk, scenario: Scenario
) -> None:
    promtool = prometheus_binary("promtool")
    for name in SERVICES:
        with urllib.request.urlopen(f"http://{casedesk.metrics_address(name)}/metrics") as reply:
            text = reply.read()
        linted = subprocess.run(
            [str(promtool), "check", "metrics"], input=text, capture_output=True, check=False
        )
        assert linted.returncode == 0, (name, linted.stdout.decode(), linted.stderr.decode())


async def test_the_charts_alert_rules_evaluate_and_the_breach_alert_fires(
    prometheus: Prometheus, scenario: Scenario
) -> None:
    # Two of four chat cases (at least) breached both clocks: the breach rate alert's condition
    # holds (it fires after its 5 minutes `for`); nothing else of the run alerts.
    await asyncio.to_thread(
        prometheus.wait_for,
        'ALERTS{alertname="CasedeskSlaBreachRateHigh"}',
        lambda s: {x.labels["target"] for x in s} == {"FIRST_RESPONSE", "RESOLUTION"},
        WAIT_S,
    )
    active = prometheus.query("ALERTS")
    assert {a.labels["alertname"] for a in active} == {"CasedeskSlaBreachRateHigh"}
    # Pending for its 5 minutes, then firing: a slow machine may take that long to get here.
    assert {a.labels["alertstate"] for a in active} <= {"pending", "firing"}
    assert {a.labels["severity"] for a in active} == {"warning"}
    groups = prometheus.rule_groups()
    assert {g["name"] for g in groups} == {"casedesk.counts", "casedesk.alerts"}
    rules = [r for g in groups for r in g["rules"]]
    assert [(r["name"], r.get("lastError", "")) for r in rules if r["health"] != "ok"] == []
    # The recording rules count the breaches whose series appeared within the window.
    recorded = counts(prometheus.query("namespace_target:casedesk_sla_breaches:new1h"), "target")
    assert recorded == {(target,): n for target, n in breaches_by_target(scenario).items()}


async def test_every_dashboard_query_is_valid_promql(
    prometheus: Prometheus, scenario: Scenario
) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    answered = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            # As Grafana sends them: every namespace, a rate window of four scrape intervals.
            expression = (
                target["expr"].replace("$namespace", ".*").replace("$__rate_interval", "4s")
            )
            if prometheus.query(expression):  # raises on a query Prometheus refuses
                answered.append(panel["title"])
    for title in ("Calls served per second", "Consumer lag", "Open SLA clocks",
                  "Notifications per minute", "Escalations per hour"):  # fmt: skip
        assert title in answered
