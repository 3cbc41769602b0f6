"""Expected deadlines for the acknowledgement, from the shared deadline library.

The case service does not put deadlines in `Created`; notify computes the same ones the sla
service will, from the same versioned policy and production calendar (casedesk_deadlines), so the
acknowledgement promises what the SLA clock then enforces. A deadline the library cannot compute
(unknown channel, no such target) is left out of the message rather than guessed.
"""

from __future__ import annotations

import logging
from datetime import datetime

from casedesk_notify.application.ports import DeadlineEstimator
from casedesk_notify.domain import ExpectedDeadlines

log = logging.getLogger(__name__)


class NoDeadlines:
    """Acknowledgements without deadlines (the library is absent or switched off)."""

    def expected(
        self, channel: str, registered_at: datetime, category: str | None = None
    ) -> ExpectedDeadlines:
        return ExpectedDeadlines()


class PolicyDeadlines:
    """Deadlines of one SLA policy version; `channel` is the protobuf Channel enum name."""

    def __init__(self, policy_version: str | None = None) -> None:
        import casedesk_deadlines

        policy = casedesk_deadlines.load_policy(policy_version) if policy_version else None
        self._deadlines = casedesk_deadlines.Deadlines(policy)
        self._errors = casedesk_deadlines.DeadlineError

    @property
    def policy_version(self) -> str:
        return self._deadlines.policy_version

    def expected(
        self, channel: str, registered_at: datetime, category: str | None = None
    ) -> ExpectedDeadlines:
        try:
            # The category matters where the policy has targets for it (2026.1: sign-in
            # problems answered within 24 hours), exactly as the SLA clock counts it.
            due = self._deadlines.compute(channel, registered_at, category)
        except self._errors as error:
            log.warning("no expected deadlines", extra={"channel": channel, "error": str(error)})
            return ExpectedDeadlines()
        return ExpectedDeadlines(due.first_response_due, due.resolution_due)


def deadline_estimator(policy_version: str | None = None) -> DeadlineEstimator:
    """The library's estimator; without the library, a clearly logged degraded mode.

    An unknown policy version is a configuration error and fails the start.
    """
    try:
        return PolicyDeadlines(policy_version)
    except ImportError:
        log.warning("casedesk_deadlines is not installed: acknowledgements omit deadlines")
        return NoDeadlines()
