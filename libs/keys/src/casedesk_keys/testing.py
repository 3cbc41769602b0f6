"""A SoftHSM2 token for tests, one per process.

SoftHSM2 reads its configuration (SOFTHSM2_CONF: which directory holds the tokens) once, when the
PKCS#11 library is first loaded into a process, and does not see tokens made after that. So every
test suite of one pytest process — libs/keys', the key service's, the fuzzer's — must share one
token directory, set before anything loads the library: `process_token()` makes it on first use,
in a temporary directory (the system's token directory is never touched), with one token all
share; each test keeps apart by using KEK labels of its own.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN_LABEL = "casedesk-test"
USER_PIN = "4931-7702"
SO_PIN = "so-9921-0437"


class SoftHsmMissing(RuntimeError):
    """SoftHSM2 is not installed (Debian: apt-get install softhsm2; `make setup` does it)."""


@dataclass(frozen=True)
class TestToken:
    module: str
    label: str
    pin: str
    pin_file: Path  # the PIN as the settings read it (CASEDESK_KEYS_PKCS11_PIN_FILE)
    conf: Path  # the SOFTHSM2_CONF every process using the token needs


_token: TestToken | None = None


def process_token() -> TestToken:
    """The process's SoftHSM2 token, made on the first call (SOFTHSM2_CONF set for good)."""
    global _token
    if _token is not None:
        return _token
    util = shutil.which("softhsm2-util")
    if util is None or not Path(SOFTHSM_MODULE).exists():
        raise SoftHsmMissing("SoftHSM2 is not installed (Debian: apt-get install softhsm2)")
    home = Path(tempfile.mkdtemp(prefix="casedesk-softhsm-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    (home / "tokens").mkdir()
    conf = home / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {home / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [util, "--init-token", "--free", "--label", TOKEN_LABEL, "--so-pin", SO_PIN,
         "--pin", USER_PIN],
        check=True, capture_output=True, env={**os.environ, "SOFTHSM2_CONF": str(conf)},
    )  # fmt: skip
    pin_file = home / "pin"
    pin_file.write_text(USER_PIN)
    _token = TestToken(SOFTHSM_MODULE, TOKEN_LABEL, USER_PIN, pin_file, conf)
    return _token
