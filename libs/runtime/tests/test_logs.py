import json
import logging

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from casedesk_runtime.logs import JsonFormatter, RepeatThrottle


def _format(record: logging.LogRecord) -> dict:
    return json.loads(JsonFormatter("case").format(record))


def test_json_line_masks_message_and_extra_fields() -> None:
    record = logging.makeLogRecord(
        {
            "msg": "sms to %s",
            "args": ("+79123456789",),
            "levelname": "INFO",
            "name": "notify",
            "recipient": "ivan@example.ru",
        }
    )
    entry = _format(record)
    assert entry["service"] == "case"
    assert "9123456789" not in entry["message"]
    assert entry["recipient"] == "i***@example.ru"


def test_trace_ids_are_attached_inside_a_span() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        entry = _format(logging.makeLogRecord({"msg": "hello", "levelname": "INFO"}))
    assert entry["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert trace.get_current_span() is not span


def test_a_library_warning_repeated_within_the_window_passes_once_then_with_a_count() -> None:
    now = [0.0]
    throttle = RepeatThrottle(window_s=60.0, clock=lambda: now[0])

    def warning(name: str, msg: str) -> logging.LogRecord:
        return logging.makeLogRecord({"name": name, "msg": msg, "args": ("node 1",)})

    assert throttle.filter(warning("aiokafka.conn", "Unable connect to %s"))
    passed = []
    for _ in range(500):
        now[0] += 0.1
        passed.append(throttle.filter(warning("aiokafka.conn", "Unable connect to %s")))
    assert not any(passed)  # 50 s of repeats: all held back
    # Another message, and the service's own lines, are never held back by these repeats.
    assert throttle.filter(warning("aiokafka.client", "Unable to update metadata from %s"))
    assert all(throttle.filter(warning("casedesk_case.relay", "x")) for _ in range(3))
    now[0] += 10.1
    after = warning("aiokafka.conn", "Unable connect to %s")
    assert throttle.filter(after)
    assert after.suppressed == 500  # type: ignore[attr-defined]
    assert _format(after)["suppressed"] == 500
