"""grpcurl lists and calls intake through reflection, exactly as the intake README shows.

The commands are read from the README's "Try it with grpcurl" section and run by bash as written
(only the README's default address is swapped for the test's), so the documentation cannot drift
from what works. Intake and the case service run as processes over mutual TLS with certificates
from `casedesk-pki`, intake calling the case service as `intake`, grpcurl calling intake as
`frontend`; the case service keeps its events in SQLite with the relay off, because nothing here
reads Kafka. The citizen's token comes from the development Keycloak's `portal` realm, as the
README gets it; an operator's read of the case service carries an auditor's token.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from support.keycloak import Keycloak
from support.people import as_person, case_oidc_env
from support.services import ServiceLauncher, ServiceProcess

from casedesk.case.v1 import case_service_pb2, case_service_pb2_grpc
from casedesk.common.v1 import types_pb2
from casedesk_runtime.pki import client_credentials

REPO = Path(__file__).resolve().parents[2]
README = REPO / "services" / "intake" / "README.md"
SECTION = "## Try it with grpcurl"
README_ADDRESS = "127.0.0.1:50051"
GRPCURL = REPO / "tools" / "grpcurl.sh"
# A cold build downloads and compiles grpcurl's modules: minutes on two cores, once per machine.
BUILD_TIMEOUT_S = 1200
# grpcurl exits with 64 + the gRPC status code when the call fails.
EXIT_INVALID_ARGUMENT = 64 + grpc.StatusCode.INVALID_ARGUMENT.value[0]


def shell_commands(script: str) -> list[str]:
    """The commands of a shell snippet, one string each, continuation lines and quotes kept."""
    commands: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if pending.rstrip().endswith("\\"):
            continue
        try:
            words = shlex.split(pending, comments=True)
        except ValueError:  # a quoted argument (the JSON request) goes on over the next line
            continue
        if words:
            commands.append(pending.strip())
        pending = ""
    assert not pending.strip(), f"unterminated shell command in the README: {pending!r}"
    return commands


def readme_grpcurl_commands() -> list[str]:
    section = README.read_text(encoding="utf-8").split(SECTION, 1)[1].split("\n## ", 1)[0]
    snippets = re.findall(r"^```sh\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL)
    commands = [command for snippet in snippets for command in shell_commands(snippet)]
    return [command for command in commands if command.startswith("tools/grpcurl.sh ")]


@dataclass(frozen=True)
class ReadmeCommands:
    list_services: str
    describe_submit_case: str
    submit_case: str
    submit_bad_snils: str


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass(frozen=True)
class Desk:
    """Intake and the case service behind it, and the chat frontend's token."""

    intake: ServiceProcess
    case: ServiceProcess
    token: str
    pki: Path
    keycloak: Keycloak

    def run(self, readme_command: str) -> Outcome:
        command = readme_command.replace(README_ADDRESS, self.intake.address)
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=REPO,
            env={
                **os.environ,
                "CHAT_TOKEN": self.token,
                "CITIZEN_TOKEN": self.keycloak.token("portal", "ivanov.ii"),
                "PKI": str(self.pki),
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return Outcome(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def commands() -> ReadmeCommands:
    found = readme_grpcurl_commands()
    assert len(found) == 4, f"expected list, describe and two SubmitCase calls, found {found}"
    return ReadmeCommands(*found)


@pytest.fixture(scope="module")
def grpcurl_built() -> str:
    """Builds the pinned grpcurl through tools/grpcurl.sh (a no-op once cached); its path."""
    built = subprocess.run(
        ["bash", str(GRPCURL)], capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False
    )
    assert built.returncode == 0, built.stderr
    return built.stdout.strip()


def new_frontend(directory: Path) -> tuple[str, Path]:
    """A PORTAL_CHAT frontend made the README's way: casedesk-intake-token's token and entry."""
    printed = subprocess.run(
        [sys.executable, "-m", "casedesk_intake.cli.tokens", "portal-chat", "PORTAL_CHAT"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    comments = [line[2:] for line in printed.splitlines() if line.startswith("# ")]
    entry = [line for line in printed.splitlines() if not line.startswith("#")]
    frontends = directory / "frontends.toml"
    frontends.write_text("\n".join(entry) + "\n", encoding="utf-8")
    return comments[1], frontends


def tls(pki: Path, name: str) -> dict[str, str]:
    return {
        "CASEDESK_TLS_CERT_FILE": str(pki / f"{name}.crt"),
        "CASEDESK_TLS_KEY_FILE": str(pki / f"{name}.key"),
        "CASEDESK_TLS_CA_FILE": str(pki / "ca.crt"),
    }


@pytest.fixture(scope="module")
def desk(
    grpcurl_built: str, keycloak: Keycloak, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Desk]:
    directory = tmp_path_factory.mktemp("intake-grpcurl")
    token, frontends = new_frontend(directory)
    pki = directory / "pki"
    subprocess.run(
        [sys.executable, "-m", "casedesk_runtime.pki", "--out", str(pki),
         "--names", "case,intake,frontend,escalation,operator"],
        check=True, capture_output=True,
    )  # fmt: skip
    launcher = ServiceLauncher(directory)
    try:
        case = launcher(
            "casedesk_case",
            {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(directory / "cases.sqlite3"),
                "CASEDESK_RELAY_ENABLED": "false",
                "CASEDESK_SHUTDOWN_GRACE_S": "1",
                **case_oidc_env(keycloak),
                **tls(pki, "case"),
            },
        )
        intake = launcher(
            "casedesk_intake",
            {
                "CASEDESK_CASE_ADDRESS": case.address,
                "CASEDESK_DATA_DIR": str(directory / "intake"),
                "CASEDESK_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
                "CASEDESK_FRONTENDS_FILE": str(frontends),
                "CASEDESK_CITIZEN_OIDC_ISSUER": keycloak.issuer("portal"),
                "CASEDESK_CITIZEN_OIDC_AUDIENCE": "casedesk-intake",
                "CASEDESK_SHUTDOWN_GRACE_S": "1",
                **tls(pki, "intake"),
            },
        )
        yield Desk(intake, case, token, pki, keycloak)
    finally:
        launcher.stop_all()


def test_the_script_runs_the_pinned_grpcurl(grpcurl_built: str) -> None:
    pinned = re.search(r'^GRPCURL_VERSION="(v[\d.]+)"$', GRPCURL.read_text(), re.MULTILINE)
    assert pinned, "tools/grpcurl.sh must pin GRPCURL_VERSION"
    assert Path(grpcurl_built).name == f"grpcurl-{pinned[1]}"
    reported = subprocess.run(
        ["bash", str(GRPCURL), "-version"], capture_output=True, text=True, check=True
    )
    assert (reported.stdout + reported.stderr).split()[-1] == pinned[1]


def test_list_shows_intake_and_health(desk: Desk, commands: ReadmeCommands) -> None:
    listed = desk.run(commands.list_services)

    assert listed.returncode == 0, listed.output
    services = listed.stdout.split()
    assert "casedesk.intake.v1.IntakeService" in services
    assert "grpc.health.v1.Health" in services


def test_plaintext_and_unknown_or_unauthorised_callers_are_refused(
    desk: Desk, commands: ReadmeCommands
) -> None:
    tls_options = '-cacert "$PKI/ca.crt" -cert "$PKI/frontend.crt" -key "$PKI/frontend.key"'
    assert tls_options in commands.list_services
    plaintext = desk.run(commands.list_services.replace(tls_options, "-plaintext"))
    assert plaintext.returncode != 0, plaintext.output
    no_client_certificate = desk.run(
        commands.list_services.replace(tls_options, '-cacert "$PKI/ca.crt"')
    )
    assert no_client_certificate.returncode != 0, no_client_certificate.output
    # The case service's table lets `escalation` escalate, not change a status (nor use
    # reflection: grpcurl reads the .proto files instead).
    as_escalation = tls_options.replace("frontend", "escalation")
    protos = "-import-path proto -proto casedesk/case/v1/case_service.proto"
    change = desk.run(
        f'tools/grpcurl.sh {as_escalation} {protos} -d \'{{"case_id": "x"}}\' '
        f"{desk.case.address} casedesk.case.v1.CaseService/ChangeStatus"
    )
    assert change.returncode == 64 + grpc.StatusCode.PERMISSION_DENIED.value[0], change.output
    assert "casedesk.case.v1.CaseService/ChangeStatus" in change.output


def test_describe_shows_the_submit_case_method(desk: Desk, commands: ReadmeCommands) -> None:
    described = desk.run(commands.describe_submit_case)

    assert described.returncode == 0, described.output
    assert "casedesk.intake.v1.IntakeService.SubmitCase is a method:" in described.stdout
    assert re.search(
        r"rpc SubmitCase \( \.casedesk\.intake\.v1\.SubmitCaseRequest \)"
        r" returns \( \.casedesk\.intake\.v1\.Acknowledgement \)",
        described.stdout,
    ), described.stdout


def test_submit_case_registers_a_case_and_returns_its_number(
    desk: Desk, commands: ReadmeCommands
) -> None:
    submitted = desk.run(commands.submit_case)

    assert submitted.returncode == 0, submitted.output
    acknowledgement = json.loads(submitted.stdout)
    assert re.fullmatch(r"\d{4}-\d{7}", acknowledgement["number"]), acknowledgement
    assert acknowledgement["status"] == "REGISTERED"
    assert acknowledgement["number"] in acknowledgement["text"]
    # The number names a case the case service really stored, from the chat the README names.
    with grpc.secure_channel(
        desk.case.address, client_credentials(desk.pki, "operator")
    ) as channel:
        stored = case_service_pb2_grpc.CaseServiceStub(channel).GetCase(
            case_service_pb2.GetCaseRequest(number=acknowledgement["number"]),
            metadata=as_person(desk.keycloak, "audit.kuznetsov"),
            timeout=10,
        )
    assert stored.case_id == acknowledgement["case_id"]
    assert stored.channel == types_pb2.PORTAL_CHAT
    assert stored.provenance.chat.session_id == "chat-77"


def test_a_bad_snils_is_invalid_argument_naming_the_field(
    desk: Desk, commands: ReadmeCommands
) -> None:
    refused = desk.run(commands.submit_bad_snils)

    assert refused.returncode == EXIT_INVALID_ARGUMENT, refused.output
    assert "Code: InvalidArgument" in refused.output
    assert "google.rpc.BadRequest" in refused.output
    assert re.search(r'"field": "citizen\.snils"', refused.output), refused.output
    # The refusal names the field, never the citizen's value.
    assert "445 96" not in refused.output and "44596" not in refused.output
