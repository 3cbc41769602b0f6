"""ListCases page tokens: where the next page starts (registered time and case id)."""

from __future__ import annotations

import base64
import json

from casedesk_case.application.views import CaseSummary
from casedesk_case.domain.errors import InvalidCommand
from casedesk_vocabulary.moscow import to_micros


def encode_page_token(summary: CaseSummary) -> str:
    key = [to_micros(summary.registered_at), summary.case_id]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def decode_page_token(token: str) -> tuple[int, str] | None:
    """The (registered_at in µs, case id) after which the next page starts."""
    if not token:
        return None
    try:
        registered_us, case_id = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(registered_us), str(case_id)
    except (ValueError, TypeError):
        raise InvalidCommand("page_token", "is not a token from a previous page") from None
