"""`python -m casedesk_case.cli.rebuild_index`: rebuild the case index from the event store.

Drops the index's rows, loads and position, then replays the notification log from the start. Run
it with the same persistence variables as the service (PERSISTENCE_MODULE, POSTGRES_*, ...); the
service may keep running meanwhile, ListCases then shows a partial list until the replay ends.
Run it once after an upgrade adds a column to the index (the category): rows indexed before hold
none until then. The SLA clocks are the case timeline's (`case_sla`), untouched.

Search terms (SNILS, phone, e-mail: application/search_terms.py) are made again only with
CASEDESK_SEAL_PERSONAL_DATA off and CASEDESK_KEYS_INDEX_KEY_FILE set: with sealing on this tool
has no key service to open the citizens with, and the rebuilt index holds no terms (it says so).
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING

from casedesk_case.adapters.persistence import CaseStoreSetup
from casedesk_case.adapters.readmodel import CaseIndexProjector
from casedesk_case.adapters.roster_file import load_roster
from casedesk_case.application import CaseApplication
from casedesk_case.settings import CaseSettings
from casedesk_runtime.settings import load_settings

if TYPE_CHECKING:
    from casedesk_case.application.search_terms import SearchTerms


def main() -> int:
    app = CaseApplication(
        store_setup=CaseStoreSetup(), roster=load_roster(), search_terms=_search_terms()
    )
    try:
        started = time.monotonic()
        count = CaseIndexProjector(app, app.index).rebuild()
        print(f"case index rebuilt from {count} events in {time.monotonic() - started:.1f} s")
    finally:
        app.close()
    return 0


def _search_terms() -> SearchTerms | None:
    if load_settings(CaseSettings).seal_personal_data:
        print(
            "note: personal data is sealed: the rebuilt index holds no search terms (SNILS, phone, "
            "e-mail); they need the service's key service",
            file=sys.stderr,
        )
        return None
    if not os.environ.get("CASEDESK_KEYS_INDEX_KEY_FILE"):
        return None
    from casedesk_case.application.search_terms import SearchTerms, index_key_from_env

    return SearchTerms(index_key_from_env())


if __name__ == "__main__":
    sys.exit(main())
