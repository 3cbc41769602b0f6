"""The topic ownership rule as ACLs (casedesk_runtime.kafka_access) and the dev broker's files."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from casedesk_runtime import dev_kafka
from casedesk_runtime.kafka_access import (
    ANALYST,
    Grant,
    Operation,
    Resource,
    grants,
    main,
)
from casedesk_vocabulary import topics


def _writers(rule: list[Grant], topic: str) -> set[str]:
    return {
        g.principal
        for g in rule
        if g.resource is Resource.TOPIC and g.name == topic and g.operation is Operation.WRITE
    }


def test_every_topic_has_exactly_its_owner_as_writer() -> None:
    rule = grants()
    assert _writers(rule, topics.CASE_EVENTS) == {"case"}
    assert _writers(rule, topics.SLA_EVENTS) == {"sla"}
    assert _writers(rule, topics.NOTIFICATION_EVENTS) == {"notify"}
    assert _writers(rule, topics.ESCALATION_DECISIONS) == {"escalation"}
    assert _writers(rule, "case.events.v1.dlq.sla") == {"sla"}
    assert _writers(rule, "sla.events.v1.dlq.escalation") == {"escalation"}


def test_consumers_read_their_inputs_with_their_own_group_only() -> None:
    rule = grants()
    reads = {(g.principal, g.resource, g.name) for g in rule if g.operation is Operation.READ}
    assert ("notify", Resource.TOPIC, topics.CASE_EVENTS) in reads
    assert ("notify", Resource.TOPIC, topics.SLA_EVENTS) not in reads
    assert ("escalation", Resource.TOPIC, topics.SLA_EVENTS) in reads
    groups = {(p, name) for p, kind, name in reads if kind is Resource.GROUP}
    assert groups == {("sla", "casedesk-sla"), ("notify", "notify"),
                      ("escalation", "casedesk-escalation"),
                      ("case", "casedesk-case-timeline")}  # fmt: skip


def test_the_case_timeline_reads_sla_and_notices_and_writes_only_its_own_topic() -> None:
    rule = grants()
    mine = {(g.operation, g.resource, g.name) for g in rule if g.principal == "case"}
    assert {(op, name) for op, kind, name in mine if kind is Resource.TOPIC} == {
        (Operation.READ, topics.SLA_EVENTS),
        (Operation.READ, topics.NOTIFICATION_EVENTS),
        (Operation.WRITE, topics.CASE_EVENTS),
    }
    assert (Operation.READ, Resource.GROUP, "casedesk-case-timeline") in mine
    # No dead-letter topic of the case service's exists to be written or read.
    assert not [g for g in rule if g.name.endswith(".dlq.case")]


def test_the_analyst_reads_everything_and_writes_nothing() -> None:
    rule = grants()
    mine = [g for g in rule if g.principal == ANALYST]
    assert {g.operation for g in mine} == {Operation.READ}
    assert {g.name for g in mine} >= set(topics.ALL)


def test_a_prefix_and_groups_follow_the_deployment() -> None:
    rule = grants("e2e-1.", {"sla": "sla-e2e-1"})
    assert _writers(rule, "e2e-1.case.events.v1") == {"case"}
    assert not _writers(rule, topics.CASE_EVENTS)
    assert Grant("sla", Resource.GROUP, "sla-e2e-1", Operation.READ) in rule
    assert Grant("sla", Resource.GROUP, "casedesk-sla", Operation.READ) not in rule
    timeline = grants("e2e-1.", {"case": "case-e2e-1"})
    assert Grant("case", Resource.TOPIC, "e2e-1.sla.events.v1", Operation.READ) in timeline
    assert Grant("case", Resource.GROUP, "case-e2e-1", Operation.READ) in timeline
    assert Grant("case", Resource.GROUP, "casedesk-case-timeline", Operation.READ) not in timeline
    with pytest.raises(ValueError, match="intake"):
        grants(groups={"intake": "casedesk-intake"})


def test_dry_run_prints_the_rule_and_a_bad_group_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--dry-run", "--topic-prefix", "p.", "--group", "notify=n1",
                 "--group", "case=timeline-blue"]) == 0  # fmt: skip
    printed = capsys.readouterr().out.splitlines()
    assert "User:notify\tREAD\tgroup:n1" in printed
    assert "User:case\tREAD\tgroup:timeline-blue" in printed
    assert "User:case\tREAD\ttopic:p.notification.events.v1" in printed
    assert "User:case\tWRITE\ttopic:p.case.events.v1" in printed
    with pytest.raises(SystemExit):
        main(["--dry-run", "--group", "intake=x"])
    assert "SERVICE=GROUP" in capsys.readouterr().err


def test_dev_broker_passwords_are_private_and_kept_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "kafka-credentials"
    first = dev_kafka.load_or_create_passwords(path)
    assert set(first) == {"admin", "case", "sla", "escalation", "notify", "replay"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert dev_kafka.load_or_create_passwords(path) == first


def test_dev_broker_listens_only_with_sasl_ssl_and_denies_by_default() -> None:
    properties = dev_kafka.secured_properties(
        9092, 9093, ca_pem="CA\nPEM", cert_pem="C", key_pem="K", admin_password="pw"
    )
    assert properties["listener.security.protocol.map"] == "CLIENT:SASL_SSL,CONTROLLER:SSL"
    assert properties["allow.everyone.if.no.acl.found"] == "false"
    assert properties["ssl.truststore.certificates"] == "CA\\nPEM"
    assert "PLAINTEXT" not in properties["listeners"]
