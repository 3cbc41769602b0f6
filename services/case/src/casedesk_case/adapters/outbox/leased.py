"""A follower that runs only while its replica holds the lease (`lease.PostgresLease`).

`LeasedFollower.run()` tries to take the lease; the replica that gets it starts a fresh follower
(an outbox relay, a case index projector: `start()` builds one per term, since a stopped follower
cannot be started again) and checks every `check_s` that its session still holds the lock. The
others stand by and try again every `retry_s`. When the holder dies its session ends and a standby
takes over within `retry_s` (plus TCP keepalives' ten seconds if its node vanished without closing
the connection). A holder that finds its session gone stops its follower after the current step
and stands by in turn: until it notices, two relays may publish the same batch (same event ids,
as after any crash), which is what the lease otherwise prevents.

Every change is logged with the holder's name (`replica_name()`: host and process id), and each
process reports `casedesk_case_lease_held{lease}`: 1 on the replica that holds it, 0 on the
others (sum over replicas: 1 when one relays, 0 while nobody does).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from opentelemetry import metrics

from casedesk_runtime.following import Doorbell
from casedesk_runtime.logs import get_logger

log = get_logger(__name__)

LEASE_RETRY_S = 2.0  # a standby's tries at the lease
LEASE_CHECK_S = 2.0  # the holder's checks that its session still holds it

_held: dict[str, int] = {}  # lease -> 1 held here, 0 standing by (this process's)


def _observe(options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
    return [metrics.Observation(value, {"lease": lease}) for lease, value in _held.items()]


metrics.get_meter("casedesk.case.lease").create_observable_gauge(
    "casedesk.case.lease.held",
    callbacks=[_observe],
    description="1 when this replica holds the lease and runs its follower, 0 while standing by",
)


class Lease(Protocol):
    """What `LeasedFollower` needs of a lease; blocking calls, run in a thread."""

    holder_name: str

    def take(self) -> bool: ...

    def still_held(self) -> bool: ...

    def holder(self) -> str | None: ...

    def give_up(self) -> None: ...


@dataclass(frozen=True)
class Follower:
    """One term's follower: `run` until `stop`; `bell` wakes it when this process stores events."""

    run: Callable[[], Coroutine[Any, Any, None]]
    bell: Doorbell
    stop: Callable[[], None]

    def ring(self) -> None:
        self.bell.ring()


class LeasedFollower:
    def __init__(
        self,
        name: str,
        lease: Lease,
        start: Callable[[], Follower],
        retry_s: float = LEASE_RETRY_S,
        check_s: float = LEASE_CHECK_S,
    ) -> None:
        self.name = name  # "outbox relay": the label of its metric, the subject of its lines
        self._lease = lease
        self._start = start
        self._retry_s = retry_s
        self._check_s = check_s
        self.bell = Doorbell()  # closed to stop; its sleeps are the retries and checks
        self._current: Follower | None = None
        self._seen_holder: str | None = None
        self._failing = False
        _held[name] = 0

    @property
    def holding(self) -> bool:
        return self._current is not None

    def ring(self) -> None:
        """This process stored events: wake the follower, if it runs here (any thread)."""
        current = self._current
        if current is not None:
            current.ring()

    def stop(self) -> None:
        """Stop the follower after its current step, release the lease, return from `run`."""
        self.bell.close()
        current = self._current
        if current is not None:
            current.stop()

    async def run(self) -> None:
        self.bell.bind()
        try:
            while not self.bell.closed:
                if await self._take():
                    await self._follow()
                else:
                    await self.bell.sleep(self._retry_s)
        finally:
            await asyncio.to_thread(self._lease.give_up)
            _held[self.name] = 0

    async def _take(self) -> bool:
        try:
            taken = await asyncio.to_thread(self._lease.take)
        except Exception as error:  # the database is away: stand by, try again
            if not self._failing:
                log.warning(
                    "%s lease cannot be taken: %s", self.name, f"{type(error).__name__}: {error}",
                    extra={"lease": self.name},
                )  # fmt: skip
            self._failing = True
            return False
        self._failing = False
        if not taken:
            await self._standing_by()
        return taken

    async def _standing_by(self) -> None:
        holder = await asyncio.to_thread(self._lease.holder)
        if holder != self._seen_holder:
            log.info(
                "%s lease held by %s: standing by", self.name, holder or "another replica",
                extra={"lease": self.name, "holder": holder, "replica": self._lease.holder_name},
            )  # fmt: skip
            self._seen_holder = holder

    async def _follow(self) -> None:
        try:
            follower = self._start()
        except Exception:  # a follower that cannot be built: say so, let another replica try
            log.exception("%s cannot be started", self.name, extra={"lease": self.name})
            await asyncio.to_thread(self._lease.give_up)
            await self.bell.sleep(self._retry_s)
            return
        self._current, self._seen_holder = follower, None
        _held[self.name] = 1
        log.info(
            "%s lease taken: %s runs the %s", self.name, self._lease.holder_name, self.name,
            extra={"lease": self.name, "holder": self._lease.holder_name},
        )  # fmt: skip
        task = asyncio.create_task(follower.run())
        try:
            await self._hold(task)
        finally:
            self._current = None
            _held[self.name] = 0
            follower.stop()
            await asyncio.gather(task, return_exceptions=True)  # its step under way finishes
            if not self.bell.closed:  # lost (or the follower ended): free what is left of it
                await asyncio.to_thread(self._lease.give_up)

    async def _hold(self, task: asyncio.Task[Any]) -> None:
        """Until stopped, the session lost the lock, or (a bug: follow() handles failures) the
        follower ended on its own."""
        while True:
            await self.bell.sleep(self._check_s)
            if self.bell.closed:
                return
            if task.done():
                error = None if task.cancelled() else task.exception()
                log.error("%s stopped on its own: %r", self.name, error)
                return
            if not await asyncio.to_thread(self._lease.still_held):
                log.warning(
                    "%s lease lost (its database session ended): %s stops and stands by",
                    self.name, self._lease.holder_name, extra={"lease": self.name},
                )  # fmt: skip
                return
