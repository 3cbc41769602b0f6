"""A secured single-node Kafka broker for development and tests, configured as production's.

The client listener speaks SASL_SSL with SCRAM-SHA-512 (one principal per service, see
`kafka_access`), the controller listener mutual TLS, and KRaft's StandardAuthorizer denies
whatever no ACL allows. `admin` (SCRAM) and the broker's own certificate subject are the only
super users. TLS material comes from the development PKI (`casedesk_runtime.pki`), whose
`kafka` certificate names 127.0.0.1 and localhost.

`python -m casedesk_runtime.dev_kafka --pki DIR --port P --properties FILE --credentials FILE`
writes the broker's server.properties and, once, a password per principal (an env-style file
readable by this account only, kept across restarts because SCRAM users are added when the
storage is formatted); `make up` runs its broker with them (tools/infra/kafka-local.sh).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

from casedesk_runtime.kafka_access import PRINCIPALS

LISTENER = "CLIENT"
ADMIN = "admin"
BROKER_IDENTITY = "kafka"  # the PKI name of the broker's certificate
BROKER_PRINCIPAL = "CN=kafka,O=Casedesk"  # how the broker's certificate authenticates


def _pem_property(pem: str) -> str:
    # java.util.Properties reads "\n" as a line break, so a whole PEM fits on one property line.
    return pem.strip().replace("\n", "\\n")


def secured_properties(
    port: int,
    controller_port: int,
    *,
    ca_pem: str,
    cert_pem: str,
    key_pem: str,
    admin_password: str,
    host: str = "127.0.0.1",
) -> dict[str, str]:
    """server.properties of the secured single node (the broker's inter-broker client
    authenticates as `admin`)."""
    listener = LISTENER.lower()
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{ADMIN}" password="{admin_password}";'
    )
    return {
        "node.id": "1",
        "process.roles": "broker,controller",
        "listeners": f"{LISTENER}://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": f"{LISTENER}://{host}:{port}",
        "controller.quorum.voters": f"1@{host}:{controller_port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": f"{LISTENER}:SASL_SSL,CONTROLLER:SSL",
        "inter.broker.listener.name": LISTENER,
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
        f"listener.name.{listener}.scram-sha-512.sasl.jaas.config": jaas,
        "listener.name.controller.ssl.client.auth": "required",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.certificate.chain": _pem_property(cert_pem),
        "ssl.keystore.key": _pem_property(key_pem),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.certificates": _pem_property(ca_pem),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{ADMIN};User:{BROKER_PRINCIPAL}",
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
    }


def scram_credentials(passwords: dict[str, str]) -> list[str]:
    """`kafka-storage format --add-scram` values, one per user."""
    return [f"SCRAM-SHA-512=[name={name},password={pw}]" for name, pw in passwords.items()]


def new_passwords() -> dict[str, str]:
    return {name: secrets.token_urlsafe(18) for name in (ADMIN, *PRINCIPALS)}


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def load_or_create_passwords(path: Path) -> dict[str, str]:
    """The passwords in `path` (`NAME=password` lines), created with fresh ones if absent."""
    if path.exists():
        pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
        return {name: password for name, password in pairs}
    passwords = new_passwords()
    _write_private(path, "".join(f"{name}={pw}\n" for name, pw in passwords.items()))
    return passwords


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Configure a secured development broker.")
    parser.add_argument("--pki", type=Path, required=True, help="development PKI with kafka.crt")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--controller-port", type=int, default=None, help="default: port + 1")
    parser.add_argument("--properties", type=Path, required=True, help="server.properties to write")
    parser.add_argument("--credentials", type=Path, required=True, help="NAME=password file")
    parser.add_argument(
        "--print-scram", action="store_true", help="print the --add-scram values, ';'-separated"
    )
    args = parser.parse_args(argv)
    passwords = load_or_create_passwords(args.credentials)
    properties = secured_properties(
        args.port,
        args.controller_port or args.port + 1,
        ca_pem=(args.pki / "ca.crt").read_text(),
        cert_pem=(args.pki / f"{BROKER_IDENTITY}.crt").read_text(),
        key_pem=(args.pki / f"{BROKER_IDENTITY}.key").read_text(),
        admin_password=passwords[ADMIN],
    )
    # The properties hold the broker's private key.
    _write_private(args.properties, "".join(f"{k}={v}\n" for k, v in properties.items()))
    if args.print_scram:
        print(";".join(scram_credentials(passwords)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
