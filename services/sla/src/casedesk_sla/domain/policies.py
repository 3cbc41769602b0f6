"""The SLA policies a book computes with: the current one for new clocks, older ones for the rest.

A clock keeps the policy version it started under, so deploying a new policy changes new cases
only; a clock started under the old version keeps pausing and resuming under it. Every lookup
names the case's category too ("" for none): a policy may set a target by category, and the
target a clock started on must be the one it pauses, resumes and warns on.
"""

from __future__ import annotations

from casedesk_deadlines import Policy, ProductionCalendar, Target, load_policy
from casedesk_vocabulary.enums import DeadlineTarget


class PolicyRegistry:
    def __init__(self, current_version: str, calendar: ProductionCalendar | None = None) -> None:
        self._calendar = calendar
        self._loaded: dict[str, Policy] = {}
        # Loaded eagerly: an unknown version must stop the service at start, not at first case.
        self.current = self.get(current_version)

    def get(self, version: str) -> Policy:
        policy = self._loaded.get(version)
        if policy is None:
            policy = self._loaded[version] = load_policy(version, self._calendar)
        return policy

    def target(self, version: str, channel: str, category: str, kind: DeadlineTarget) -> Target:
        # The deadline library names targets by the same strings (its TargetKind values).
        return self.get(version).target(channel, kind.value, category or None)
