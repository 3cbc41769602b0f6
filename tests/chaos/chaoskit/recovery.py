"""When has the system recovered from a fault? When new work goes the whole way again.

Right after a fault ends a canary case is submitted through intake and left unanswered. The
system has recovered once:
- the canary was acknowledged (intake and the case service serve, the store writes);
- its acknowledgement went out by e-mail and SMS (the relay published it, notify sent it);
- its first-response clock breached and the escalation that follows was announced by e-mail and
  SMS too (sla decided and published, escalation decided and called the case service, which
  published again, notify sent it): this includes the test-seconds policy's 4 s target;
- the outbox relay is caught up (nothing stored more than 5 s ago is unpublished);
- every service runs and the cluster is whole (every broker up, every replica in sync).
`recovery_s` is the time from the end of the fault until all of these hold.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from casedesk_case.cli.outbox_status import read_status

from .faults import Stage
from .load import UNANSWERED, Load
from .people import Citizen

CAUGHT_UP_S = 5.0
POLL_S = 1.0


@dataclass(frozen=True)
class Recovery:
    seconds: float | None  # None: not recovered within the time allowed
    milestones: str  # when each condition first held, from the end of the fault


async def recover(stage: Stage, load: Load, fault_ended_at: float, timeout_s: float) -> Recovery:
    """Wait until recovered from a fault that ended at `fault_ended_at` (time.time())."""
    canary = asyncio.create_task(load.one_case(UNANSWERED))
    marks: dict[str, float] = {}

    def milestones() -> str:
        return ", ".join(f"{name} +{at:.1f} s" for name, at in marks.items())

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        whole = await _whole(stage)
        if whole:
            marks.setdefault("system whole", time.time() - fault_ended_at)
        if canary.done():
            acknowledged = canary.result()
            if acknowledged is None:  # never acknowledged: among the load's given-up calls
                return Recovery(None, "the canary was never acknowledged")
            marks.setdefault("canary acknowledged", acknowledged.at - fault_ended_at)
            if _announced_twice(stage, acknowledged.citizen):
                marks.setdefault("canary notified", time.time() - fault_ended_at)
                if whole:
                    return Recovery(time.time() - fault_ended_at, milestones())
        await asyncio.sleep(POLL_S)
    return Recovery(None, milestones())


def _announced_twice(stage: Stage, citizen: Citizen) -> bool:
    """Two notices (acknowledgement, escalation) reached the citizen on both channels."""
    mails = {m.message_id for m in stage.system.smtp.snapshot() if citizen.email in m.recipients}
    texts = {
        sms.fields.get("client_message_id")
        for sms in list(stage.system.sms.accepted)
        if sms.fields.get("to") == citizen.phone
    }
    return len(mails) >= 2 and len(texts) >= 2


async def _whole(stage: Stage) -> bool:
    if not stage.supervisor.all_running():
        return False
    topics = [spec.name for spec in stage.system.topics.specs()]
    if not await stage.cluster.whole(topics):
        return False
    try:
        status = await asyncio.to_thread(
            read_status, stage.system.topics.case, stage.system.case_store_env
        )
    except Exception:  # the store is not back yet
        return False
    return (status.oldest_unpublished_age_s or 0.0) < CAUGHT_UP_S
