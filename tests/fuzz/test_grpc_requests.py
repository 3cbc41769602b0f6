"""Every RPC of every service in the contracts, fuzzed through the real servers over mutual TLS.

The RPCs come from the generated descriptors (proto/gen/python), so a new RPC is fuzzed as soon
as it is generated (from random requests if it has no template in fuzzkit/requests.py), and a new
service fails `test_every_service_of_the_contracts_is_served` until the stack serves it.

An authorised caller's request, drawn from the request type's descriptor (random, a valid one
mutated, or bytes that are no message at all), must be answered within the deadline with a
deliberate status (fuzzkit/calls.py: OK, INVALID_ARGUMENT, NOT_FOUND, ...; never UNKNOWN or
INTERNAL) that says what is wrong, and an OK answer must be a message of the reply type. An
unauthorised caller's must be refused, UNAUTHENTICATED or PERMISSION_DENIED, whatever it sends
(one whose certificate is granted but whose person or citizen token is bad may instead be told
what is wrong with its request: some RPCs judge it first).
"""

from __future__ import annotations

import importlib
import pkgutil
import uuid
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from fuzzkit import known_bugs, tally
from fuzzkit.callers import Identity, identities, intruders
from fuzzkit.calls import Outcome, call, rpc_path
from fuzzkit.planting import Known
from fuzzkit.protobuf import message_class, messages, mutations, raw_requests, serialized, weighted
from fuzzkit.reproducing import KEYS
from fuzzkit.requests import fit, fresh_keys, hints, submission, templates
from fuzzkit.runner import fuzz_settings, send
from fuzzkit.stack import CASE_SERVICE, KEY_SERVICE, Stack
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import DecodeError, Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import given
from hypothesis import strategies as st

import casedesk
from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk.keys.v1 import key_service_pb2 as keys_pb2

# Which in-process server serves each service of the contracts.
SERVED = {
    CASE_SERVICE: "case",
    "casedesk.intake.v1.IntakeService": "intake",
    "casedesk.intake.v1.AttachmentVaultService": "intake",
    KEY_SERVICE: "keys",
}
REFUSED = frozenset({grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED})


def contract_services() -> list[ServiceDescriptor]:
    """Every service declared by a generated *_pb2 module of the `casedesk` package."""
    found: dict[str, ServiceDescriptor] = {}
    for module in pkgutil.walk_packages(casedesk.__path__, "casedesk."):
        if module.name.endswith("_pb2"):
            descriptor = importlib.import_module(module.name).DESCRIPTOR
            found.update({s.full_name: s for s in descriptor.services_by_name.values()})
    return [found[name] for name in sorted(found)]


RPCS: list[MethodDescriptor] = [m for s in contract_services() for m in s.methods]


def port_of(stack: Stack, service: str) -> int:
    ports = {"case": stack.case_port, "intake": stack.intake_port, "keys": stack.keys_port}
    return ports[SERVED[service]]


async def _serving(stack: Stack, port: int, service: str) -> int:
    stub = health_pb2_grpc.HealthStub(stack.channel(port, "operator"))
    reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
    return reply.status


def test_every_service_of_the_contracts_is_served(stack: Stack) -> None:
    services = [s.full_name for s in contract_services()]
    assert services, "no service found in the generated contracts"
    unserved = sorted(set(services) - set(SERVED))
    assert not unserved, f"add these services to the fuzzing stack (fuzzkit/stack.py): {unserved}"
    for name in services:
        status = stack.run(_serving(stack, port_of(stack, name), name), 15)
        assert status == health_pb2.HealthCheckResponse.SERVING, name


def requests_of(
    method: MethodDescriptor, template: Message | None, hinted: Any, identity: Identity
) -> st.SearchStrategy[bytes]:
    """What `identity` sends: mostly its valid request with a few fields spoiled (under a fresh
    idempotency key three times in four), also random requests and bytes that are no message."""
    random = serialized(messages(method.input_type, hinted))
    if template is None:  # an RPC newer than the templates: random requests still reach it
        return weighted((3, random), (1, raw_requests(random)))
    fitted = fit(template, identity)
    spoiled = st.tuples(mutations(fitted, hinted), st.integers(0, 3)).map(
        lambda drawn: fresh_keys(drawn[0]) if drawn[1] else drawn[0]
    )
    valid = st.builds(lambda: fresh_keys(fit(template, identity)))
    return weighted((2, random), (5, serialized(spoiled)), (1, raw_requests(serialized(valid))))


@pytest.mark.parametrize("method", RPCS, ids=rpc_path)
def test_an_authorised_request_gets_a_deliberate_answer(
    stack: Stack, known: Known, method: MethodDescriptor
) -> None:
    service, path = method.containing_service.full_name, rpc_path(method)
    template, hinted = templates(known).get(path), hints(known)
    callers = st.one_of(
        [
            st.tuples(st.just(identity), requests_of(method, template, hinted, identity))
            for identity in identities(stack, service, method.name)
        ]
    )
    target = tally.target(f"grpc:{path}")
    port = port_of(stack, service)

    @fuzz_settings(tally.examples())
    @given(callers)
    def fuzz(drawn: tuple[Identity, bytes]) -> None:
        identity, raw = drawn
        send(stack, target, method, port, identity.certificate, identity.metadata, raw,
             f"{path} as {identity.label}")  # fmt: skip

    fuzz()
    assert target.failures == 0


def _refused(outcome: Outcome) -> str | None:
    if outcome.code in REFUSED and outcome.details.strip():
        return None
    return f"an unauthorised caller got {outcome.describe()}, not UNAUTHENTICATED/PERMISSION_DENIED"


def _refused_or_request_judged_first(outcome: Outcome) -> str | None:
    """A caller with a granted certificate and a bad person/citizen token: refused, or told
    what is wrong with its request (judged before the token by some RPCs); nothing that shows
    it reached the data (OK, NOT_FOUND, ...)."""
    if outcome.code == grpc.StatusCode.INVALID_ARGUMENT and outcome.details.strip():
        return None
    return _refused(outcome)


def _decodes(method: MethodDescriptor, raw: bytes) -> bool:
    try:
        message_class(method.input_type).FromString(raw)
    except DecodeError:
        return False
    return True


def _expectation(
    intruder: Identity, method: MethodDescriptor, raw: bytes
) -> Callable[[Outcome], str | None]:
    """What an intruder must get: refused; with a granted certificate, possibly told what is
    wrong with its request first, unless the RPC judges the token first and the request is a
    message (bytes that are none are refused by the runtime's decoding, before any handler)."""
    if not intruder.granted_certificate:
        return _refused
    if intruder.token_judged_first and _decodes(method, raw):
        return _refused
    return _refused_or_request_judged_first


@pytest.mark.parametrize("server", sorted(set(SERVED.values())))
def test_an_unauthorised_caller_is_refused_whatever_it_sends(
    stack: Stack, known: Known, server: str
) -> None:
    methods = [m for m in RPCS if SERVED[m.containing_service.full_name] == server]
    attempts = [
        (method, intruder)
        for method in methods
        for intruder in intruders(stack, method.containing_service.full_name, method.name)
    ]
    target = tally.target(f"grpc-unauthorised:{server}")

    @st.composite
    def requests(draw: st.DrawFn) -> tuple[MethodDescriptor, object, bytes]:
        method, intruder = draw(st.sampled_from(attempts))
        raw = draw(
            serialized(messages(method.input_type, hints(known)))
            | raw_requests(serialized(messages(method.input_type)))
        )
        return method, intruder, raw

    @fuzz_settings(tally.examples())
    @given(requests())
    def fuzz(drawn) -> None:  # type: ignore[no-untyped-def]
        method, intruder, raw = drawn
        port = port_of(stack, method.containing_service.full_name)
        expect = _expectation(intruder, method, raw)
        send(stack, target, method, port, intruder.certificate, intruder.metadata, raw,
             f"{rpc_path(method)} as {intruder.label}", expect=expect)  # fmt: skip

    fuzz()
    assert target.failures == 0


async def _still_serving(stack: Stack, known: Known) -> list[str]:
    """What no longer works as it did before the fuzzing; empty when everything does."""
    broken: list[str] = []
    for name in SERVED:
        if await _serving(stack, port_of(stack, name), name) != 1:
            broken.append(f"{name} is not SERVING")
    portal = (
        ("authorization", "Bearer fuzz-all-token-0123456789"),
        ("x-citizen-token", stack.citizen_token("ivanov.ii")),
    )
    submit = next(m for m in RPCS if rpc_path(m).endswith("IntakeService/SubmitCase"))
    request = submission(f"after-{uuid.uuid4()}").SerializeToString()
    answer = await call(stack.channel(stack.intake_port, "frontend"), submit, request, portal)
    if answer.code != grpc.StatusCode.OK:
        broken.append(f"a valid SubmitCase got {answer.describe()}")
    else:
        number = intake_pb2.Acknowledgement.FromString(answer.response).number
        if not number:
            broken.append("a valid SubmitCase got no case number")
    person = (("x-person-token", stack.person_token("l3.sidorova", "L3", ["specialist"])),)
    desk = stack.channel(stack.case_port, "desk")
    for name, request_message in (
        ("WatchQueue", case_pb2.WatchQueueRequest()),
        ("WatchCase", case_pb2.WatchCaseRequest(case_id=known.case_ids[0])),
    ):
        method = next(m for m in RPCS if rpc_path(m) == f"/{CASE_SERVICE}/{name}")
        watched = await call(desk, method, request_message.SerializeToString(), person)
        if watched.code is not None or (name == "WatchCase" and not watched.messages):
            broken.append(
                f"a valid {name} (streams left open by the fuzzing?): {watched.describe()}"
            )
    return broken + await _keys_still_serving(stack, known)


async def _keys_still_serving(stack: Stack, known: Known) -> list[str]:
    """The key service still hands out a live subject's key, reports its status and lets a
    cache follow the erasures (the first message at once, the stream then open)."""
    broken: list[str] = []
    keys = KEYS.methods_by_name
    request = keys_pb2.GetKeyRequest(subject=known.live_subjects[0], generation=1)
    got = await call(stack.channel(stack.keys_port, "notify"), keys["GetKey"],
                     request.SerializeToString(), ())  # fmt: skip
    if got.code != grpc.StatusCode.OK or len(keys_pb2.DataKey.FromString(got.response).key) != 32:
        broken.append(f"a valid GetKey got {got.describe()}")
    status = await call(stack.channel(stack.keys_port, "operator"), keys["GetKeyStatus"],
                        keys_pb2.GetKeyStatusRequest().SerializeToString(), ())  # fmt: skip
    if (
        status.code != grpc.StatusCode.OK
        or keys_pb2.KeyStatus.FromString(status.response).erasures < 1
    ):
        broken.append(f"a valid GetKeyStatus got {status.describe()}")
    watch = keys_pb2.WatchErasuresRequest(from_now=True).SerializeToString()
    watched = await call(stack.channel(stack.keys_port, "intake"), keys["WatchErasures"], watch, ())
    if watched.code is not None or watched.messages != 1:
        broken.append(f"a valid WatchErasures: {watched.describe()}")
    return broken


def test_the_servers_are_healthy_after_the_fuzzing(stack: Stack, known: Known) -> None:
    """Last in the module: after every target above, the servers still serve valid calls,
    their streams were released, and nothing failed unnoticed on their event loop."""
    assert stack.run(_still_serving(stack, known), 60) == []
    assert stack.loop_errors == [], "exceptions on the servers' loop that nobody retrieved"
    unexpected = [entry for entry in stack.logged.take(0) if known_bugs.logged_bug(entry) is None]
    assert unexpected == [], "the servers logged failures with a traceback outside any call"
