"""«Обращения гражданина»: the search by a citizen's SNILS, phone or e-mail.

The value travels in a POST body only (CSRF-checked), never in a URL: URLs end up in browser
history, in a proxy's access log and in Referer headers, a form body does not. So the results are
the POST's own answer (not a redirect to a GET), the next page is a POST again, and a GET of the
route shows the empty form. The value is shown back only in the form's field on that answer
(`Cache-Control: no-store`, as every page) and is never logged.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from casedesk_desk.domain.citizen_search import AUTO, KIND_CHOICES, KIND_LABELS
from casedesk_desk.domain.errors import RefusalKind, Refused
from casedesk_desk.domain.queue import order_key, time_left
from casedesk_desk.web.app import CSRF_REFUSAL, Desk

MAX_PAGE_TOKEN = 500


class CitizenSearchPage:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    async def form(self, request: Request) -> Response:
        """The empty search form (where sign-in comes back to; no value is ever read from a
        URL)."""
        got = await self.desk.signed_in(request)
        if isinstance(got, Response):
            return got
        session, _, _ = got
        return self._render(request, {"session": session, "chosen": AUTO, "value": ""})

    async def search(self, request: Request) -> Response:
        got = await self.desk.signed_in(request)
        if isinstance(got, Response):
            return got
        session, _, token = got
        fields = await self.desk.checked_form(request, session)
        if fields is None:
            return self.desk.message(request, session, CSRF_REFUSAL, 403)
        chosen, value = fields.get("kind", AUTO), fields.get("value", "")
        page_token = fields.get("page", "")[:MAX_PAGE_TOKEN]
        context: dict[str, object] = {"session": session, "chosen": chosen, "value": value}
        try:
            found = await self.desk.work.citizens.find(token, chosen, value, page_token)
        except Refused as refusal:
            if refusal.kind is not RefusalKind.INVALID:
                return self.desk.refusal(request, session, refusal)
            # Beside the field, with the value left in it to correct.
            return self._render(request, {**context, "error": refusal.message}, status=422)
        now = datetime.now(UTC)
        rows = [
            {"row": row, "left": time_left(row.clock, now), "order": order_key(row)}
            for row in found.page.rows
        ]
        return self._render(
            request,
            {
                **context,
                "searched": True,
                "kind_label": KIND_LABELS[found.lookup.kind],
                "resolved": found.lookup.kind.value,
                "rows": rows,
                "next_page": found.page.next_page_token,
            },
        )

    def _render(self, request: Request, context: dict[str, object], status: int = 200) -> Response:
        return self.desk.render(
            request, "citizen_search.html", {"kinds": KIND_CHOICES, **context}, status=status
        )
