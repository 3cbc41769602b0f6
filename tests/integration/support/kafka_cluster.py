"""A three-node KRaft Kafka cluster as local JVMs, secured as production's, for the chaos run.

Every node is broker and controller (three voters, so the quorum survives one node), on free
loopback ports, started from the Maven jars tools/infra/kafka-jars.sh fetches (the same JVM
command as tools/infra/kafka-local.sh, which runs one node only: it formats each data directory
with a cluster id of its own, and a cluster needs one id shared by all). The security is
`casedesk_runtime.dev_kafka`'s: SASL_SSL with a SCRAM principal per service for clients and
between brokers, mutual TLS between controllers, ACLs enforced. Replication is production's:
every topic three replicas, `min.insync.replicas` 2, the internal topics alike.

    cluster = KafkaCluster(directory).start()        # returns once all three serve
    cluster.access                                   # a SecureKafka naming all three brokers
    cluster.kill(2); cluster.start_node(2)           # kill -9 of one node; it comes back
    cluster.stop_all(); cluster.start_all()          # every node away, then back
    await cluster.leaders("topic")                   # partition -> leading node id
    await cluster.whole(["topic"])                   # every node up, every replica in sync
    cluster.close()                                  # every JVM gone
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from casedesk_runtime import dev_kafka
from casedesk_runtime.pki import ensure_pki

from .errors import InfrastructureError
from .local_processes import INFRA_DIR
from .provisioning import ADMIN, SecureKafka
from .readiness import _run_blocking, wait_until
from .services import free_ports

NODES = 3
REPLICATION_FACTOR = 3
MIN_INSYNC_REPLICAS = 2
HEAP = "-Xms384m -Xmx384m"
STOP_GRACE_S = 30.0  # a node that ignores SIGTERM this long is killed


def _replication() -> dict[str, str]:
    """Production's durability: a write is acknowledged by two of three replicas."""
    rf, isr = str(REPLICATION_FACTOR), str(MIN_INSYNC_REPLICAS)
    return {
        "default.replication.factor": rf,
        "min.insync.replicas": isr,
        "offsets.topic.replication.factor": rf,
        "transaction.state.log.replication.factor": rf,
        "transaction.state.log.min.isr": isr,
        "share.coordinator.state.topic.replication.factor": rf,
        "share.coordinator.state.topic.min.isr": isr,
        "unclean.leader.election.enable": "false",
    }


@dataclass
class ClusterNode:
    node_id: int
    port: int
    controller_port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def config(self) -> Path:
        return self.directory / "server.properties"

    @property
    def log(self) -> Path:
        return self.directory / "kafka.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class KafkaCluster:
    def __init__(self, directory: Path, ready_timeout: float = 180.0) -> None:
        self.directory = directory
        self.ready_timeout = ready_timeout
        ports = free_ports(2 * NODES)
        self.nodes = {
            n: ClusterNode(n, ports[2 * (n - 1)], ports[2 * n - 1], directory / f"node-{n}")
            for n in range(1, NODES + 1)
        }
        self.passwords = dev_kafka.new_passwords()
        pki = directory / "pki"
        bootstrap = ",".join(node.address for node in self.nodes.values())
        self.access = SecureKafka(bootstrap, pki / "ca.crt", self.passwords)
        self._libs: str | None = None

    # -- whole cluster -------------------------------------------------------------------------

    def start(self) -> KafkaCluster:
        """Format every node with one cluster id, start them all, wait until all three serve."""
        self.directory.mkdir(parents=True, exist_ok=True)
        ensure_pki(self.directory / "pki", [dev_kafka.BROKER_IDENTITY])
        self._libs = self._fetch_jars()
        cluster_id = self._java_output("kafka.tools.StorageTool", "random-uuid").strip()
        for node in self.nodes.values():
            self._write_config(node)
        with ThreadPoolExecutor(NODES) as pool:  # formatting is a JVM start per node
            list(pool.map(lambda node: self._format(node, cluster_id), self.nodes.values()))
        try:
            self.start_all()
        except BaseException:
            self.close()
            raise
        self.access.server = self
        return self

    def start_all(self) -> float:
        """Start every node that is not running; return the seconds until the cluster served."""
        for node in self.nodes.values():
            if not node.running:
                self._launch(node)
        return self.wait_serving()

    def stop_all(self) -> None:
        """SIGTERM to every node at once (one by one, the last would wait for a quorum long
        gone), SIGKILL after STOP_GRACE_S; the data stays for `start_all`."""
        for node in self.nodes.values():
            if node.running and node.process is not None:
                node.process.send_signal(signal.SIGTERM)
        for node in self.nodes.values():
            self._reap(node, STOP_GRACE_S)

    def stop(self) -> None:
        """What a session's cleanup calls (`provisioning.Started`)."""
        self.close()

    def close(self) -> None:
        """Every JVM killed and waited for (the data directory is the caller's)."""
        for node in self.nodes.values():
            if node.process is not None and node.process.poll() is None:
                node.process.kill()
                node.process.wait()

    # -- one node ------------------------------------------------------------------------------

    def kill(self, node_id: int) -> None:
        """kill -9 of one node: no controlled shutdown, the others must notice on their own."""
        node = self.nodes[node_id]
        if node.process is not None and node.process.poll() is None:
            node.process.send_signal(signal.SIGKILL)
            node.process.wait()

    def start_node(self, node_id: int) -> None:
        """Start one node again (its data kept); returns at once: `whole()` says when it has
        rejoined and caught up."""
        node = self.nodes[node_id]
        if not node.running:
            self._launch(node)

    # -- state ---------------------------------------------------------------------------------

    def wait_serving(self) -> float:
        return wait_until(
            f"the {NODES}-node Kafka cluster at {self.access.bootstrap}",
            lambda: _run_blocking(self._serves),
            self.ready_timeout,
            self._check_alive,
        )

    async def leaders(self, topic: str) -> dict[int, int]:
        """Partition -> the node id leading it (-1 while it has no leader)."""
        described = await self._describe([topic])
        return {p["partition"]: p["leader"] for entry in described for p in entry["partitions"]}

    async def whole(self, topics: Collection[str]) -> bool:
        """Every node registered and, for every partition of `topics`, all replicas in sync."""
        if not all(node.running for node in self.nodes.values()):
            return False
        try:
            cluster = await self._admin_call("describe_cluster")
            if len(cluster["brokers"]) < NODES or cluster["controller_id"] < 0:
                return False
            described = await self._describe(list(topics))
        except Exception:  # a node still starting: not whole yet
            return False
        return all(
            entry["error_code"] == 0
            and all(
                p["leader"] >= 0 and len(p["isr"]) == len(p["replicas"]) == REPLICATION_FACTOR
                for p in entry["partitions"]
            )
            for entry in described
        )

    # -- internals -----------------------------------------------------------------------------

    async def _serves(self) -> bool:
        cluster = await self._admin_call("describe_cluster")
        return len(cluster["brokers"]) == NODES and cluster["controller_id"] >= 0

    async def _describe(self, topics: list[str]) -> list[dict[str, Any]]:
        return list(await self._admin_call("describe_topics", topics))

    async def _admin_call(self, method: str, *args: object, attempts: int = 5) -> Any:
        """An admin request as `admin`; tried again on a fresh client while a node that just
        went away is still in the metadata the client picked it from."""
        from aiokafka.admin import AIOKafkaAdminClient

        for attempt in range(1, attempts + 1):
            connection = self.access.connection(ADMIN)
            admin = AIOKafkaAdminClient(request_timeout_ms=5000, **connection)  # type: ignore[arg-type]
            try:
                await admin.start()
                return await getattr(admin, method)(*args)
            except Exception:
                if attempt == attempts:
                    raise
            finally:
                await admin.close()
            await asyncio.sleep(1.0)
        raise AssertionError("unreachable")

    def _check_alive(self) -> None:
        for node in self.nodes.values():
            if node.process is not None and node.process.poll() is not None:
                raise InfrastructureError(
                    f"Kafka node {node.node_id} exited with {node.process.returncode}:\n"
                    + _tail(node.log)
                )

    def _write_config(self, node: ClusterNode) -> None:
        pki = self.directory / "pki"
        identity = dev_kafka.BROKER_IDENTITY
        properties = dev_kafka.secured_properties(
            node.port,
            node.controller_port,
            ca_pem=(pki / "ca.crt").read_text(),
            cert_pem=(pki / f"{identity}.crt").read_text(),
            key_pem=(pki / f"{identity}.key").read_text(),
            admin_password=self.passwords[ADMIN],
        )
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes.values())
        properties |= {
            "node.id": str(node.node_id),
            "controller.quorum.voters": voters,
            "log.dirs": str(node.directory / "data"),
            **_replication(),
        }
        node.directory.mkdir(parents=True, exist_ok=True)
        # The values hold the broker's private key: readable by this account only.
        fd = os.open(node.config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.writelines(f"{name}={value}\n" for name, value in properties.items())

    def _format(self, node: ClusterNode, cluster_id: str) -> None:
        scram = [
            arg for entry in dev_kafka.scram_credentials(self.passwords)
            for arg in ("--add-scram", entry)
        ]  # fmt: skip
        self._java_output(
            "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}",
            "-c", str(node.config), *scram,
        )  # fmt: skip

    def _launch(self, node: ClusterNode) -> None:
        command = [
            "java", *HEAP.split(), "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={INFRA_DIR / 'kafka' / 'log4j2.properties'}",
            "-cp", f"{self._libs}/*", "kafka.Kafka", str(node.config),
        ]  # fmt: skip
        with node.log.open("ab") as log:
            # Its own session: a terminal's Ctrl-C reaches the test, which then stops the nodes.
            node.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def _java_output(self, main_class: str, *args: str) -> str:
        done = subprocess.run(
            ["java", "-cp", f"{self._libs}/*", main_class, *args],
            capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise InfrastructureError(f"{main_class} {args[0]} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    @staticmethod
    def _fetch_jars() -> str:
        done = subprocess.run(
            [str(INFRA_DIR / "kafka-jars.sh")], capture_output=True, text=True, timeout=900,
            check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise InfrastructureError(f"kafka-jars.sh failed:\n{done.stderr[-3000:]}")
        return done.stdout.strip()

    def _reap(self, node: ClusterNode, grace_s: float) -> None:
        if node.process is None:
            return
        deadline = time.monotonic() + grace_s
        while node.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        if node.process.poll() is None:
            node.process.kill()
            node.process.wait()


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""
