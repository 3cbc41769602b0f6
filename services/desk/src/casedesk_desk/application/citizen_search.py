"""«Обращения гражданина»: a citizen's cases found by his SNILS, phone or e-mail, for the
signed-in specialist (ListCases with a CitizenLookup, his token, the journal's purpose below).

The case service finds them through keyed hashes of the normalised identifier and lists only the
tiers the person reads; every case listed is journaled as his read. The value is personal data:
nothing here logs it.
"""

from __future__ import annotations

from dataclasses import dataclass

from casedesk_desk.application.ports import Cases, QueuePage, QueueQuery
from casedesk_desk.domain.citizen_search import CitizenLookup, lookup, lookup_refusal
from casedesk_desk.domain.errors import Refused

# The journal's purpose of the read (x-access-purpose).
PURPOSE_CITIZEN_SEARCH = "поиск обращений гражданина"


@dataclass(frozen=True)
class CitizenCases:
    lookup: CitizenLookup
    page: QueuePage


class CitizenSearch:
    def __init__(self, cases: Cases) -> None:
        self._cases = cases

    async def find(
        self, token: str, kind_choice: str, value: str, page_token: str = ""
    ) -> CitizenCases:
        """One page of the citizen's cases, any status, newest first; Refused in Russian when
        the value cannot be looked up (the case service's rule named, never the value)."""
        asked = lookup(kind_choice, value)
        query = QueueQuery(
            citizen=asked,
            by_deadline=False,
            page_token=page_token,
            purpose=PURPOSE_CITIZEN_SEARCH,
        )
        try:
            page = await self._cases.list_cases(token, query)
        except Refused as refusal:
            raise lookup_refusal(refusal, asked.kind) from None
        return CitizenCases(asked, page)
