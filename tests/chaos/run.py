"""`make chaos`: the full chaos run (tests/chaos/README.md), then its figures and how long it took.

    uv run --frozen python tests/chaos/run.py [--schedule full|short] [--keep]

PostgreSQL comes as for the integration tests (support/provisioning.py: a container, or a local
process with CASEDESK_TEST_INFRA=local); the Kafka cluster is always three local JVMs. Exit
status 0 when every figure that must be zero is, 1 otherwise (and the run's directory, with every
service's and broker's log, is kept and named), 2 when the infrastructure could not be had.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "integration")]

from chaoskit.harness import run_chaos  # noqa: E402
from chaoskit.schedule import SCHEDULES  # noqa: E402
from support.errors import InfrastructureError  # noqa: E402
from support.provisioning import SessionInfrastructure  # noqa: E402
from support.settings import InfraSettings  # noqa: E402


def say(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--schedule", choices=sorted(SCHEDULES), default="full")
    parser.add_argument("--keep", action="store_true", help="keep the run's directory")
    args = parser.parse_args(argv)
    # The brokers' comings and goings are the point of the run, not news for the terminal.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    began = time.monotonic()
    directory = Path(tempfile.mkdtemp(prefix="casedesk-chaos-"))
    infra = SessionInfrastructure(InfraSettings.from_env())
    try:
        postgres, server = infra.restartable_postgres()
        report = asyncio.run(run_chaos(SCHEDULES[args.schedule], postgres, server, directory, say))
    except InfrastructureError as error:
        say(f"chaos: no infrastructure: {error}")
        return 2
    finally:
        for problem in infra.close():
            say(f"chaos: {problem}")
    print("\n".join(report.lines()), flush=True)
    took = time.monotonic() - began
    print(f"chaos: the {args.schedule} run took {took // 60:.0f} min {took % 60:.0f} s")
    failures = report.failures()
    if failures or args.keep:
        say(f"chaos: logs kept in {directory}")
    else:
        shutil.rmtree(directory, ignore_errors=True)
    if failures:
        say(f"chaos: FAILED: {failures}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
