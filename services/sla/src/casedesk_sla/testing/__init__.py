"""Test support of the SLA service, for its own tests and the benchmark."""

from casedesk_sla.testing.manual_clock import ManualClock

__all__ = ["ManualClock"]
