"""The running of one command: idempotency, expected version, retry on conflict, atomic save."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from casedesk_case.domain.case import Case
from casedesk_case.domain.errors import CaseError, CaseNotFound, InvalidCommand, VersionConflict
from casedesk_case.domain.values import EventContext
from casedesk_case.receipts import CommandReceipt, fingerprint, receipt_id
from casedesk_case.views import CaseView

if TYPE_CHECKING:
    from casedesk_case.application import CaseApplication

# Without an expected version a conflicting concurrent write is retried on the new state.
MAX_ATTEMPTS = 5

# decide(case or None) -> (the case the caller gets back, other aggregates saved with it)
Decision = Callable[[Case | None], tuple[Case, Sequence[Aggregate]]]


@dataclass(frozen=True)
class CommandMeta:
    """What every command carries besides its own arguments."""

    context: EventContext
    idempotency_key: str = ""
    expected_version: int = 0  # 0: do not check


@dataclass(frozen=True)
class Command:
    """One command as the application planned it: what it asks and how it decides."""

    name: str
    meta: CommandMeta
    arguments: tuple[object, ...]
    case_id: UUID | None  # None: the command creates its case
    decide: Decision


@dataclass
class Decided:
    """A command decided on this process's cached case, its aggregates not saved yet."""

    command: Command
    case: Case
    pending: list[Aggregate] = field(default_factory=list)


class _Planned(Exception):
    def __init__(self, command: Command) -> None:
        self.command = command


def parse_case_id(case_id: str, field: str = "case_id") -> UUID:
    try:
        return UUID(case_id)
    except (ValueError, TypeError, AttributeError):
        raise InvalidCommand(field, "is not a case id (a UUID)") from None


@dataclass(frozen=True)
class _Current:
    """The state a command is decided on, and whether it came from this process's cache."""

    case: Case
    cached: bool


class CommandRunner:
    def __init__(self, app: CaseApplication) -> None:
        self._app = app
        self._planning = threading.local()

    def run(
        self,
        name: str,
        meta: CommandMeta,
        arguments: tuple[object, ...],
        case_id: UUID | None,
        decide: Decision,
    ) -> CaseView:
        command = Command(name, meta, arguments, case_id, decide)
        if getattr(self._planning, "active", False):
            raise _Planned(command)
        return self.execute(command)

    def plan(self, method: Callable[..., CaseView], *args: Any, **kwargs: Any) -> Command:
        """The command an application method would run, checked but neither decided nor run.

        Every command method of the application ends by handing its command to `run`; while
        planning, `run` hands it back here instead, before anything was read or decided.
        """
        self._planning.active = True
        try:
            method(*args, **kwargs)
        except _Planned as planned:
            return planned.command
        finally:
            self._planning.active = False
        raise TypeError(f"{method!r} is not a command of the case application")

    def decide_cached(self, command: Command) -> Decided | None:
        """Decide on the case as this process last saved it, without reading the store.

        None when that cannot settle the command: the case is not cached, the expected version
        differs, or the decision was a refusal (the cached case may be stale; `execute` decides
        again on the stored state, and looks for the command's receipt, before refusing).
        """
        state: Case | None = None
        if command.case_id is not None:
            state = self._app.case_cache.take(command.case_id)
            if state is None:
                return None
            expected = command.meta.expected_version
            if expected and state.version != expected:
                self._app.case_cache.put(state)  # untouched: still what this process saved
                return None
        try:
            case, others = command.decide(state)
        except CaseError:
            return None  # the taken case may be half-changed: it stays out of the cache
        pending = [case, *others]
        receipt = self._receipt(command.name, fingerprint(command.name, *command.arguments),
                                command.meta, case)  # fmt: skip
        if receipt is not None:
            pending.append(receipt)
        return Decided(command, case, pending)

    def execute(self, command: Command) -> CaseView:
        """Run a command to its end: retries on conflicts, receipts of earlier attempts."""
        name, meta, arguments, case_id, decide = (
            command.name, command.meta, command.arguments, command.case_id, command.decide,
        )  # fmt: skip
        digest = fingerprint(name, *arguments)
        lock = self._app.case_locks.hold(str(case_id)) if case_id is not None else nullcontext()
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

    def load_case(self, case_id: UUID) -> Case:
        try:
            case: Any = self._app.repository.get(case_id)
        except AggregateNotFoundError:
            raise CaseNotFound(str(case_id)) from None
        if not isinstance(case, Case):
            raise CaseNotFound(str(case_id))
        return case

    def _current(self, case_id: UUID | None, trust_cache: bool) -> _Current | None:
        if case_id is None:
            return None
        cached = self._app.case_cache.take(case_id)
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
            self._app.save(*pending)
        except IntegrityError:
            # Another command moved one of the aggregates on, or this command's receipt exists.
            raise VersionConflict(str(case.id), meta.expected_version or base_version) from None
        for saved in (case, *others):
            if isinstance(saved, Case):
                self._app.case_cache.put(saved)
        return self._app.view_of(case)

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
            receipt: Any = self._app.repository.get(receipt_id(meta.idempotency_key))
        except AggregateNotFoundError:
            return None
        assert isinstance(receipt, CommandReceipt)
        receipt.check_same_command(name, digest)
        return self._app.get_case(receipt.case_id, as_of_version=receipt.case_version)
