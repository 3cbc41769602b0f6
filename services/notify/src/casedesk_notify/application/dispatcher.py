"""Sends pending deliveries: in order per (case, channel), retrying without blocking other cases.

Every (case, channel) pair is a lane with its own task: a citizen gets "В работе" before "Ответ
готов", while a lane waiting out an SMTP 4xx backoff (or the recipient limit, see `admission`, or
a reply's window, see `deferred_replies`) holds up nobody else. State changes commit with their
journal entry (see adapters.store).

Two ways a message can reach the citizen twice, both under the same Message-ID / client id, so
the duplicate is recognisable downstream:
- a crash after the provider accepted a message and before `sent` committed: that delivery is
  sent again on restart (the window the design cannot close);
- an attempt whose outcome is unknown (`OutcomeUnknown`: the message was handed over, the answer
  never came). It is settled deliberately: recorded as `unknown`, reported in the journal and
  counted, then resent, because a notice that never arrives is worse than a recognisable copy;
  a later `sent` is counted as a possible duplicate.

A delivery stored sealed (issue #18, application.sealing) is opened at the head of its lane,
its citizen's key fetched then (a wait for the key service holds up only its lane). Once the key
is destroyed it never opens: the delivery is recorded `suppressed` («citizen erased») and never
sent. An erasure applied to the store (application.erasures) finishes such deliveries at once:
their lanes drop them (`finished_elsewhere`), and the attempts under way (`sending`) are left to
their verdict.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta

from opentelemetry import trace

from casedesk_notify.application.admission import Admission, RecipientGate
from casedesk_notify.application.deferred_replies import DeferredReplies, Settled
from casedesk_notify.application.deliveries import (
    Delivery,
    DeliveryState,
    RenderedMessage,
    Verdict,
)
from casedesk_notify.application.ports import (
    ERASED_REASON,
    ERASED_TEXT,
    CitizenErased,
    DeadLetter,
    DeliveryFailure,
    DeliveryStates,
    FieldOpener,
    KeysUnavailable,
    NotificationJournal,
    OutcomeUnknown,
    Outlet,
    ParkingClosed,
    PermanentFailure,
    PoisonRecord,
    TemporaryFailure,
)
from casedesk_notify.application.sealing import open_delivery_now
from casedesk_notify.application.verdicts import VerdictWriter
from casedesk_notify.domain import DeliveryChannel
from casedesk_notify.domain.recipient_limit import RecipientLimit
from casedesk_notify.domain.retry import RetryPolicy
from casedesk_runtime.kafka import extract_trace_context

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

LaneKey = tuple[str, DeliveryChannel]
KEYS_RETRY_S, KEYS_RETRY_MAX_S = 0.5, 10.0  # waiting for the key service to open a delivery
# What an unknown outcome's resend keeps, so that a copy that did arrive is recognisable.
_SAME_ID = {
    DeliveryChannel.EMAIL: "the same Message-ID",
    DeliveryChannel.SMS: "the same client message id",
    # VK drops a repeated random_id / guid; Telegram's Bot API has no such id.
    DeliveryChannel.SOCIAL: "the same VK random_id or guid",
}


class Dispatcher:
    def __init__(
        self,
        store: DeliveryStates,
        outlets: Mapping[DeliveryChannel, Outlet],
        retry: RetryPolicy,
        dead_letter: DeadLetter,
        *,
        journal: NotificationJournal,
        journal_written: Callable[[], None] = lambda: None,
        recipients: RecipientLimit | None = None,
        reply_window_s: float = 0.0,
        opener: FieldOpener | None = None,
        keys_retry_s: float = KEYS_RETRY_S,
    ) -> None:
        """`recipients`: the per-recipient limit (None: none); `reply_window_s`: the reply
        window's length (domain.reply_window), which also bounds how long a lagging consumer
        may keep a lone reply's notice waiting beyond it; `opener`: opens the deliveries stored
        sealed (wire.sealed; none: a sealed delivery is dead-lettered, never sent), waiting
        `keys_retry_s` (doubling) while the key service cannot be reached."""
        self._opener = opener
        self._keys_retry_s = keys_retry_s
        self.replies = DeferredReplies(store, reply_window_s)
        self._verdicts = VerdictWriter(store)
        self._journal = journal
        self._outlets = outlets
        self._retry = retry
        self._dead_letter = dead_letter
        self._journal_written = journal_written
        self._lanes: dict[LaneKey, deque[Delivery]] = {}
        self._sending: set[str] = set()  # attempts under way, until their verdict commits
        self._finished: set[str] = set()  # in a lane, but finished by an erasure meanwhile
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._gate = (
            RecipientGate(recipients, self._verdicts, journal, journal_written, self._wait_or_stop)
            if recipients is not None and recipients.limit > 0
            else None
        )

    def submit(self, deliveries: Iterable[Delivery]) -> None:
        for delivery in deliveries:
            key = (delivery.case_id, delivery.channel)
            lane = self._lanes.get(key)
            if lane is not None:
                lane.append(delivery)
                continue
            self._lanes[key] = deque([delivery])
            task = asyncio.create_task(self._run_lane(key), name=f"lane-{delivery.channel}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            self._idle.clear()

    def withdraw(self, notification_ids: Iterable[str]) -> None:
        """Deferred reply notices merged into a status notice (committed): not to be sent."""
        self.replies.withdraw(notification_ids)

    def sending(self) -> frozenset[str]:
        """The deliveries whose attempt is under way (handed to the provider, or its verdict
        not yet committed): an erasure leaves them to that verdict (application.erasures)."""
        return frozenset(self._sending)

    def finished_elsewhere(self, notification_ids: Iterable[str]) -> None:
        """These deliveries were finished without a send (their citizen was erased): any lane
        holding one drops it before its next attempt, whatever it holds in clear."""
        ids = set(notification_ids)
        for lane in self._lanes.values():
            self._finished.update(d.notification_id for d in lane if d.notification_id in ids)

    def _drop_finished(self, delivery: Delivery) -> bool:
        if delivery.notification_id not in self._finished:
            return False
        self._finished.discard(delivery.notification_id)
        return True

    @property
    def backlog(self) -> int:
        return sum(len(lane) for lane in self._lanes.values())

    async def wait_idle(self) -> None:
        await self._idle.wait()

    async def stop(self, grace_s: float) -> None:
        """Let sends in flight finish (retry waits end at once); cancel what exceeds the grace."""
        self._stopping.set()
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=grace_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def _run_lane(self, key: LaneKey) -> None:
        lane = self._lanes[key]
        try:
            while lane and not self._stopping.is_set():
                if self._drop_finished(lane[0]):
                    lane.popleft()
                    continue
                if lane[0].deferred_until is not None:
                    settled = await self.replies.settle(lane[0], self._stopping)
                    if settled is Settled.STOPPED:
                        break
                    if settled is Settled.WITHDRAWN:
                        lane.popleft()
                        continue
                    lane[0] = dataclasses.replace(lane[0], deferred_until=None)
                sealed = lane[0] if lane[0].sealed_by else None
                if sealed is not None:
                    opened, lane[0] = await self._open(sealed)
                    if opened is Admission.STOPPED:
                        break
                    if opened is Admission.WITHDRAWN:
                        lane.popleft()
                        continue
                admission = await self._gate.admit(lane) if self._gate else Admission.SEND
                if admission is Admission.STOPPED:
                    break
                if admission is Admission.WITHDRAWN or await self._deliver(lane[0], sealed):
                    lane.popleft()
        except ParkingClosed:
            log.warning(
                "lane stopped before a dead letter was parked; the delivery resumes on restart",
                extra={"case_id": key[0], "channel": key[1].value},
            )
        except Exception:
            # A bug, not a provider failure: the delivery stays pending and resumes on restart.
            log.exception("lane stopped", extra={"case_id": key[0], "channel": key[1].value})
        finally:
            del self._lanes[key]
            if not self._lanes:
                self._idle.set()

    async def _open(self, delivery: Delivery) -> tuple[Admission, Delivery]:
        """A sealed delivery in clear (SEND), or recorded final without a send (WITHDRAWN: its
        citizen was erased, or it does not open), or stopping cut the wait for keys short."""
        pause = self._keys_retry_s
        while True:
            try:
                if self._opener is None:
                    raise PoisonRecord("stored sealed, but no key service is configured")
                return Admission.SEND, await open_delivery_now(delivery, self._opener)
            except CitizenErased:
                await self._not_sent_erased(delivery)
                return Admission.WITHDRAWN, delivery
            except KeysUnavailable as error:
                log.warning(
                    "key service unavailable: the delivery waits",
                    extra={
                        "notification_id": delivery.notification_id,
                        "error": str(error),
                        "retry_in_s": pause,
                    },
                )
                if await self._wait_or_stop(pause):
                    return Admission.STOPPED, delivery
                pause = min(pause * 2, KEYS_RETRY_MAX_S)
            except PoisonRecord as error:
                failure = PermanentFailure(f"sealed delivery does not open: {error}")
                await self._give_up(
                    _blank(delivery, "***"), delivery.attempts, failure, delivery.unknown_outcomes
                )
                return Admission.WITHDRAWN, delivery

    async def _not_sent_erased(self, delivery: Delivery) -> None:
        """Its citizen was erased after it was planned: final, not sent, with the reason."""
        blank = _blank(delivery, ERASED_TEXT)
        now = datetime.now(UTC)
        entry = self._journal.decided(blank, "Suppressed", ERASED_REASON, None, now)
        await self._verdicts.record(
            Verdict(
                blank,
                DeliveryState.SUPPRESSED,
                delivery.attempts,
                now,
                (entry,),
                ERASED_REASON,
                unknown_outcomes=delivery.unknown_outcomes,
            )
        )
        self._journal_written()
        log.info(
            "notice not sent: citizen erased",
            extra={"notification_id": delivery.notification_id, "case_id": delivery.case_id},
        )

    async def _deliver(self, delivery: Delivery, sealed: Delivery | None = None) -> bool:
        """Try until sent or dead (True), or until stopping interrupts a retry wait (False).

        `sealed`: the delivery as stored, opened again before every attempt, so that an erasure
        during a hold or a backoff stops it (it is then recorded, not sent: True)."""
        attempts, unknown = delivery.attempts, delivery.unknown_outcomes
        parent = extract_trace_context(delivery.source.headers)
        while True:
            if self._drop_finished(delivery):
                return True
            if sealed is not None:
                counted = dataclasses.replace(sealed, attempts=attempts, unknown_outcomes=unknown)
                still, _ = await self._open(counted)
                if still is not Admission.SEND:
                    return still is Admission.WITHDRAWN
            attempts += 1
            self._sending.add(delivery.notification_id)  # until its verdict commits
            try:
                with tracer.start_as_current_span(
                    f"notify.send {delivery.channel.value}",
                    context=parent,
                    attributes={
                        "casedesk.case_id": delivery.case_id,
                        "casedesk.notification_id": delivery.notification_id,
                        "casedesk.attempt": attempts,
                    },
                ):
                    failure = await self._attempt(delivery, attempts, unknown)
                    if failure is None:
                        return True
                    if isinstance(failure, OutcomeUnknown):
                        unknown += 1
                    if not failure.temporary or self._retry.gives_up_after(attempts):
                        await self._give_up(delivery, attempts, failure, unknown)
                        return True
                    delay = self._retry.delay_after(attempts)
                    if isinstance(failure, TemporaryFailure) and failure.retry_after_s:
                        delay = max(delay, failure.retry_after_s)  # the provider said when
                    await self._record_retry(delivery, attempts, failure, delay, unknown)
            finally:
                self._sending.discard(delivery.notification_id)
            if await self._wait_or_stop(delay):
                return False

    async def _attempt(
        self, delivery: Delivery, attempts: int, unknown: int
    ) -> DeliveryFailure | None:
        try:
            receipt = await self._outlets[delivery.channel].send(delivery)
        except DeliveryFailure as failure:
            return failure
        except Exception as error:  # an adapter bug must not kill the lane: retry it
            log.exception("unexpected send error", extra={"channel": delivery.channel.value})
            return TemporaryFailure(f"unexpected {type(error).__name__}")
        now = datetime.now(UTC)
        provider_id = receipt.provider_message_id
        entry = self._journal.sent(delivery, attempts, provider_id, now)
        sent = Verdict(delivery, DeliveryState.SENT, attempts, now, (entry,), "", provider_id)
        await self._verdicts.record(dataclasses.replace(sent, unknown_outcomes=unknown))
        self._journal_written()
        return None

    async def _record_retry(
        self,
        delivery: Delivery,
        attempts: int,
        failure: DeliveryFailure,
        delay: float,
        unknown: int,
    ) -> None:
        retry_at = datetime.now(UTC) + timedelta(seconds=delay)
        state, error = DeliveryState.PENDING, str(failure)
        if isinstance(failure, OutcomeUnknown):
            state = DeliveryState.UNKNOWN
            error = f"{failure}; resent under {_SAME_ID[delivery.channel]}"
        entry = self._journal.failed(delivery, attempts, error, True, retry_at)
        await self._verdicts.record(
            Verdict(delivery, state, attempts, retry_at, (entry,), error, "", unknown)
        )
        self._journal_written()
        log.warning(
            "delivery outcome unknown, will resend"
            if state is DeliveryState.UNKNOWN
            else "delivery failed, will retry",
            extra={
                "notification_id": delivery.notification_id,
                "attempt": attempts,
                "retry_in_s": round(delay, 3),
                "error": error,
            },
        )

    async def _give_up(
        self, delivery: Delivery, attempts: int, failure: DeliveryFailure, unknown: int
    ) -> None:
        error = str(failure)
        # Parked before the verdict commits: a crash in between parks it twice, never zero times.
        # The dead letter waits out a Kafka outage; only a shutdown makes it give up.
        if not await self._dead_letter(delivery.source, error):
            raise ParkingClosed(delivery.notification_id)
        now = datetime.now(UTC)
        entries = (
            self._journal.failed(delivery, attempts, error, failure.temporary, None, now),
            self._journal.dead_lettered(delivery, attempts, error, now),
        )
        await self._verdicts.record(
            Verdict(delivery, DeliveryState.DEAD, attempts, now, entries, error, "", unknown)
        )
        self._journal_written()
        log.error(
            "delivery dead-lettered",
            extra={"notification_id": delivery.notification_id, "attempts": attempts},
        )

    async def _wait_or_stop(self, delay: float) -> bool:
        """Sleep `delay`; True when stopping cut the wait short."""
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=delay)
        except TimeoutError:
            return False
        return True


def _blank(delivery: Delivery, recipient: str) -> Delivery:
    """A sealed delivery that will not be opened: no recipient, text or threading of his."""
    return dataclasses.replace(
        delivery,
        recipient=recipient,
        message=RenderedMessage(template=delivery.message.template),
        sealed_by="",
        deferred_until=None,
    )
