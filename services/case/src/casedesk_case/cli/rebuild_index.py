"""`python -m casedesk_case.cli.rebuild_index`: rebuild the case index from the event store.

Drops the index's rows, loads and position, then replays the notification log from the start. Run
it with the same persistence variables as the service (PERSISTENCE_MODULE, POSTGRES_*, ...); the
service may keep running meanwhile, ListCases then shows a partial list until the replay ends.
Run it once after an upgrade adds a column to the index (the category): rows indexed before hold
none until then. The SLA clocks are the case timeline's (`case_sla`), untouched.
"""

from __future__ import annotations

import sys
import time

from casedesk_case.adapters.persistence import CaseStoreSetup
from casedesk_case.adapters.readmodel import CaseIndexProjector
from casedesk_case.adapters.roster_file import load_roster
from casedesk_case.application import CaseApplication


def main() -> int:
    app = CaseApplication(store_setup=CaseStoreSetup(), roster=load_roster())
    try:
        started = time.monotonic()
        count = CaseIndexProjector(app, app.index).rebuild()
        print(f"case index rebuilt from {count} events in {time.monotonic() - started:.1f} s")
    finally:
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
