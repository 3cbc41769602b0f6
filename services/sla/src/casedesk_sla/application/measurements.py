"""The SLA service's series on the runtime's metrics endpoint (labels: vocabulary names only).

- `casedesk_sla_open_clocks{channel, tier, target}`: clocks running or paused — a breached clock
  too, until it is met — read from the book's census (`ClockTable.open_clocks`) at each scrape;
- `casedesk_sla_warnings_total{channel, tier, target}`, `casedesk_sla_breaches_total{...}`:
  warnings and breaches decided, with the case's tier when they fired;
- `casedesk_sla_events_total{kind, target}`: every SLA event decided;
- `casedesk_sla_breach_lateness_seconds`: how long after its due instant a breach was decided
  (a lagging consumer, a restart: the timer itself fires on time).

Counted once their transaction committed (`decided`), so a halted engine counts nothing twice.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence

from opentelemetry import metrics

from casedesk_sla.domain import Micros, SlaBook, SlaFact, SlaKind
from casedesk_sla.domain.table import TARGETS

_meter = metrics.get_meter("casedesk_sla")
_events = _meter.create_counter(
    "casedesk.sla.events", unit="{event}", description="SLA events decided, by kind and target"
)
_warnings = _meter.create_counter(
    "casedesk.sla.warnings", unit="{warning}", description="SLA warnings decided"
)
_breaches = _meter.create_counter(
    "casedesk.sla.breaches", unit="{breach}", description="SLA breaches decided"
)
_lateness = _meter.create_histogram(
    "casedesk.sla.breach.lateness",
    unit="s",
    description="Decision time of a breach minus its due instant",
    explicit_bucket_boundaries_advisory=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400, 86400),
)
_SEEN = {SlaKind.WARNING: _warnings, SlaKind.BREACHED: _breaches}

# The books whose clocks are counted (one when the service runs); read by the metrics thread.
_books: tuple[weakref.ref[SlaBook], ...] = ()


def decided(facts: Sequence[SlaFact], now: Micros) -> None:
    """Count SLA events whose transaction committed at `now`."""
    for fact in facts:
        _events.add(1, {"kind": fact.kind.value, "target": fact.target.value})
        counter = _SEEN.get(fact.kind)
        if counter is not None:
            labels = {"channel": fact.channel, "tier": fact.tier, "target": fact.target.value}
            counter.add(1, labels)
        if fact.kind is SlaKind.BREACHED:
            _lateness.record(max(now - fact.at, 0) / 1_000_000)


def observe_open_clocks(book: SlaBook) -> None:
    """Report `book`'s open clocks in casedesk_sla_open_clocks while it lives."""
    global _books
    _books = (*(ref for ref in _books if ref() is not None), weakref.ref(book))


def _open_clocks(options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
    observations = []
    for ref in _books:
        book = ref()
        if book is None:
            continue
        table = book.table
        census = table.open_clocks.copy()  # one C call: the event loop cannot change it midway
        channels, tiers = table.channels.words, table.tiers.words
        for (channel, tier, target), count in census.items():
            labels = {
                "channel": channels[channel],
                "tier": tiers[tier],
                "target": TARGETS[target].value,
            }
            observations.append(metrics.Observation(count, labels))
    return observations


_meter.create_observable_gauge(
    "casedesk.sla.open_clocks",
    callbacks=[_open_clocks],
    unit="{clock}",
    description="SLA clocks running or paused (a breached one until it is met)",
)
