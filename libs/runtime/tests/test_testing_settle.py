"""A bench's paced phase waits for the machine to be quiet (calibration.settle): not while every
core is busy with what a phase before left, and not beyond its limit."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from casedesk_runtime.testing.calibration import settle

BURN = "import time\nend = time.monotonic() + {s}\nwhile time.monotonic() < end: pass\n"


def _burners(seconds: float) -> list[subprocess.Popen[bytes]]:
    """One process spinning on every core for `seconds`: the machine fully busy."""
    code = BURN.format(s=seconds)
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(os.cpu_count() or 1)]


async def test_it_waits_while_every_core_is_busy_and_returns_once_they_are_not() -> None:
    burners = _burners(1.5)
    began = time.monotonic()
    waited = await settle(limit_s=20.0)
    for burner in burners:
        burner.wait()
    assert waited >= 1.0  # not before the cores were free again
    assert waited < 15.0  # but once they were, long before the limit
    assert abs((time.monotonic() - began) - waited) < 0.5


async def test_a_machine_busy_with_something_else_is_waited_for_no_longer_than_the_limit() -> None:
    burners = _burners(4.0)
    try:
        waited = await settle(limit_s=1.0)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    assert 1.0 <= waited < 2.0
