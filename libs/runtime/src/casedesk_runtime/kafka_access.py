"""Who may do what on Kafka: the topic ownership rule as ACLs (DESIGN.md "Identity and trust").

Every service authenticates with a principal of its own (its SCRAM user name is the service's
name) and the broker's StandardAuthorizer denies whatever no ACL allows. The rule:
- each topic has exactly one writer, its owner (case -> case.events.v1, sla -> sla.events.v1,
  notify -> notification.events.v1, escalation -> escalation.decisions.v1), so no other
  principal can publish an event that notify would turn into an official SMS;
- a consumer reads the topics it consumes, with its own consumer group only, and writes only its
  own dead-letter topics (`<topic>.dlq.<consumer>`); the case service's timeline reads
  sla.events.v1 and notification.events.v1 with a dead-letter topic of neither (it counts and
  skips what it cannot read);
- `replay` (the analysts' tool) reads every topic and writes none.
Idempotent producers need IDEMPOTENT_WRITE on the cluster (implied by WRITE since Kafka 3.0, but
granted explicitly so that the rule does not lean on that).

`casedesk-kafka-access` (python -m casedesk_runtime.kafka_access) grants the rule on a cluster,
idempotently (the broker ignores an ACL it already has), authenticating as an administrator with
the usual CASEDESK_KAFKA_* settings. It runs from `make up`, the chart's topics Job and the test
sessions. `--topic-prefix` and `--group` follow the names a deployment actually uses.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

from casedesk_vocabulary import topics

# Kafka's own codes (org.apache.kafka.common.resource / acl). aiokafka 0.14's admin client has no
# create_acls, but it speaks CreateAcls v1, which Kafka 4.x still serves.


class Resource(IntEnum):
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4


class Operation(IntEnum):
    READ = 3
    WRITE = 4
    DESCRIBE = 8
    IDEMPOTENT_WRITE = 12


_LITERAL = 3
_ALLOW = 3
CLUSTER_NAME = "kafka-cluster"

# Topic owners: the one principal that writes each topic.
OWNERS: Mapping[str, str] = {
    topics.CASE_EVENTS: "case",
    topics.SLA_EVENTS: "sla",
    topics.NOTIFICATION_EVENTS: "notify",
    topics.ESCALATION_DECISIONS: "escalation",
}
# Consumers read what they consume; each also owns a dead-letter topic per input.
READERS: Mapping[str, tuple[str, ...]] = topics.CONSUMERS_WITH_DLQ
# Consumers without a dead-letter topic for an input: they read it, and write nothing.
READERS_WITHOUT_DLQ: Mapping[str, tuple[str, ...]] = {
    topics.SLA_EVENTS: ("case",),
    topics.NOTIFICATION_EVENTS: ("case",),
    # notify explains refused escalation requests; it parks an unreadable decision on its
    # case-events dead-letter topic (the record's source topic in its casedesk-dlq header).
    topics.ESCALATION_DECISIONS: ("notify",),
}
# The consumer group each consuming service uses unless its settings say otherwise (the case
# service's: its timeline's, CASEDESK_CASE_TIMELINE_GROUP).
DEFAULT_GROUPS: Mapping[str, str] = {
    "sla": "casedesk-sla",
    "notify": "notify",
    "escalation": "casedesk-escalation",
    "case": "casedesk-case-timeline",
}
ANALYST = "replay"
PRINCIPALS = (*dict.fromkeys(OWNERS.values()), ANALYST)


@dataclass(frozen=True, order=True)
class Grant:
    """One ALLOW ACL: `principal` may `operation` on the literal resource `name`."""

    principal: str
    resource: Resource
    name: str
    operation: Operation

    def __str__(self) -> str:
        resource = f"{self.resource.name.lower()}:{self.name}"
        return f"User:{self.principal}\t{self.operation.name}\t{resource}"


def grants(topic_prefix: str = "", groups: Mapping[str, str] | None = None) -> list[Grant]:
    """The ownership rule for a deployment whose topics carry `topic_prefix` and whose consumers
    use `groups` (service -> group; missing services use DEFAULT_GROUPS)."""
    group_of = {**DEFAULT_GROUPS, **(groups or {})}
    unknown = set(group_of) - set(DEFAULT_GROUPS)
    if unknown:
        raise ValueError(f"no consumer group belongs to {sorted(unknown)}")
    result: set[Grant] = set()
    for topic, owner in OWNERS.items():
        result.add(Grant(owner, Resource.TOPIC, topic_prefix + topic, Operation.WRITE))
        result.add(Grant(owner, Resource.CLUSTER, CLUSTER_NAME, Operation.IDEMPOTENT_WRITE))
        result.add(Grant(ANALYST, Resource.TOPIC, topic_prefix + topic, Operation.READ))
    for topic, readers in READERS.items():
        for reader in readers:
            dead_letters = topic_prefix + topics.dlq_topic(topic, reader)
            result.add(Grant(reader, Resource.TOPIC, topic_prefix + topic, Operation.READ))
            result.add(Grant(reader, Resource.GROUP, group_of[reader], Operation.READ))
            result.add(Grant(reader, Resource.TOPIC, dead_letters, Operation.WRITE))
            result.add(Grant(ANALYST, Resource.TOPIC, dead_letters, Operation.READ))
    for topic, readers in READERS_WITHOUT_DLQ.items():
        for reader in readers:
            result.add(Grant(reader, Resource.TOPIC, topic_prefix + topic, Operation.READ))
            result.add(Grant(reader, Resource.GROUP, group_of[reader], Operation.READ))
    return sorted(result)


class GrantRefused(RuntimeError):
    """The broker refused to create an ACL (the message names it and the broker's error)."""


async def apply(grants_to_make: list[Grant], **connection: object) -> None:
    """Create every grant on the cluster `connection` reaches (an administrator's credentials)."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.protocol.admin import CreateAclsRequest

    admin = AIOKafkaAdminClient(**connection)  # type: ignore[arg-type]
    await admin.start()
    try:
        for grant in grants_to_make:
            request = CreateAclsRequest(
                int(grant.resource),
                grant.name,
                _LITERAL,
                f"User:{grant.principal}",
                "*",
                int(grant.operation),
                _ALLOW,
            )
            response = await admin._send_request(request)
            for code, message in response.creation_responses:
                if code:
                    raise GrantRefused(f"creating ACL {grant}: Kafka error {code} {message or ''}")
    finally:
        await admin.close()


def _group(value: str) -> tuple[str, str]:
    service, sep, group = value.partition("=")
    if not sep or not group or service not in DEFAULT_GROUPS:
        raise argparse.ArgumentTypeError(
            f"expected SERVICE=GROUP with SERVICE one of {', '.join(DEFAULT_GROUPS)}; got {value!r}"
        )
    return service, group


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Grant Casedesk's Kafka ACLs (topic ownership rule); idempotent.",
    )
    parser.add_argument("--topic-prefix", default="", help="prefix of every topic name")
    parser.add_argument(
        "--group", type=_group, action="append", default=[], metavar="SERVICE=GROUP",
        help="a consumer's group when not its default " + str(dict(DEFAULT_GROUPS)),
    )  # fmt: skip
    parser.add_argument("--dry-run", action="store_true", help="print the ACLs, change nothing")
    args = parser.parse_args(argv)
    wanted = grants(args.topic_prefix, dict(args.group))
    if args.dry_run:
        print("\n".join(str(grant) for grant in wanted))
        return 0
    from casedesk_runtime.kafka import connection_config
    from casedesk_runtime.settings import ServiceSettings, load_settings

    connection = connection_config(load_settings(ServiceSettings))
    try:
        asyncio.run(apply(wanted, **connection))
    except GrantRefused as refused:
        print(f"casedesk-kafka-access: {refused}", file=sys.stderr)
        return 1
    print(f"{len(wanted)} ACLs granted for {', '.join(PRINCIPALS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
