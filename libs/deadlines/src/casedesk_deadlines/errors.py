"""Errors raised by the deadline library.

Every error is a ``DeadlineError`` so callers can map the whole family at one boundary, and each
also derives from the built-in it specialises (``ValueError``, ``LookupError``) so generic
handlers keep working.
"""


class DeadlineError(Exception):
    """Base class of every error raised by ``casedesk_deadlines``."""


class NaiveDatetimeError(DeadlineError, ValueError):
    """A datetime without a time zone was given where an instant is required."""


class UnknownPolicyError(DeadlineError, LookupError):
    """No shipped policy file has the requested version."""


class PolicyFormatError(DeadlineError, ValueError):
    """A policy file is malformed."""


class UnknownChannelError(DeadlineError, LookupError):
    """The policy has no targets for the channel."""


class NoTargetError(DeadlineError, LookupError):
    """The channel exists but the policy sets no target of that kind (MFC first response)."""


class CalendarOverrideError(DeadlineError, ValueError):
    """The calendar override file is malformed or contradicts itself."""


class UnknownCalendarError(DeadlineError, LookupError):
    """A policy names a production calendar this library does not provide."""
