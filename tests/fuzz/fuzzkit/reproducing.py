"""What the reproducers of the fuzzing's bugs share: one raw call on the running stack, a person
token that may read everything, the services' method tables and the inputs that broke them."""

from __future__ import annotations

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk.keys.v1 import key_service_pb2 as keys_pb2
from fuzzkit.calls import Outcome, call
from fuzzkit.stack import Stack

BEYOND_DATETIME = 2**62  # seconds: far past year 9999
CASE = case_pb2.DESCRIPTOR.services_by_name["CaseService"]
INTAKE = intake_pb2.DESCRIPTOR.services_by_name["IntakeService"]
KEYS = keys_pb2.DESCRIPTOR.services_by_name["KeyService"]
NOT_A_MESSAGE = bytes.fromhex("0a03fffefd")  # field 1 (a string) holding invalid UTF-8


def send(
    stack: Stack,
    port: int,
    identity: str,
    rpc: object,
    raw: bytes,
    metadata: tuple[tuple[str, str], ...] = (),
) -> Outcome:
    async def go() -> Outcome:
        return await call(stack.channel(port, identity), rpc, raw, metadata)  # type: ignore[arg-type]

    return stack.run(go(), 30)


def person(stack: Stack) -> tuple[tuple[str, str], ...]:
    token = stack.person_token("l3.sidorova", "L3", ["specialist", "supervisor", "auditor"])
    return (("x-person-token", token),)
