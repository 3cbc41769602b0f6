"""Notify's series on the runtime's metrics endpoint, by delivery channel (`email`, `sms`):

- `casedesk_notify_notifications_sent_total{channel}`: accepted by the SMTP server or SMS gateway;
- `casedesk_notify_notifications_retried_total{channel}`: attempts that failed for now, with a
  retry scheduled (not those whose outcome is unknown, counted apart);
- `casedesk_notify_notifications_dead_lettered_total{channel}`: given up on (a permanent failure
  or the attempts exhausted) and parked on `case.events.v1.dlq.notify`;
- `casedesk_notify_notifications_outcome_unknown_total{channel}`: attempts whose outcome is
  unknown (handed over, no answer: possibly accepted), each followed by a resend under the same id;
- `casedesk_notify_notifications_possible_duplicates_total{channel}`: notifications sent after an
  attempt with an unknown outcome: the citizen may hold two copies (same Message-ID / client id);
- `casedesk_notify_notifications_held_total{channel}`: notices held by the per-recipient limit;
- `casedesk_notify_notifications_superseded_total{channel}`: held status notices replaced by a
  later one of the same case;
- `casedesk_notify_notifications_suppressed_total{channel}`: notices not sent because the
  recipient already had the maximum held;
- `casedesk_notify_notifications_merged_total{channel}`: a reply's notices carried by the status
  notice that followed the reply within its window (not sent on their own).

Counted when the verdict (for merges: the consumed batch) is committed, the moment it becomes the
delivery's state.
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry import metrics

from casedesk_notify.application.deliveries import Delivery, DeliveryState, Verdict
from casedesk_notify.application.ports import ERASED_REASON

_meter = metrics.get_meter("casedesk_notify")


def _counter(name: str, unit: str, description: str) -> metrics.Counter:
    return _meter.create_counter(f"casedesk.notify.notifications.{name}", unit, description)


_counters = {
    DeliveryState.SENT: _counter(
        "sent", "{notification}", "Notifications accepted by the mail server or SMS gateway"
    ),
    DeliveryState.PENDING: _counter(
        "retried", "{attempt}", "Delivery attempts failed for now, with a retry scheduled"
    ),
    DeliveryState.DEAD: _counter(
        "dead_lettered", "{notification}",
        "Notifications given up on and parked on the dead-letter topic",
    ),
    DeliveryState.UNKNOWN: _counter(
        "outcome_unknown", "{attempt}",
        "Attempts handed over without an answer (possibly accepted), resent under the same id",
    ),
    DeliveryState.HELD: _counter(
        "held", "{notification}", "Notices held by the per-recipient limit"
    ),
    DeliveryState.SUPERSEDED: _counter(
        "superseded", "{notification}",
        "Held status notices replaced by a later status notice of the same case",
    ),
    DeliveryState.SUPPRESSED: _counter(
        "suppressed", "{notification}",
        "Notices not sent: the recipient already had the maximum number held",
    ),
}  # fmt: skip
_merged = _counter(
    "merged", "{notification}",
    "Reply notices carried by the status notice that followed within the reply window",
)  # fmt: skip
_possible_duplicates = _counter(
    "possible_duplicates", "{notification}",
    "Notifications sent after an attempt with an unknown outcome (two copies possible)",
)  # fmt: skip


def committed(verdicts: Iterable[Verdict]) -> None:
    for verdict in verdicts:
        if verdict.state is DeliveryState.SUPPRESSED and verdict.error == ERASED_REASON:
            continue  # not the per-recipient limit's: an erased citizen's notice (README)
        labels = {"channel": verdict.delivery.channel.value}
        _counters[verdict.state].add(1, labels)
        if verdict.state is DeliveryState.SENT and verdict.unknown_outcomes:
            _possible_duplicates.add(1, labels)


def merged(deliveries: Iterable[Delivery]) -> None:
    for delivery in deliveries:
        _merged.add(1, {"channel": delivery.channel.value})
