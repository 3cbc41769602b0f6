"""The event store: the PostgreSQL recorder (writes and reads), group commit, transcodings, and
`CaseStoreSetup`, which puts them together for the case application."""

from __future__ import annotations

from casedesk_case.adapters.persistence.store_setup import CaseStoreSetup

__all__ = ["CaseStoreSetup"]
