"""case.events.v1 into the domain's case facts.

Only the events that move a clock become facts; the rest of case.events.v1 (assignments,
attachments, links, internal notes, citizens' comments, callbacks that did not reach the citizen,
ratings, merges) is read and ignored here. Channels, tiers,
categories and statuses are kept as the names of their protobuf (and so casedesk_vocabulary)
members: the policy looks channels and categories up by name, and a channel it does not know is
its error to report.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator

from casedesk.case.v1 import events_pb2 as case_events
from casedesk.common.v1 import types_pb2
from casedesk_sla.domain import (
    CaseFact,
    CaseOpened,
    Micros,
    PublicReply,
    StatusChanged,
    TierChanged,
)
from casedesk_sla.wire.timestamps import micros_of

_CITIZEN = types_pb2.Actor.CITIZEN
_SPECIALIST = types_pb2.Actor.SPECIALIST
_CATEGORIES = frozenset(types_pb2.Category.values())


def event_time(event: case_events.CaseEvent) -> Micros:
    return micros_of(event.meta.occurred_at)


def case_fact(event: case_events.CaseEvent, traceparent: str | None = None) -> CaseFact | None:
    """The clock-relevant fact a case event carries, or None when it moves no clock.

    `traceparent` is the record's W3C header: the trace the fact's SLA events will belong to.
    Raises ValueError for an event without a case id or with an enum value unknown here.
    """
    meta = event.meta
    if not meta.case_id:
        raise ValueError("case event without a case id")
    common = (meta.case_id, meta.case_version, micros_of(meta.occurred_at), meta.event_id)
    correlation = meta.correlation_id
    payload = event.WhichOneof("payload")
    if payload == "created":
        created = event.created
        # Clocks start when the case was registered, which the case service may have back-dated
        # to the moment the request reached the channel (an e-mail's arrival).
        start = micros_of(created.registered_at) if created.HasField("registered_at") else common[2]
        return CaseOpened(
            meta.case_id,
            meta.case_version,
            start,
            meta.event_id,
            correlation,
            channel=types_pb2.Channel.Name(created.channel),
            tier=types_pb2.Tier.Name(created.tier),
            category=_category(created.category),
            traceparent=traceparent,
        )
    if payload == "status_changed":
        change = event.status_changed
        return StatusChanged(
            *common,
            correlation,
            from_status=types_pb2.Status.Name(change.from_status),
            to_status=types_pb2.Status.Name(change.to_status),
            by_citizen=meta.actor.kind == _CITIZEN,
            traceparent=traceparent,
        )
    if payload == "commented":
        if event.commented.public and meta.actor.kind == _SPECIALIST:
            return PublicReply(*common, correlation, traceparent=traceparent)
        return None
    if payload == "callback_recorded":
        # A phone case is answered by calling the citizen back: the call that reached him is
        # the first response (the seed's 30-minute callback); one that did not is none.
        if event.callback_recorded.reached:
            return PublicReply(*common, correlation, traceparent=traceparent)
        return None
    if payload == "escalated":
        tier = types_pb2.Tier.Name(event.escalated.to_tier)
        return TierChanged(*common, correlation, tier=tier, traceparent=traceparent)
    return None


def _category(value: int) -> str:
    """The category's name; "" for none, and for a value newer than this release.

    Unlike an unknown channel, an unknown category leaves the policy something to compute with:
    the channel's targets, which are what a category no policy names gets anyway. Refusing the
    Created would leave the case without any clock.
    """
    if value == types_pb2.CATEGORY_UNSPECIFIED or value not in _CATEGORIES:
        return ""
    return types_pb2.Category.Name(value)


def merge_partitions(
    partitions: Iterable[Iterable[case_events.CaseEvent]],
) -> Iterator[case_events.CaseEvent]:
    """One stream in event-time order that keeps each partition's (and so each case's) order."""
    streams = [((event_time(event), event) for event in partition) for partition in partitions]
    for _, event in heapq.merge(*streams, key=lambda item: item[0]):
        yield event
