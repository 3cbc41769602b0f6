"""Cost of citizens' keys on the hot paths: sealing and opening one personal field with a data
key in hand, and unwrapping a data key in a SoftHSM2 token (what a key-cache miss costs the key
owner, before any network).

    uv run --frozen python libs/keys/bench.py [--fields N] [--unwraps N]

Prints `BENCH keys.encrypt_field_us`, `keys.decrypt_field_us` (a 40-character Cyrillic name,
text token) and `keys.unwrap_pkcs11_us`, each the median of three rounds, after the machine's
yardstick (casedesk_runtime.testing.calibration). The token is made in a temporary directory
of its own (SOFTHSM2_CONF), never the system's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from casedesk_keys import DataKey, FieldContext, SubjectId, decrypt_field, encrypt_field
from casedesk_runtime.testing.calibration import machine_grpc_unary_rps

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
ROUNDS = 3
NAME = "Иванова-Петрова Анна-Мария Александровна"


def per_call_us(calls: int, call: Callable[[], object]) -> float:
    rounds = []
    for _ in range(ROUNDS):
        began = time.perf_counter()
        for _ in range(calls):
            call()
        rounds.append((time.perf_counter() - began) / calls * 1e6)
    return statistics.median(rounds)


def field_figures(count: int) -> tuple[float, float]:
    key = DataKey(SubjectId(os.urandom(16)), 1, os.urandom(32))
    context = FieldContext("2026-0001234", "citizen.full_name")
    token = encrypt_field(key, NAME, context)
    encrypt = per_call_us(count, lambda: encrypt_field(key, NAME, context))
    decrypt = per_call_us(count, lambda: decrypt_field(key, token, context))
    return encrypt, decrypt


def unwrap_figure(count: int, home: Path) -> float:
    (home / "tokens").mkdir()
    conf = home / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {home / 'tokens'}\nobjectstore.backend = file\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)  # before the library is loaded: it reads it once
    util = shutil.which("softhsm2-util") or "softhsm2-util"
    subprocess.run(
        [util, "--init-token", "--free", "--label", "bench", "--so-pin", "bench-so", "--pin",
         "bench-user"],
        check=True, capture_output=True,
    )  # fmt: skip
    from casedesk_keys.adapters.pkcs11_kek import Pkcs11Config, Pkcs11KekProvider

    provider = Pkcs11KekProvider(
        Pkcs11Config(SOFTHSM_MODULE, "bench", "bench-user", kek_label="bench-kek", create=True)
    )
    wrapped = provider.wrap(os.urandom(32))
    for _ in range(50):
        provider.unwrap(wrapped)
    figure = per_call_us(count, lambda: provider.unwrap(wrapped))
    provider.close()
    return figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fields", type=int, default=50_000, help="fields sealed per round")
    parser.add_argument("--unwraps", type=int, default=2_000, help="unwraps per round")
    args = parser.parse_args()
    machine_grpc_unary_rps("keys")
    encrypt, decrypt = field_figures(args.fields)
    print(f"BENCH keys.encrypt_field_us {encrypt:.2f} us", flush=True)
    print(f"BENCH keys.decrypt_field_us {decrypt:.2f} us", flush=True)
    with tempfile.TemporaryDirectory(prefix="casedesk-keys-bench-") as home:
        print(f"BENCH keys.unwrap_pkcs11_us {unwrap_figure(args.unwraps, Path(home)):.1f} us")


if __name__ == "__main__":
    main()
