"""Structured JSON logs with trace ids, personal data masked in every record.

Masking happens in the formatter, after the message is rendered with its arguments, so neither a
format argument nor an `extra` field of any type (a number, bytes, a list, a dict, an exception)
can carry a phone number or an e-mail around the filter.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

from casedesk_runtime.masking import mask_text, mask_value

_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service_name: str) -> None:
        super().__init__()
        self.service_name = service_name

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service_name,
            "logger": record.name,
            "message": mask_text(record.getMessage()),
        }
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            entry["trace_id"] = format(span_context.trace_id, "032x")
            entry["span_id"] = format(span_context.span_id, "016x")
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = mask_value(key, value)
        if record.exc_info:
            entry["exception"] = mask_text(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


# Client libraries whose warnings repeat once per retry while a server is away.
THROTTLED_LIBRARIES = ("aiokafka", "kafka")
THROTTLE_WINDOW_S = 60.0


class RepeatThrottle(logging.Filter):
    """Lets each distinct message of a chatty library through once per window.

    While a broker is away, aiokafka logs two or three warnings for every reconnection and
    metadata attempt (in one outage 111,542 lines in 29 s). The first occurrence of a message
    (by logger and format string) passes; repeats within `window_s` are counted, and the next
    one to pass after the window carries that count as `suppressed`. Installed on the handler,
    since a logger's filters do not apply to records propagated from its child loggers.
    """

    def __init__(
        self,
        prefixes: tuple[str, ...] = THROTTLED_LIBRARIES,
        window_s: float = THROTTLE_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._prefixes = prefixes
        self._window_s = window_s
        self._clock = clock
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}  # -> (passed at, suppressed)

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name
        if not any(name == p or name.startswith(p + ".") for p in self._prefixes):
            return True
        key = (name, str(record.msg))
        now = self._clock()
        passed_at, suppressed = self._seen.get(key, (float("-inf"), 0))
        if now - passed_at < self._window_s:
            self._seen[key] = (passed_at, suppressed + 1)
            return False
        if len(self._seen) > 1000:  # messages embedding ids never repeat: keep the table small
            self._seen.clear()
        self._seen[key] = (now, 0)
        if suppressed:
            record.suppressed = suppressed
        return True


def configure_logging(service_name: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service_name))
    handler.addFilter(RepeatThrottle())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Client libraries are chatty at INFO (connection churn); their warnings still come through.
    for noisy in ("aiokafka", "kafka", "grpc", "eventsourcing"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
