import json
import logging

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from casedesk_runtime.logs import JsonFormatter


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
