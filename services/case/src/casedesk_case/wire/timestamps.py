"""Instants as protobuf Timestamps, without protobuf's pure-Python helper.

`Timestamp.FromDatetime` goes through `utctimetuple` and `calendar.timegm`: a few microseconds,
and every command response and every published event carries two or three timestamps. Same
result as `casedesk_runtime.events.to_timestamp` (timezone-aware instants only), four times faster.
"""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_timestamp(moment: datetime) -> Timestamp:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: every instant in Casedesk is timezone-aware")
    since = moment - _EPOCH
    return Timestamp(seconds=since.days * 86_400 + since.seconds, nanos=since.microseconds * 1000)
