"""SLA service benchmark: a million open clocks, breach lateness under load, consume throughput.

    uv run python services/sla/bench.py [--clocks 1000000] [--window-s 10]

1. Consume: Created events for e-mail, phone, social and personal-account cases (two clocks
   each, due in minutes to days), as protobuf bytes from case.events.v1, each with a trace
   context of its own that its clocks keep, go through the real decode, engine and SQLite
   store (one transaction per 1,000-record batch; the outbox is drained as the relay would).
   Prints `BENCH sla.events_per_s` and, with every clock open, `BENCH sla.rss_mb_1m_clocks`
   (resident set size of the whole process).
2. Fire: chat cases whose first-response breaches fall due over the next `--window-s` seconds are
   added, then the real alarm timer runs on the system clock while more cases keep arriving
   (500 events/s). Lateness = commit of the breach to the outbox minus its due instant.
   Prints `BENCH sla.breach_lateness_p99_ms`.
3. Restart: a fresh process loads every clock from the store. Prints `BENCH sla.restart_load_s`
   and `BENCH sla.rss_mb_restarted`.
Must: rss ≤ 1,024 MB and breach lateness p99 ≤ 1,000 ms (DESIGN.md "Numbers to design for").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from casedesk.case.v1 import events_pb2 as case_events
from casedesk_deadlines import DEFAULT_POLICY_VERSION
from casedesk_runtime.testing.case_events import CaseStream
from casedesk_sla.adapters.store import SqliteClockStore
from casedesk_sla.adapters.system_clock import SystemClock
from casedesk_sla.application.engine import ConsumedEvent, SlaEngine
from casedesk_sla.application.timer import AlarmTimer
from casedesk_sla.application.watermarks import Watermarks
from casedesk_sla.domain import PolicyRegistry, SlaBook, SlaFact, SlaKind
from casedesk_sla.wire.case_events import case_fact, event_time
from casedesk_vocabulary.enums import Channel
from casedesk_vocabulary.moscow import from_micros
from casedesk_vocabulary.topics import CASE_EVENTS

PARTITION = (CASE_EVENTS, 0)
BULK_CHANNELS = ("EMAIL", "PHONE", "SOCIAL", "PERSONAL_ACCOUNT")
SECOND = 1_000_000
BATCH = 1_000


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


# A case.events.v1 record as the service reads it: the value and its `traceparent` header.
Record = tuple[bytes, str]


def created_record(channel: str, registered_at: int) -> Record:
    case = CaseStream(channel=Channel(channel), at=from_micros(registered_at))
    event = case.created()
    # Every case in a trace of its own, as from the frontends: the clocks keep each one.
    traceparent = f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
    return event.SerializeToString(), traceparent


class Bench:
    def __init__(self, db: Path) -> None:
        self.store = SqliteClockStore(db)
        self.clock = SystemClock()
        watermarks = Watermarks()
        watermarks.assign([PARTITION])
        watermarks.set_caught_up(PARTITION, True)
        self.lateness_ms: list[float] = []
        self.engine = SlaEngine(
            SlaBook(PolicyRegistry(DEFAULT_POLICY_VERSION)),
            self.store,
            self.clock,
            watermarks,
            on_outbox=self._outbox_filled,
            on_decided=self._observe,
        )
        self.timer: AlarmTimer | None = None
        self.offset = 0

    def _outbox_filled(self) -> None:
        if self.timer is not None:
            self.timer.wake()

    def _observe(self, facts: Sequence[SlaFact]) -> None:
        now = self.clock.now()
        self.lateness_ms.extend(
            (now - fact.at) / 1_000 for fact in facts if fact.kind is SlaKind.BREACHED
        )

    def consume(self, records: Sequence[Record]) -> None:
        batch = []
        for value, traceparent in records:
            event = case_events.CaseEvent.FromString(value)
            fact = case_fact(event, traceparent)
            batch.append(ConsumedEvent(PARTITION, self.offset, event_time(event), fact))
            self.offset += 1
        self.engine.consume(batch)
        # The relay's share: published rows are deleted.
        pending = self.store.pending(1)
        if pending:
            self.store.mark_published(1 << 62)


def bulk_batches(cases: int, now: int) -> Iterator[list[Record]]:
    for start in range(0, cases, BATCH):
        count = min(BATCH, cases - start)
        yield [created_record(BULK_CHANNELS[(start + i) % 4], now) for i in range(count)]


def consume_phase(bench: Bench, clocks: int) -> float:
    busy = 0.0
    for records in bulk_batches(clocks // 2, bench.clock.now()):
        started = time.perf_counter()
        bench.consume(records)
        busy += time.perf_counter() - started
    return (clocks // 2) / busy


async def fire_phase(bench: Bench, window_s: float, breaches: int) -> None:
    now = bench.clock.now()
    # Chat first response is 5 minutes: back-date registrations so the dues land in the window.
    chat = [
        created_record(
            "PORTAL_CHAT", now - 300 * SECOND + 2 * SECOND + i * int(window_s * SECOND) // breaches
        )
        for i in range(breaches)
    ]
    for start in range(0, len(chat), BATCH):
        bench.consume(chat[start : start + BATCH])
    timer = AlarmTimer(bench.engine, bench.clock)
    bench.engine._on_outbox = timer.wake
    running = asyncio.create_task(timer.run())
    deadline = time.monotonic() + window_s + 3
    while time.monotonic() < deadline:
        # Background load: 50 new cases every 100 ms.
        bench.consume([created_record("EMAIL", bench.clock.now()) for _ in range(50)])
        timer.wake()
        await asyncio.sleep(0.1)
    timer.stop()
    await running


def restart_phase(db: Path) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, __file__, "--load-only", str(db)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def load_only(db: Path) -> None:
    started = time.perf_counter()
    store = SqliteClockStore(db)
    book = SlaBook(PolicyRegistry(DEFAULT_POLICY_VERSION), is_retired=store.is_retired)
    store.load(book)
    elapsed = time.perf_counter() - started
    print(json.dumps({"load_s": elapsed, "rss_mb": rss_mb(), "clocks": 2 * len(book.table)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clocks", type=int, default=1_000_000)
    parser.add_argument("--window-s", type=float, default=10.0)
    parser.add_argument("--breaches", type=int, default=3_000)
    parser.add_argument("--load-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_only:
        load_only(args.load_only)
        return
    with tempfile.TemporaryDirectory(prefix="sla-bench-") as directory:
        db = Path(directory) / "sla.sqlite3"
        bench = Bench(db)
        events_per_s = consume_phase(bench, args.clocks)
        open_clocks = 2 * len(bench.engine.book.table)
        rss = rss_mb()
        print(f"open clocks: {open_clocks}", file=sys.stderr)
        print(f"BENCH sla.events_per_s {events_per_s:.0f}")
        print(f"BENCH sla.rss_mb_1m_clocks {rss:.0f}")
        asyncio.run(fire_phase(bench, args.window_s, args.breaches))
        lateness = sorted(bench.lateness_ms)
        p99 = lateness[min(len(lateness) - 1, int(len(lateness) * 0.99))]
        print(
            f"breaches: {len(lateness)}, lateness median {statistics.median(lateness):.1f} ms, "
            f"max {lateness[-1]:.1f} ms",
            file=sys.stderr,
        )
        print(f"BENCH sla.breach_lateness_p99_ms {p99:.1f}")
        bench.store.close()
        restarted = restart_phase(db)
        print(f"BENCH sla.restart_load_s {restarted['load_s']:.1f}")
        print(f"BENCH sla.rss_mb_restarted {restarted['rss_mb']:.0f}")


if __name__ == "__main__":
    main()
