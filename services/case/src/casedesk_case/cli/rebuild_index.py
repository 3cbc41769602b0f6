"""`python -m casedesk_case.cli.rebuild_index`: rebuild the case index from the event store.

Drops the index's rows, loads, search terms and position, then replays the notification log from
the start. Run it with the same persistence variables as the service (PERSISTENCE_MODULE,
POSTGRES_*, ...); the service may keep running meanwhile, ListCases then shows a partial list
until the replay ends. Run it once after an upgrade adds a column to the index (the category, the
key a search term was made under): rows indexed before hold none until then. The SLA clocks are
the case timeline's (`case_sla`), untouched; so are the erasures the index has applied
(`case_erased_keys`: they go on keeping those citizens' terms out).

Search terms (SNILS, phone, e-mail: application/search_terms.py) are made as the service makes
them, with CASEDESK_KEYS_INDEX_KEY_FILE set:
- CASEDESK_SEAL_PERSONAL_DATA on: each case's citizen is opened with his key from the key service
  (CASEDESK_KEY_SERVICE_ADDRESS, through the service's own mutual TLS: CASEDESK_TLS_*), like the
  projector does; an erased citizen's cases get none. A key service that cannot be reached stops
  the rebuild (exit status 1: run it again);
- off: from the citizens as stored.
Without the index key no terms are made.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import TYPE_CHECKING

from casedesk_case.adapters.persistence import CaseStoreSetup
from casedesk_case.adapters.readmodel import CaseIndexProjector
from casedesk_case.adapters.roster_file import load_roster
from casedesk_case.application import CaseApplication
from casedesk_case.application.personal_fields import PersonalDataUnavailable
from casedesk_case.settings import CaseSettings
from casedesk_runtime.settings import load_settings

if TYPE_CHECKING:
    from casedesk_case.application.personal_data import PersonalData
    from casedesk_case.application.search_terms import SearchTerms


def main() -> int:
    settings = load_settings(CaseSettings)
    try:
        if settings.seal_personal_data:
            return asyncio.run(_rebuild_sealed(settings))
        return rebuild(_plain_search_terms())
    except PersonalDataUnavailable as error:
        print(f"case index not rebuilt: {error}; run it again", file=sys.stderr)
        return 1
    except ValueError as error:  # casedesk_keys' KeysSettingsError: a missing or bad setting
        print(f"invalid configuration: {error}", file=sys.stderr)
        return 2


def rebuild(search_terms: SearchTerms | None, personal_data: PersonalData | None = None) -> int:
    app = CaseApplication(
        store_setup=CaseStoreSetup(),
        roster=load_roster(),
        personal_data=personal_data,
        search_terms=search_terms,
    )
    try:
        started = time.monotonic()
        count = CaseIndexProjector(app, app.index).rebuild()
        print(f"case index rebuilt from {count} events in {time.monotonic() - started:.1f} s")
    finally:
        app.close()
    return 0


async def _rebuild_sealed(settings: CaseSettings) -> int:
    """The rebuild on a worker thread, the key service's client on this loop (as in the
    service: PersonalData's bridge waits for it from the thread)."""
    from casedesk_case.application.personal_data import PersonalData
    from casedesk_case.application.search_terms import SearchTerms
    from casedesk_keys.settings import KeysSettings
    from casedesk_keys.wiring import load_index_key
    from casedesk_keyservice.client import connect

    keys_settings = KeysSettings.from_env()
    index_key = load_index_key(keys_settings)
    keys = connect(
        settings, settings.key_service_address,
        ttl_s=keys_settings.cache_ttl_s, max_entries=keys_settings.cache_max,
    )  # fmt: skip
    try:
        await keys.start()  # an erasure during the rebuild reaches the cache at once
        personal = PersonalData(keys.cache, index_key, asyncio.get_running_loop())
        terms = SearchTerms(index_key, personal.open_citizen)
        return await asyncio.to_thread(rebuild, terms, personal)
    finally:
        await keys.aclose()


def _plain_search_terms() -> SearchTerms | None:
    if not os.environ.get("CASEDESK_KEYS_INDEX_KEY_FILE"):
        return None
    from casedesk_case.application.search_terms import SearchTerms, index_key_from_env

    return SearchTerms(index_key_from_env())


if __name__ == "__main__":
    sys.exit(main())
