"""The case index: the read model behind ListCases and the specialists' load, in memory, SQLite
or PostgreSQL, kept up to date by `CaseIndexProjector` from the notification log."""

from __future__ import annotations

from casedesk_case.adapters.readmodel.projector import CaseIndexProjector

__all__ = ["CaseIndexProjector"]
