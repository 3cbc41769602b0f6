"""The case application: use cases over the event store, and their ports.

`CaseApplication` runs commands (planned, then decided and stored) and answers queries; it
takes and returns domain values and views, never protobuf messages.
"""

from __future__ import annotations

from casedesk_case.application.case_application import CaseApplication
from casedesk_case.application.command import CommandMeta

__all__ = ["CaseApplication", "CommandMeta"]
