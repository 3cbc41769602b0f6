"""The case index: the read model behind ListCases and the specialists' load.

It is a materialised view of the application's events, kept by CaseIndexProjector with its
position (a tracking record) in the same transaction as its rows, so it can always be rebuilt by
replaying the notification log from the start.
"""

from __future__ import annotations

from casedesk_case.readmodel.index import CaseIndex, construct_case_index
from casedesk_case.readmodel.projector import CaseIndexProjector

__all__ = ["CaseIndex", "CaseIndexProjector", "construct_case_index"]
