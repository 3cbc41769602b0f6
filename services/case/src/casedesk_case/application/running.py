"""The running of one command: idempotency, expected version, retry on conflict, atomic save."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from casedesk_case.application.case_cache import CaseCache
from casedesk_case.application.command import Command, CommandMeta, Decided, Decision
from casedesk_case.application.locks import KeyedLocks
from casedesk_case.application.views import CaseView
from casedesk_case.domain.case import Case
from casedesk_case.domain.errors import CaseError, CaseNotFound, VersionConflict
from casedesk_case.domain.receipts import CommandReceipt, fingerprint, receipt_id

# Without an expected version a conflicting concurrent write is retried on the new state.
MAX_ATTEMPTS = 5
RETRY_PAUSE_S = 0.002  # the first retry waits up to 4 ms, the fourth up to 32 ms


@dataclass(frozen=True)
class _Current:
    """The state a command is decided on, and whether it came from this process's cache."""

    case: Case
    cached: bool


class CommandRunner:
    """Decides and stores planned commands, given the application's store and views.

    `view_of` makes the view a command returns; `view_at(case_id, version)` the view a receipt
    of an earlier attempt points to.
    """

    def __init__(
        self,
        repository: Repository[Any],
        save: Callable[..., object],
        cache: CaseCache,
        locks: KeyedLocks,
        view_of: Callable[[Case], CaseView],
        view_at: Callable[[str, int], CaseView],
    ) -> None:
        self._repository = repository
        self._save = save
        self._cache = cache
        self._locks = locks
        self._view_of = view_of
        self._view_at = view_at

    def decide_cached(self, command: Command) -> Decided | None:
        """Decide on the case as this process last saved it, without reading the store.

        None when that cannot settle the command: the case is not cached, the expected version
        differs, or the decision was a refusal (the cached case may be stale; `execute` decides
        again on the stored state, and looks for the command's receipt, before refusing).
        """
        state: Case | None = None
        if command.case_id is not None:
            state = self._cache.take(command.case_id)
            if state is None:
                return None
            expected = command.meta.expected_version
            if expected and state.version != expected:
                self._cache.put(state)  # untouched: still what this process saved
                return None
        try:
            case, others = command.decide(state)
        except CaseError:
            return None  # the taken case may be half-changed: it stays out of the cache
        pending = [case, *others]
        receipt = self._receipt(command.name, _digest(command), command.meta, case)
        if receipt is not None:
            pending.append(receipt)
        return Decided(command, case, pending)

    def execute(self, command: Command) -> CaseView:
        """Run a command to its end: retries on conflicts, receipts of earlier attempts."""
        name, meta, case_id, decide = command.name, command.meta, command.case_id, command.decide
        digest = _digest(command)
        lock = self._locks.hold(str(case_id)) if case_id is not None else nullcontext()
        with lock:
            attempt, trust_cache = 0, True
            while True:
                current: _Current | None = None
                try:
                    current = self._current(case_id, trust_cache)
                    return self._attempt(name, digest, meta, current, decide)
                except CaseError as refusal:
                    if current is not None and current.cached:
                        # Decided on the case as this process last saved it, which another
                        # replica may have changed since: decide again on the stored state.
                        trust_cache = False
                        continue
                    attempt += 1
                    # The receipt is looked for only now: a retry of a command that succeeded
                    # is refused by the state it produced, or collides with its own receipt.
                    replayed = self._replay(name, digest, meta)
                    if replayed is not None:
                        return replayed
                    retry = isinstance(refusal, VersionConflict) and not meta.expected_version
                    if not retry or attempt == MAX_ATTEMPTS:
                        raise
                    # Another replica won the race: a random, growing pause before deciding
                    # again, or the same replicas meet at the same moment on every attempt.
                    time.sleep(random.uniform(0, RETRY_PAUSE_S * 2**attempt))

    def load_case(self, case_id: UUID) -> Case:
        try:
            case: Any = self._repository.get(case_id)
        except AggregateNotFoundError:
            raise CaseNotFound(str(case_id)) from None
        if not isinstance(case, Case):
            raise CaseNotFound(str(case_id))
        return case

    def _current(self, case_id: UUID | None, trust_cache: bool) -> _Current | None:
        if case_id is None:
            return None
        cached = self._cache.take(case_id)
        if cached is not None and trust_cache:
            return _Current(cached, cached=True)
        return _Current(self.load_case(case_id), cached=False)

    def _attempt(
        self, name: str, digest: str, meta: CommandMeta, current: _Current | None, decide: Decision
    ) -> CaseView:
        state = current.case if current is not None else None
        if state is not None and meta.expected_version and state.version != meta.expected_version:
            raise VersionConflict(str(state.id), meta.expected_version, state.version)
        base_version = state.version if state is not None else 0
        case, others = decide(state)
        pending: list[Aggregate] = [case, *others]
        receipt = self._receipt(name, digest, meta, case)
        if receipt is not None:
            pending.append(receipt)
        try:
            self._save(*pending)
        except IntegrityError:
            # Another command moved one of the aggregates on, or this command's receipt exists.
            raise VersionConflict(str(case.id), meta.expected_version or base_version) from None
        for saved in (case, *others):
            if isinstance(saved, Case):
                self._cache.put(saved)
        return self._view_of(case)

    @staticmethod
    def _receipt(name: str, digest: str, meta: CommandMeta, case: Case) -> CommandReceipt | None:
        if not meta.idempotency_key:
            return None
        return CommandReceipt(
            idempotency_key=meta.idempotency_key,
            command=name,
            fingerprint=digest,
            case_id=str(case.id),
            case_version=case.version,
        )

    def _replay(self, name: str, digest: str, meta: CommandMeta) -> CaseView | None:
        if not meta.idempotency_key:
            return None
        try:
            receipt: Any = self._repository.get(receipt_id(meta.idempotency_key))
        except AggregateNotFoundError:
            return None
        assert isinstance(receipt, CommandReceipt)
        receipt.check_same_command(name, digest)
        return self._view_at(receipt.case_id, receipt.case_version)


def _digest(command: Command) -> str:
    """What the command asked for, to tell a retry from a reused key. A person's command also
    names the person, and an operator's (through intake) the operator: another person's command
    with the same key is another command, and must not be answered with the first one's result
    (whose events name somebody else). Named only when there is one, so that the receipts of
    commands without stay valid."""
    person = command.meta.person
    names = [f"person={person.username}"] if person is not None else []
    if command.meta.context.identified_by:
        names.append(f"identified_by={command.meta.context.identified_by}")
    return fingerprint(command.name, *command.arguments, *names)
