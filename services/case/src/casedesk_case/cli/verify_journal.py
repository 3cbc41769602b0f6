"""`python -m casedesk_case.cli.verify_journal`: check the access journal's hash chain.

Reads the journal of the database the service uses (same variables: PERSISTENCE_MODULE,
POSTGRES_*, ...) from its first record to its last and prints how many records fit the chain and
the last one's hash (keep it elsewhere: a journal cut short after it would show), or the first
record that does not fit. Exit status 0 when the chain is intact, 1 when it is broken, 2 when the
journal could not be read. It prints no personal data.
"""

from __future__ import annotations

import sys

from casedesk_case.adapters.persistence import CaseStoreSetup
from casedesk_case.adapters.roster_file import load_roster
from casedesk_case.application import CaseApplication


def main() -> int:
    try:
        app = CaseApplication(store_setup=CaseStoreSetup(), roster=load_roster())
    except Exception as error:  # an operator's tool: say what failed, without a traceback
        print(f"access journal unavailable: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    try:
        check = app.person_reads.verify_journal()
    finally:
        app.close()
    if not check.intact:
        print(
            f"access journal BROKEN at record {check.broken_at}: {check.problem} "
            f"({check.records} records before it fit)"
        )
        return 1
    print(f"access journal intact: {check.records} records, last hash {check.last_hash}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
