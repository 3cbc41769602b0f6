"""Instants as protobuf Timestamps, without protobuf's pure-Python helper.

`Timestamp.FromDatetime` goes through `utctimetuple` and `calendar.timegm`: a few microseconds,
and every command response and every published event carries two or three timestamps. Same
result as `casedesk_runtime.events.to_timestamp` (timezone-aware instants only), four times faster.
"""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from casedesk_vocabulary.moscow import to_micros


def to_timestamp(moment: datetime) -> Timestamp:
    # Floor division keeps nanos non-negative before 1970 too, as protobuf requires.
    seconds, micros = divmod(to_micros(moment), 1_000_000)
    return Timestamp(seconds=seconds, nanos=micros * 1000)
