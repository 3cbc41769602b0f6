"""What an orchestrator does for the services: a process that exits is started again.

The schedule's kills go through `kill()`, which holds the services down for the fault's time and
then starts them again. A service that exits on its own (a crash the faults provoked) is noticed
within a second, recorded as an unplanned exit with its code, and started again the same way.
Every kill and exit is kept with its instant, so a duplicate notice can be put down to the notify
crash that caused it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Collection
from dataclasses import dataclass, field

from support.services import ServiceProcess, ServiceStartError

START_TIMEOUT_S = 120.0
RESTART_GIVE_UP_S = 600.0
WATCH_EVERY_S = 1.0


@dataclass(frozen=True)
class Exit:
    service: str
    at: float  # time.time()
    planned: bool  # a kill of the schedule, or the process ended on its own
    code: int | None


@dataclass
class Supervisor:
    processes: dict[str, ServiceProcess]
    exits: list[Exit] = field(default_factory=list)
    restarts_failed: list[str] = field(default_factory=list)  # start attempts that failed
    _held: set[str] = field(default_factory=set)

    async def watch(self) -> None:
        """Until cancelled: start again whatever exited outside a kill of the schedule."""
        while True:
            for name, process in self.processes.items():
                if name not in self._held and not process.running:
                    # ServiceProcess keeps its Popen to itself; the exit code is only there.
                    code = process._process.returncode if process._process else None
                    self.exits.append(Exit(name, time.time(), False, code))
                    self._held.add(name)
                    try:
                        await self._start(name)
                    finally:
                        self._held.discard(name)
            await asyncio.sleep(WATCH_EVERY_S)

    async def kill(self, names: Collection[str], down_s: float) -> None:
        """kill -9 of `names` at once; after `down_s` they start again, together."""
        self._held.update(names)
        try:
            for name in names:
                self.processes[name].kill()
                self.exits.append(Exit(name, time.time(), True, -9))
            await asyncio.sleep(down_s)
            await asyncio.gather(*(self._start(name) for name in names))
        finally:
            self._held.difference_update(names)

    def all_running(self) -> bool:
        return all(process.running for process in self.processes.values())

    def crashes_of(self, name: str) -> list[float]:
        """Instants `name` went down, planned or not (a notify crash opens its resend window)."""
        return [e.at for e in self.exits if e.service == name]

    async def _start(self, name: str) -> None:
        process = self.processes[name]
        deadline = time.monotonic() + RESTART_GIVE_UP_S
        while not process.running:
            try:
                await asyncio.to_thread(process.start, START_TIMEOUT_S)
            except ServiceStartError as error:
                self.restarts_failed.append(f"{name}: {str(error).splitlines()[0]}")
                if time.monotonic() > deadline:
                    raise
                with contextlib.suppress(Exception):
                    process.kill()
                await asyncio.sleep(3.0)
