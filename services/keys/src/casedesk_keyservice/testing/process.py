"""The key service as a process of a benchmark's own, deployed as in production with a
Secret-file KEK (services/keys/README.md): what the case and the intake benchmark seal with.

Only `python -m casedesk_keyservice` is started here, nothing of the service is imported: the
callers reach it over mutual TLS like every other service.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from casedesk_runtime.testing.sockets import free_port

# How long a process started here may take to answer SERVING.
START_S = 30.0


@dataclass(frozen=True)
class KeyService:
    """A running key service: where its callers find it and what they seal with."""

    address: str
    pid: int
    metrics: str  # its Prometheus endpoint
    index_key_file: Path  # the index key its callers derive subjects with (the same as its own)

    def sealing_env(self) -> dict[str, str]:
        """The settings that make intake or the case service seal personal data with this key
        service's data keys (their READMEs: CASEDESK_SEAL_PERSONAL_DATA and the two it needs)."""
        return {
            "CASEDESK_SEAL_PERSONAL_DATA": "true",
            "CASEDESK_KEY_SERVICE_ADDRESS": self.address,
            "CASEDESK_KEYS_INDEX_KEY_FILE": str(self.index_key_file),
        }

    def handed_out(self, by: str = "rpc") -> dict[str, float]:
        """casedesk_keys_keys_handed_out_total by RPC (all callers), or by another of its labels
        (`caller`)."""
        with urllib.request.urlopen(self.metrics, timeout=5) as reply:
            text = reply.read().decode()
        counts: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith("casedesk_keys_keys_handed_out_total{"):
                labels, value = line.rsplit(" ", 1)
                label = labels.split(f'{by}="', 1)[1].split('"', 1)[0]
                counts[label] = counts.get(label, 0.0) + float(value)
        return counts


@contextlib.contextmanager
def running_key_service(
    pki: Path, keys_dir: Path, store_url: str, log: Path, caller: str = "case"
) -> Iterator[KeyService]:
    """`python -m casedesk_keyservice` until the block ends, as deployed with a Secret-file KEK:
    the KEK (made at its first start) and the index key in `keys_dir` (new), the key store at
    `store_url`, `keys`'s certificate of the PKI in `pki` (mutual TLS: the access table lets
    intake and case call GetCurrentKey, GetKey and WatchErasures). `caller`: a certificate of
    that PKI to see it answer with (health is open to any caller of the PKI)."""
    (keys_dir / "kek").mkdir(parents=True)
    index_key_file = keys_dir / "index.key"
    index_key_file.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    port, metrics_port = free_port(), free_port()
    env = {
        # None of the caller's own CASEDESK_ settings: it runs exactly as configured here.
        **{k: v for k, v in os.environ.items() if not k.startswith("CASEDESK_")},
        "CASEDESK_GRPC_PORT": str(port),
        "CASEDESK_METRICS_PORT": str(metrics_port),
        "CASEDESK_LOG_LEVEL": "WARNING",
        "CASEDESK_TLS_CERT_FILE": str(pki / "keys.crt"),
        "CASEDESK_TLS_KEY_FILE": str(pki / "keys.key"),
        "CASEDESK_TLS_CA_FILE": str(pki / "ca.crt"),
        "CASEDESK_KEYS_KEK_PROVIDER": "secret-file",
        "CASEDESK_KEYS_KEK_DIR": str(keys_dir / "kek"),
        "CASEDESK_KEYS_KEK_CREATE": "true",
        "CASEDESK_KEYS_STORE_URL": store_url,
        "CASEDESK_KEYS_INDEX_KEY_FILE": str(index_key_file),
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "casedesk_keyservice"], env=env,
            stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=(pki / "ca.crt").read_bytes(),
            private_key=(pki / f"{caller}.key").read_bytes(),
            certificate_chain=(pki / f"{caller}.crt").read_bytes(),
        )
        address = f"127.0.0.1:{port}"
        wait_healthy(grpc.secure_channel(address, credentials), "key service", process, log)
        yield KeyService(
            address, process.pid, f"http://127.0.0.1:{metrics_port}/metrics", index_key_file
        )
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_healthy(
    channel: grpc.Channel, name: str, process: subprocess.Popen[bytes], log: Path
) -> None:
    """Until the process behind `channel` answers SERVING (START_S at most); the channel closed."""
    deadline = time.monotonic() + START_S
    with channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited: {log.read_text()[-2000:]}")
            try:
                reply = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                time.sleep(0.2)
    raise RuntimeError(f"{name} did not start within {START_S:.0f} s")
