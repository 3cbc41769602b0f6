"""Notify's series on the runtime's metrics endpoint, by delivery channel (`email`, `sms`):

- `casedesk_notify_notifications_sent_total{channel}`: accepted by the SMTP server or SMS gateway;
- `casedesk_notify_notifications_retried_total{channel}`: attempts that failed for now, with a
  retry scheduled;
- `casedesk_notify_notifications_dead_lettered_total{channel}`: given up on (a permanent failure
  or the attempts exhausted) and parked on `case.events.v1.dlq.notify`.

Counted when the verdict is committed, the moment it becomes the delivery's state.
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry import metrics

from casedesk_notify.application.deliveries import DeliveryState, Verdict

_meter = metrics.get_meter("casedesk_notify")
_counters = {
    DeliveryState.SENT: _meter.create_counter(
        "casedesk.notify.notifications.sent",
        unit="{notification}",
        description="Notifications accepted by the mail server or SMS gateway",
    ),
    DeliveryState.PENDING: _meter.create_counter(
        "casedesk.notify.notifications.retried",
        unit="{attempt}",
        description="Delivery attempts failed for now, with a retry scheduled",
    ),
    DeliveryState.DEAD: _meter.create_counter(
        "casedesk.notify.notifications.dead_lettered",
        unit="{notification}",
        description="Notifications given up on and parked on the dead-letter topic",
    ),
}


def committed(verdicts: Iterable[Verdict]) -> None:
    for verdict in verdicts:
        _counters[verdict.state].add(1, {"channel": verdict.delivery.channel.value})
