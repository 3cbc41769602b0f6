"""Garbage-collector settings for long-running service processes, and the length of its pauses.

A collection stops every coroutine and thread of the process until it is done, so its pauses are
part of every latency the process shows. prometheus_client's `python_gc_*` series count the
collections but not how long they took; `watch_collector_pauses` measures each one
(`gc.callbacks`) and exports the time spent paused and the longest recent pause, by generation:

- `casedesk_runtime_gc_pause_seconds_total{generation}`: time spent in collections;
- `casedesk_runtime_gc_pause_max_seconds{generation}`: the longest pause of the last minute.

Measured in the intake benchmark at 500-600 cases/s (2 cores): the case service's youngest
generation held 100,000-120,000 objects when it was collected (the cases its caches keep: an
evicted old case lowers the collector's allocation count as a new one raises it, so the count
reaches its threshold long after the objects do), and its collections paused 50-90 ms every
15-20 s; intake's oldest-generation collections 80-100 ms. A pause delays every case in flight
at once: spikes of 100-250 ms on top of the queueing of a path run at 85-90 % of its capacity,
which alone held the median above 100 ms for seconds at a time in the same runs.
"""

from __future__ import annotations

import gc
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import metrics

GENERATIONS = (0, 1, 2)
# The longest pause is the longest of this window: a scrape every 15-60 s sees each pause.
MAX_WINDOW_S = 60.0
# Pauses remembered per generation for the window (the youngest runs up to a few per second).
_REMEMBERED = 512


def tune_garbage_collector() -> None:
    """Collect cyclic garbage less often than CPython's default (every 700 net allocations).

    Call once start-up is done. A service keeps tens of thousands of long-lived objects (caches,
    protobuf and OpenTelemetry machinery, gRPC) while each call allocates hundreds of short-lived
    ones. With the default thresholds the collector took about 5% of the case service's CPU in its
    benchmark, most of it re-scanning the long-lived objects, and its full collections paused
    every call in flight at once (the tail of the latency).
    """
    gc.collect()
    gc.freeze()  # what start-up created lives as long as the process: never scan it again
    gc.set_threshold(10_000, 20, 20)


class CollectorPauses:
    """Every collection's pause by generation, as `gc.callbacks` reports it (`__call__`).

    The callback runs inside the collection, in whichever thread triggered it, so it only adds to
    lists (no lock: a lock an interrupted thread holds would never be released); readers in other
    threads (a scrape) read totals that are at most one collection old."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._started = 0.0
        self.paused_s = [0.0 for _ in GENERATIONS]
        self._recent: list[deque[tuple[float, float]]] = [
            deque(maxlen=_REMEMBERED) for _ in GENERATIONS
        ]

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        now = self._clock()
        if phase == "start":
            self._started = now
            return
        generation = info.get("generation", 2)
        if generation not in GENERATIONS:
            return
        pause = max(0.0, now - self._started)
        self.paused_s[generation] += pause
        self._recent[generation].append((now, pause))

    def longest_recent(self, generation: int, window_s: float = MAX_WINDOW_S) -> float:
        """The longest pause of `generation` that ended within the last `window_s` (0: none)."""
        since = self._clock() - window_s
        return max(
            (p for ended, p in list(self._recent[generation]) if ended >= since), default=0.0
        )


_pauses: CollectorPauses | None = None
_pauses_lock = threading.Lock()


def collector_pauses() -> CollectorPauses:
    """The process's one measurement of pauses, registered with the collector on first use."""
    global _pauses
    with _pauses_lock:
        if _pauses is None:
            _pauses = CollectorPauses()
            gc.callbacks.append(_pauses)
        return _pauses


def watch_collector_pauses(meter_provider: metrics.MeterProvider | None = None) -> None:
    """Export the process's collector pauses through `meter_provider` (the global one: None)."""
    pauses = collector_pauses()
    meter = metrics.get_meter("casedesk_runtime.collector", meter_provider=meter_provider)

    def paused(options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        return [
            metrics.Observation(pauses.paused_s[g], {"generation": str(g)}) for g in GENERATIONS
        ]

    def longest(options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        return [
            metrics.Observation(pauses.longest_recent(g), {"generation": str(g)})
            for g in GENERATIONS
        ]

    meter.create_observable_counter(
        "casedesk.runtime.gc.pause",
        callbacks=[paused],
        unit="s",
        description="Time the process spent paused in garbage collections, by generation",
    )
    meter.create_observable_gauge(
        "casedesk.runtime.gc.pause.max",
        callbacks=[longest],
        unit="s",
        description="The longest garbage-collection pause of the last minute, by generation",
    )
