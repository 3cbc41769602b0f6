"""A privacy officer whose token names him in a way no tombstone can keep as who erased (over
200 characters, more than one line: the identity provider signs such names) is UNAUTHENTICATED
saying so, and nothing is erased (found by the fuzzing as bug B9: the keyring refused to keep
the name after the token was accepted, and the call ended UNKNOWN with a ValueError logged)."""

from __future__ import annotations

import uuid

import grpc
import pytest
from fuzzkit.reproducing import KEYS, send
from fuzzkit.stack import Stack

from casedesk.keys.v1 import key_service_pb2 as keys_pb2

ERASE = KEYS.methods_by_name["EraseCitizen"]
GET_CURRENT_KEY = KEYS.methods_by_name["GetCurrentKey"]

# --- B9: an officer's name no tombstone keeps ---------------------------------------------------


@pytest.mark.parametrize("username", ["po." + "o" * 200, "po.orlova\nroot"])
def test_b9_an_officer_named_beyond_a_tombstone_is_unauthenticated(
    stack: Stack, username: str
) -> None:
    subject = uuid.uuid4().hex
    token = stack.person_token(username, "L3", ["privacy_officer"])
    order = keys_pb2.EraseCitizenRequest(subjects=[subject], reason="ERASE-2025-0042")
    before = len(stack.logged.records)
    outcome = send(stack, stack.keys_port, "operator", ERASE, order.SerializeToString(),
                   (("x-person-token", token),))  # fmt: skip
    assert outcome.code == grpc.StatusCode.UNAUTHENTICATED, outcome.describe()
    assert outcome.details == (
        "x-person-token rejected: its preferred_username cannot be kept as who erased "
        "(one printable line of at most 200 characters)"
    )
    assert stack.logged.take(before) == []
    still = send(stack, stack.keys_port, "intake", GET_CURRENT_KEY,
                 keys_pb2.GetCurrentKeyRequest(subject=subject).SerializeToString())  # fmt: skip
    assert still.code == grpc.StatusCode.OK, f"the subject was erased: {still.describe()}"
