"""Server-sent events (text/event-stream) as the desk's pages read them (static/desk.js)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import StreamingResponse

from casedesk_desk.web.app import SECURITY_HEADERS

# How long EventSource waits before it reconnects after a dropped connection.
RETRY = "retry: 5000\n\n"
HEARTBEAT = ": ещё здесь\n\n"
# The feed is over (session ended, refused): the script closes the EventSource.
END = "event: end\ndata: \n\n"


def event(name: str, data: dict[str, Any], event_id: str | None = None) -> str:
    """One event; `event_id` (EventSource's Last-Event-ID on reconnect) only when it is safe
    on one line."""
    lines = []
    if event_id and not any(c in event_id for c in "\r\n\0"):
        lines.append(f"id: {event_id}")
    lines += [f"event: {name}", f"data: {json.dumps(data, ensure_ascii=False)}"]
    return "\n".join(lines) + "\n\n"


def event_stream(body: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={**SECURITY_HEADERS, "X-Accel-Buffering": "no"},
    )
