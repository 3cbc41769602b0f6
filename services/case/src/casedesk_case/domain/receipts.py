"""Idempotency receipts: what a command with an idempotency key produced (an aggregate).

A receipt is an aggregate whose id is derived from the key and which is saved in the same
transaction as the command's events. A retry finds it and gets the original result; two first
attempts racing each other collide on the receipt's (id, version) in the event store, and the
loser answers with the winner's result. Nothing is remembered outside the event store.
"""

from __future__ import annotations

import hashlib
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from casedesk_case.domain.errors import IdempotencyKeyReused

_RECEIPT_NAMESPACE = UUID("a3e3f0c4-6a7d-4b4f-8d0e-5b9f1a2c3d4e")


def receipt_id(idempotency_key: str) -> UUID:
    return uuid5(_RECEIPT_NAMESPACE, idempotency_key)


def fingerprint(command: str, *arguments: object) -> str:
    """A digest of what a command asked for, to tell a retry from a reused key."""
    digest = hashlib.sha256(command.encode())
    for argument in arguments:
        digest.update(b"\x1f" + repr(argument).encode())
    return digest.hexdigest()


class CommandReceipt(Aggregate):
    TOPIC = "casedesk.case.CommandReceipt"

    @staticmethod
    def create_id(idempotency_key: str) -> UUID:  # type: ignore[override]
        return receipt_id(idempotency_key)

    @event("Created", topic="casedesk.case.CommandReceipt.Created")
    def __init__(
        self,
        idempotency_key: str,
        command: str,
        fingerprint: str,
        case_id: str,
        case_version: int,
    ) -> None:
        self.idempotency_key = idempotency_key
        self.command = command
        self.fingerprint = fingerprint
        self.case_id = case_id
        self.case_version = case_version

    def check_same_command(self, command: str, fingerprint: str) -> None:
        if command != self.command or fingerprint != self.fingerprint:
            hint = self.idempotency_key[:8] + "…" if len(self.idempotency_key) > 8 else "given"
            raise IdempotencyKeyReused(hint, self.command)
