"""What the tests that run the key service as a process share: a SoftHSM2 token of the test's own
for its key-encryption key, and the mutual-TLS settings of a process of the test's PKI."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from casedesk_runtime import pki

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"


def softhsm_token_env(home: Path, label: str) -> dict[str, str]:
    """A fresh SoftHSM2 token in `home` (never the system's), and the key service's settings
    that use it. The token starts empty: the first key service creates its KEK only when the
    caller adds CASEDESK_KEYS_KEK_CREATE=true."""
    util = shutil.which("softhsm2-util")
    if util is None or not Path(SOFTHSM_MODULE).exists():
        pytest.fail("SoftHSM2 is not installed (Debian: apt-get install softhsm2)", pytrace=False)
    (home / "tokens").mkdir(parents=True)
    conf = home / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {home / 'tokens'}\nobjectstore.backend = file\n")
    pin = os.urandom(8).hex()
    (home / "pin").write_text(pin)
    subprocess.run(
        [util, "--init-token", "--free", "--label", label, "--so-pin", os.urandom(8).hex(),
         "--pin", pin],
        check=True, capture_output=True, env={**os.environ, "SOFTHSM2_CONF": str(conf)},
    )  # fmt: skip
    return {
        "SOFTHSM2_CONF": str(conf),
        "CASEDESK_KEYS_KEK_PROVIDER": "pkcs11",
        "CASEDESK_KEYS_PKCS11_MODULE": SOFTHSM_MODULE,
        "CASEDESK_KEYS_PKCS11_TOKEN_LABEL": label,
        "CASEDESK_KEYS_PKCS11_PIN_FILE": str(home / "pin"),
    }


def tls_env(pki_dir: Path, name: str) -> dict[str, str]:
    """The mutual-TLS settings of the process `name` of the PKI in `pki_dir`."""
    return {
        "CASEDESK_TLS_CERT_FILE": str(pki_dir / f"{name}.crt"),
        "CASEDESK_TLS_KEY_FILE": str(pki_dir / f"{name}.key"),
        "CASEDESK_TLS_CA_FILE": str(pki_dir / pki.CA_CERT),
    }
