"""The analysts' replay tool (`casedesk-replay`, replay/) run as an analyst runs it, as its own
process, against the run's topics (`--topic-prefix`) and the case service's event store:

- `what-if --policy test-seconds --emit`: every SLA event the service's own rules decide from
  case.events.v1 alone, so the breaches that should be on sla.events.v1;
- `report --compare-with-store`: stored case events missing from the topic, topic events missing
  from the store, and gaps in every case's versions;
- `export --case-events-from store`: the cases the event store holds;
- `export` (from Kafka): the notification journal folded, one row per notice with its state.
It reads Kafka as the `replay` principal, which may read every topic and write none.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from google.protobuf import json_format
from support.system import Casedesk

from casedesk.sla.v1 import events_pb2 as sla_pb2
from casedesk_runtime.kafka_access import ANALYST

REPLAY = Path(sys.executable).with_name("casedesk-replay")
TIMEOUT_S = 600.0
EXIT_TOPIC_INCOMPLETE = 3


class ReplayFailed(AssertionError):
    """The tool failed; the message is its command and its last lines on stderr."""


class ReplayTool:
    def __init__(self, system: Casedesk, directory: Path, policy: str) -> None:
        self._system, self._directory, self._policy = system, directory, policy
        directory.mkdir(parents=True, exist_ok=True)

    async def decided_breaches(self, as_of: datetime) -> list[sla_pb2.SlaEvent]:
        """The Breached events the SLA rules decide from the case events, up to `as_of`."""
        emitted = self._directory / "replayed-sla.jsonl"
        await self._run(
            "what-if", "--policy", self._policy, "--as-of", as_of.isoformat(),
            "--streams", "case", "--emit", str(emitted), "--json",
        )  # fmt: skip
        events = [
            json_format.Parse(line, sla_pb2.SlaEvent())
            for line in emitted.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        return [event for event in events if event.WhichOneof("payload") == "breached"]

    async def store_comparison(self) -> dict[str, Any]:
        """`report --json`'s `store_comparison` and `gaps` objects."""
        out = await self._run(
            "report", "--compare-with-store", "--streams", "case", "--json",
            store=True, allowed=(0, EXIT_TOPIC_INCOMPLETE),
        )  # fmt: skip
        report = json.loads(out)
        return {"store_comparison": report["store_comparison"], "gaps": report["gaps"]}

    async def stored_cases(self) -> set[str]:
        """Ids of the cases the case service's event store holds."""
        out = self._directory / "store-tables"
        await self._run(
            "export", "--case-events-from", "store", "--streams", "case", "--tables", "cases",
            "--out", str(out), store=True,
        )  # fmt: skip
        return {row["case_id"] for row in pq.read_table(out / "cases.parquet").to_pylist()}

    async def notices(self) -> dict[str, dict[str, Any]]:
        """Notification id -> its row of the journal as the replay folds it (state, attempts,
        failures, last error; masked)."""
        out = self._directory / "kafka-tables"
        await self._run(
            "export", "--streams", "notification", "--tables", "notifications", "--out", str(out)
        )
        rows = pq.read_table(out / "notifications.parquet").to_pylist()
        return {row["notification_id"]: row for row in rows}

    async def _run(self, *args: str, store: bool = False, allowed: tuple[int, ...] = (0,)) -> str:
        system = self._system
        env = {**os.environ, **system.kafka.service_env(ANALYST)}
        if store:
            env |= system.case_store_env
        command = [str(REPLAY), *args, "--topic-prefix", system.topics.prefix, "--no-progress"]
        process = await asyncio.create_subprocess_exec(
            *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await asyncio.wait_for(process.communicate(), TIMEOUT_S)
        if process.returncode not in allowed:
            tail = "\n".join(err.decode(errors="replace").splitlines()[-15:])
            raise ReplayFailed(f"casedesk-replay {args[0]} exited {process.returncode}:\n{tail}")
        return out.decode()
