"""The desk as a process for browser tests: `python -m casedesk_desk` on a free loopback port,
ready once `/healthz` answers.

    desk = start_desk(env, log_dir)        # env: CASEDESK_OIDC_*, CASEDESK_TLS_* (as `desk`), ...
    desk.url                                # http://127.0.0.1:<port>
    desk.stop()
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from .services import free_ports

START_TIMEOUT_S = 30.0


class DeskStartError(RuntimeError):
    pass


@dataclass
class DeskProcess:
    port: int
    log_path: Path
    _process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def start_desk(env: dict[str, str], log_dir: Path) -> DeskProcess:
    (port,) = free_ports(1)
    url = f"http://127.0.0.1:{port}"
    full_env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "CASEDESK_DESK_HTTP_PORT": str(port),
        "CASEDESK_DESK_PUBLIC_URL": url,
        **env,
    }
    log_path = log_dir / f"desk-{port}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "casedesk_desk"],
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    desk = DeskProcess(port, log_path, process)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise DeskStartError(f"the desk exited with {process.returncode}:\n{desk.log_tail()}")
        try:
            with opener.open(f"{url}/healthz", timeout=2) as reply:
                if reply.status == 200:
                    return desk
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            desk.stop()
            raise DeskStartError(
                f"the desk did not answer within {START_TIMEOUT_S:.0f}s:\n{desk.log_tail()}"
            )
        time.sleep(0.1)
