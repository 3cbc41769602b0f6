"""One-time codes (domain/access_codes.py): asked for, sent, checked.

A request is answered at once, the same way whatever the number: the case is looked up, the code
made and sent afterwards, by a worker (`CodeDeliveries`). So neither the answer nor the time it
takes tells whether the case exists or whose it is. A request is rate-limited per case number
in the answer (the same for every number), and per contact after the lookup (silently: a refusal
there would tell the case exists).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import secrets
import time
from collections.abc import Awaitable, Callable

from casedesk_intake.application.ports import (
    CaseService,
    CodeDigests,
    CodeSender,
    DeliveryFailed,
    IntakeStore,
)
from casedesk_intake.domain.access_codes import (
    CodePolicy,
    CodeRequested,
    contact_for_code,
    new_code,
)
from casedesk_intake.domain.acting import CONTACT_CHANNELS, Caller, CodeHolder
from casedesk_intake.domain.errors import CaseServiceError, NotYourCase, RateLimited
from casedesk_intake.domain.frontends import Frontend
from casedesk_intake.domain.rate_limits import RateLimiter, admit
from casedesk_intake.domain.wording import (
    access_code_requested_text,
    access_code_subject,
    access_code_text,
)
from casedesk_runtime.logs import get_logger

log = get_logger(__name__)


class AccessCodes:
    def __init__(
        self,
        store: IntakeStore,
        digests: CodeDigests,
        cases: CaseService,
        sender: CodeSender,
        policy: CodePolicy,
        per_case: RateLimiter,
        per_contact: RateLimiter,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        randbelow: Callable[[int], int] = secrets.randbelow,
    ) -> None:
        self._store = store
        self._digests = digests
        self._cases = cases
        self._sender = sender
        self._policy = policy
        self._per_case = per_case
        self._per_contact = per_contact
        self._monotonic = monotonic
        self._now = wall_clock
        self._randbelow = randbelow
        self._minutes = max(1, math.ceil(policy.ttl_s / 60))

    def accept_request(self, frontend: Frontend, number: str) -> CodeRequested:
        """Admit a code request (RateLimited per case number); the caller sends it off."""
        if not frontend.serves_any(CONTACT_CHANNELS):
            raise NotYourCase(
                f"frontend {frontend.name} serves only portal channels, whose citizens need "
                "no code: they sign in to the portal"
            )
        admit(self._monotonic(), (self._per_case, number))
        return CodeRequested(int(self._policy.ttl_s), access_code_requested_text(self._minutes))

    async def deliver(self, frontend: Frontend, number: str) -> None:
        """Make and send the case's code, if the case is the frontend's and has a contact."""
        case = await self._cases.find_by_number(number)
        if (
            case is None
            or case.channel not in CONTACT_CHANNELS
            or not frontend.serves(case.channel)
        ):
            log.info("no access code sent: no such case on the frontend's channels",
                     extra={"frontend": frontend.name, "case_number": number})  # fmt: skip
            return
        contact = contact_for_code(case, self._sender.can_send)
        if contact is None:
            log.info("no access code sent: the case has no contact a code can go to",
                     extra={"case_number": number})  # fmt: skip
            return
        try:
            admit(self._monotonic(), (self._per_contact, contact.identity()))
        except RateLimited:
            log.info("no access code sent: too many for this contact",
                     extra={"case_number": number, "via": contact.kind})  # fmt: skip
            return
        code = new_code(self._randbelow)
        digest = self._digests.of(number, code)
        await self._store.issue_code(number, digest, self._now() + self._policy.ttl_s)
        subject = access_code_subject(number)
        await self._sender.send(contact, subject, access_code_text(number, code, self._minutes))
        log.info("access code sent", extra={"case_number": number, "via": contact.kind})

    async def check(self, caller: Caller, number: str) -> None:
        """A code holder's code for `number`, or the answer of a missing case."""
        if not isinstance(caller.acting, CodeHolder):
            return
        digest = self._digests.of(number, caller.acting.code)
        if not await self._store.use_code(number, digest, self._now(), self._policy.max_wrong):
            log.info("access code refused", extra={"case_number": number})
            raise caller.not_found()


class CodeDeliveries:
    """Code deliveries after their answer: a bounded queue and a few workers. A request that
    finds the queue full is dropped (and logged): its citizen asks again."""

    def __init__(
        self,
        deliver: Callable[[Frontend, str], Awaitable[None]],
        capacity: int = 1000,
        workers: int = 4,
    ) -> None:
        self._deliver = deliver
        self._queue: asyncio.Queue[tuple[Frontend, str]] = asyncio.Queue(capacity)
        self._workers = [asyncio.create_task(self._work()) for _ in range(workers)]

    def submit(self, frontend: Frontend, number: str) -> None:
        try:
            self._queue.put_nowait((frontend, number))
        except asyncio.QueueFull:
            log.warning("access code request dropped: too many waiting",
                        extra={"case_number": number, "waiting": self._queue.qsize()})  # fmt: skip

    async def drain(self) -> None:
        """Wait until every submitted delivery is done (tests)."""
        await self._queue.join()

    async def _work(self) -> None:
        while True:
            frontend, number = await self._queue.get()
            try:
                await self._deliver(frontend, number)
            except (DeliveryFailed, CaseServiceError) as failure:
                log.warning("access code not sent", extra={"case_number": number,
                            "reason": str(failure)})  # fmt: skip
            except Exception:
                log.exception("access code delivery failed", extra={"case_number": number})
            finally:
                self._queue.task_done()

    async def close(self) -> None:
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
