"""The supervisors' overview: workload per tier, queue and specialist, breaches, SLA compliance
over the last days as a chart (inline SVG drawn on the server, the same figures in a table)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from casedesk_desk.domain.errors import Refused
from casedesk_desk.domain.overview import compliance_chart, percent
from casedesk_desk.web.app import Desk


class SupervisorPage:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    async def page(self, request: Request) -> Response:
        got = await self.desk.signed_in(request)
        if isinstance(got, Response):
            return got
        session, _, token = got
        try:
            overview = await self.desk.work.overview(token)
        except Refused as refusal:
            return self.desk.refusal(request, session, refusal)
        return self.desk.render(
            request,
            "supervisor.html",
            {
                "session": session,
                "overview": overview,
                "tiers": overview.tier_totals(),
                "chart": compliance_chart(overview.days),
                "window_share": percent(overview.window_share()),
                "percent": percent,
            },
        )
