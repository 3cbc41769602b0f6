"""The entry point most callers need: a case's due instants under a policy."""

from dataclasses import dataclass
from datetime import datetime

from casedesk_deadlines.catalogue import default_policy
from casedesk_deadlines.moscow import require_aware
from casedesk_deadlines.policy import Policy
from casedesk_deadlines.targets import TargetKind


@dataclass(frozen=True, slots=True)
class CaseDeadlines:
    """Due instants of a newly registered case (Moscow time zone).

    Mirrors ``casedesk.common.v1.Deadlines``; ``first_response_due`` is None for channels
    without a first-response target.
    """

    first_response_due: datetime | None
    resolution_due: datetime
    policy_version: str
    calendar_version: str


class Deadlines:
    """Computes case deadlines under one policy (the default policy unless told otherwise)."""

    def __init__(self, policy: Policy | None = None) -> None:
        self.policy = policy or default_policy()
        # Looked up once: compute() runs for every case and every replayed event.
        self._targets = {
            (channel, category): (
                self.policy.find_target(channel, TargetKind.FIRST_RESPONSE, category),
                self.policy.target(channel, TargetKind.RESOLUTION, category),
            )
            for channel in self.policy.channels
            for category in (None, *self.policy.category_targets)
        }

    @property
    def policy_version(self) -> str:
        return self.policy.version

    @property
    def calendar_version(self) -> str:
        return self.policy.calendar_version

    def compute(
        self, channel: str, registered_at: datetime, category: str | None = None
    ) -> CaseDeadlines:
        """Due instants of a case; ``category`` matters where the policy has targets for it."""
        require_aware(registered_at, "registered_at")
        targets = self._targets.get((channel, category)) or self._targets.get((channel, None))
        if targets is None:
            raise self.policy.unknown_channel(channel)
        first_response, resolution = targets
        return CaseDeadlines(
            first_response_due=first_response.due(registered_at) if first_response else None,
            resolution_due=resolution.due(registered_at),
            policy_version=self.policy.version,
            calendar_version=self.policy.calendar_version,
        )
