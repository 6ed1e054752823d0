"""A real single-node Apache Kafka broker (KRaft, broker+controller) from Kafka's own jars.

The jars come from Maven Central once (`mvn dependency:copy-dependencies` on the pom beside
this file) into `.cache/kafka/` at the repository root; the broker runs under `java` with a
small heap, listens on free loopback ports and keeps its log in a temporary directory.

    python tools/kafka/broker.py run      # prints the bootstrap address, blocks until Ctrl-C
    python tools/kafka/broker.py fetch    # only download the jars

From Python (pytest):

    with KafkaBroker() as broker:
        use(broker.bootstrap)             # "127.0.0.1:<port>"
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
JARS_DIR = REPO_ROOT / ".cache" / "kafka" / "jars"
FETCH_TIMEOUT_S = 600
FORMAT_TIMEOUT_S = 120
START_TIMEOUT_S = 90
STOP_TIMEOUT_S = 30
HEAP_MAX = "-Xmx512m"
KAFKA_MAIN = "kafka.Kafka"
STORAGE_TOOL_MAIN = "kafka.tools.StorageTool"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s):
            return True
    except OSError:
        return False


def fetch_jars(jars_dir: Path = JARS_DIR) -> Path:
    """Download Kafka's server jars once; a marker file says the copy completed."""
    marker = jars_dir / ".complete"
    if marker.is_file():
        return jars_dir
    partial = jars_dir.with_name(jars_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(HERE / "pom.xml"),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={partial}",
        ],
        check=True,
        timeout=FETCH_TIMEOUT_S,
    )
    shutil.rmtree(jars_dir, ignore_errors=True)
    partial.rename(jars_dir)
    (jars_dir / ".complete").write_text("ok\n")
    return jars_dir


def server_properties(data_dir: Path, broker_port: int, controller_port: int) -> str:
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{broker_port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{broker_port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir / "logs"),
        "num.partitions": "3",
        "auto.create.topics.enable": "true",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "3",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "min.insync.replicas": "1",
        "default.replication.factor": "1",
        "group.initial.rebalance.delay.ms": "0",
        "log.retention.hours": "24",
    }
    return "".join(f"{k}={v}\n" for k, v in settings.items())


class KafkaBroker:
    """Start on enter (or `start()`), stop on exit (or `stop()`)."""

    def __init__(self, data_dir: Path | None = None, *, jars_dir: Path = JARS_DIR) -> None:
        self._jars_dir = jars_dir
        self._owns_data_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="kafka-"))
        self.port = free_port()
        self.controller_port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def _java(self, main: str, *args: str) -> list[str]:
        return [
            "java",
            HEAP_MAX,
            "-Xms128m",
            "-XX:+UseSerialGC",
            "-Djava.awt.headless=true",
            "-cp",
            f"{self._jars_dir}{os.sep}*",
            main,
            *args,
        ]

    def start(self) -> KafkaBroker:
        fetch_jars(self._jars_dir)
        props = self.data_dir / "server.properties"
        props.write_text(server_properties(self.data_dir, self.port, self.controller_port))
        cluster_id = _kafka_uuid()
        subprocess.run(
            # `--cluster-id=...` in one word: an id starting with "-" (1 in 64) is not an option.
            self._java(
                STORAGE_TOOL_MAIN, "format", f"--cluster-id={cluster_id}", "-c", str(props), "--standalone"
            ),
            check=True,
            timeout=FORMAT_TIMEOUT_S,
            stdout=subprocess.DEVNULL,
        )
        with (self.data_dir / "broker.log").open("wb") as log_file:
            self._process = subprocess.Popen(
                self._java(KAFKA_MAIN, str(props)), stdout=log_file, stderr=subprocess.STDOUT
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"kafka exited with {self._process.returncode}; see {self.data_dir}")
            if port_open(self.port) and _metadata_ok(self.bootstrap):
                return
            time.sleep(0.5)
        raise RuntimeError(f"kafka did not become ready in {START_TIMEOUT_S}s")

    def kill(self) -> None:
        """kill -9 of the broker (the fault suite); its data stays for `restart`."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(STOP_TIMEOUT_S)

    def restart(self) -> None:
        """Start the killed broker again on its data and ports (no new cluster)."""
        self.kill()
        props = self.data_dir / "server.properties"
        with (self.data_dir / "broker.log").open("ab") as log_file:
            self._process = subprocess.Popen(
                self._java(KAFKA_MAIN, str(props)), stdout=log_file, stderr=subprocess.STDOUT
            )
        self._wait_ready()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT_S)
        if self._owns_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> KafkaBroker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _kafka_uuid() -> str:
    """A cluster id as Kafka wants it: 16 random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _metadata_ok(bootstrap: str) -> bool:
    """A real metadata round trip through a Kafka client (aiokafka), not just an open port."""
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            async with asyncio.timeout(10):
                await admin.start()
                await admin.list_topics()
            return True
        except Exception:
            return False
        finally:
            await admin.close()

    # Its own thread and loop: the caller may be running inside an event loop (pytest-asyncio).
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, probe()).result()


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "run"
    if command == "fetch":
        print(fetch_jars())
        return 0
    if command != "run":
        print(f"usage: {argv[0]} [run|fetch]", file=sys.stderr)
        return 2
    # `kill` stops the broker as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with KafkaBroker() as broker:
        print(broker.bootstrap, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
