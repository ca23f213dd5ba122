"""Embedded Apache Kafka: 1 or 3 combined-mode KRaft nodes on loopback, from Maven jars.

Each node runs ``java -cp '<cache>/<version>/lib/*' kafka.Kafka server.properties`` with its
data, config and log in ``<cache>/runs/<run-id>/node-<id>/``. ``stop()`` sends SIGTERM, then
SIGKILL after a grace period, and deletes the run folder. A later ``start()`` reaps run folders
whose owner process died (see ``conformance.processes``).

Proxied (``proxied=True``): each node's PLAINTEXT listener stays on its own port, but it
advertises the port of a :class:`~conformance.faults.FaultProxy` on 127.0.0.1 that forwards to
it, and ``bootstrap_servers`` lists the proxy ports, so every client connection goes through a
proxy (``broker.faults``). Brokers replicate over a separate INTERNAL listener
(``inter.broker.listener.name``) and reach the controllers on CONTROLLER, both unproxied.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from conformance import processes
from conformance.broker.base import Broker
from conformance.broker.jars import DEFAULT_KAFKA_VERSION, cache_root, ensure_jars, java_executable
from conformance.errors import BrokerError, UsageError
from conformance.faults.proxy import FaultProxy, ProxySet

READY_LINE = "Kafka Server started"
HOST = "127.0.0.1"


def new_cluster_id() -> str:
    """16 random bytes, URL-safe base64 without padding, not starting with '-'."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def free_ports(count: int) -> list[int]:
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return True
    return False


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def broker_settings(nodes: int) -> dict[str, str]:
    """Settings for fast group tests; both group protocols stay enabled."""
    rf = str(min(3, nodes))
    isr = str(min(2, nodes))
    return {
        "offsets.topic.replication.factor": rf,
        "offsets.topic.num.partitions": "5",
        "transaction.state.log.replication.factor": rf,
        "transaction.state.log.min.isr": isr,
        "transaction.state.log.num.partitions": "3",
        "share.coordinator.state.topic.replication.factor": rf,
        "share.coordinator.state.topic.min.isr": isr,
        "share.coordinator.state.topic.num.partitions": "3",
        "auto.create.topics.enable": "false",
        # leaders move only when a test moves them (default: back to the preferred replica
        # within 5 min, e.g. after a node restart)
        "auto.leader.rebalance.enable": "false",
        "group.initial.rebalance.delay.ms": "0",
        "group.min.session.timeout.ms": "1000",
        "group.coordinator.rebalance.protocols": "classic,consumer",
        "group.consumer.min.session.timeout.ms": "1000",
        "group.consumer.session.timeout.ms": "2000",
        "group.consumer.min.heartbeat.interval.ms": "200",
        "group.consumer.heartbeat.interval.ms": "500",
        "group.consumer.min.assignment.interval.ms": "0",
        "group.consumer.assignment.interval.ms": "0",
        "num.network.threads": "2",
        "num.io.threads": "4",
        "log.flush.interval.messages": "9223372036854775807",
        "metadata.log.max.record.bytes.between.snapshots": "104857600",
    }


@dataclass
class Node:
    node_id: int
    port: int
    controller_port: int
    directory: Path
    proc: subprocess.Popen | None = None
    log_offset: int = 0
    internal_port: int | None = None  # proxied: the INTERNAL (inter-broker) listener
    proxy: FaultProxy | None = None  # proxied: what clients connect to instead of ``port``
    log_file: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_file = self.directory / "broker.log"

    @property
    def config_file(self) -> Path:
        return self.directory / "server.properties"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def client_port(self) -> int:
        """The port clients use: the proxy's when proxied, else the PLAINTEXT listener's."""
        return self.proxy.port if self.proxy is not None else self.port


class EmbeddedKafka(Broker):
    """Apache Kafka 4.x in KRaft combined mode, started from jars fetched by ``mvn``."""

    provider = "embedded"
    restarts_nodes = True
    owned = True

    def __init__(self, nodes: int = 1, kafka_version: str = DEFAULT_KAFKA_VERSION, *,
                 port: int | None = None, heap: str = "512m", startup_timeout: float = 120.0,
                 overrides: dict[str, str] | None = None, proxied: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if nodes not in (1, 3):
            raise UsageError(f"--nodes must be 1 or 3, not {nodes}")
        self._nodes = nodes
        self.kafka_version = kafka_version
        self.base_port = port
        self.heap = heap
        self.startup_timeout = startup_timeout
        self.overrides = dict(overrides or {})
        self.proxied = proxied
        self._proxies: ProxySet | None = None
        self.run_dir: Path | None = None
        self.node_list: list[Node] = []
        self.cluster_id = new_cluster_id()

    @property
    def version(self) -> str:
        return self.kafka_version

    @property
    def nodes(self) -> int:
        return self._nodes

    @property
    def bootstrap_servers(self) -> str:
        if not self.node_list:
            raise BrokerError("the embedded broker is not started")
        return ",".join(f"{HOST}:{n.client_port}" for n in self.node_list)

    @property
    def faults(self) -> ProxySet | None:
        """The fault proxies in front of every node's client listener (None unless proxied
        and started)."""
        return self._proxies

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "nodes": self._nodes, "proxied": self.proxied}

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> EmbeddedKafka:
        java = java_executable()
        lib = ensure_jars(self.kafka_version)
        runs = cache_root() / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        processes.reap_orphans(runs)
        self.run_dir = runs / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        self.run_dir.mkdir()
        processes.write_owner(self.run_dir)
        try:
            self._layout()
            self._format(java, lib)
            for node in self.node_list:
                self._launch(java, lib, node)
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self._admin = None
        procs = [n.proc for n in self.node_list if n.proc is not None]
        processes.terminate_all(procs, grace=15.0)  # all at once: a quorum cannot outlive peers
        if self.run_dir is not None:
            # anything still alive that names our folder (e.g. a storage tool) goes too
            processes.kill_processes(processes.processes_using(self.run_dir))
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self.run_dir = None
        if self._proxies is not None:  # the proxies stop after the nodes
            self._proxies.stop()
            self._proxies = None
            for node in self.node_list:
                node.proxy = None

    def kill_node(self, node_id: int, *, wait: bool = True, timeout: float = 60.0) -> None:
        """SIGKILL one node (its data stays, so it can be restarted). With ``wait`` (and more
        than one node), return once the controller has fenced it: no broker lists it or names
        it leader (after ``broker.session.timeout.ms``, 9 s)."""
        node = self._node(node_id)
        if node.proc is not None:
            processes.kill(node.proc)
        if wait and self._nodes > 1:
            self.failover.wait_fenced(node_id, timeout)

    def restart_node(self, node_id: int, *, timeout: float | None = None) -> None:
        """Start a killed node again and wait until it is back: ready in its log, listed by every
        broker, and each of its replicas in the ISR again (``timeout``: the startup timeout)."""
        node = self._node(node_id)
        timeout = self.startup_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        if not node.running:
            self._launch(java_executable(), ensure_jars(self.kafka_version), node)
            self._wait_log(node, deadline)
        while True:
            with contextlib.suppress(BrokerError):
                if node_id in self.admin.broker_ids(timeout=5):
                    break
            if time.monotonic() > deadline:
                raise BrokerError(f"restarted node {node_id} did not rejoin the cluster within "
                                  f"{timeout:.0f} s; last lines of its log:\n{tail(node.log_file)}")
            time.sleep(0.1)
        self.failover.wait_in_sync(node=node_id, timeout=max(1.0, deadline - time.monotonic()))

    def node_processes(self) -> list[subprocess.Popen]:
        return [n.proc for n in self.node_list if n.proc is not None]

    # -- steps -----------------------------------------------------------------------------
    def _node(self, node_id: int) -> Node:
        for node in self.node_list:
            if node.node_id == node_id:
                return node
        raise UsageError(f"no broker node {node_id}; nodes are 1..{self._nodes}")

    def _layout(self) -> None:
        assert self.run_dir is not None
        # per node: PLAINTEXT and CONTROLLER, proxied also INTERNAL (and, from --port, the proxy
        # port first, so that the base port is still node 1's client address)
        per = 3 if self.proxied else 2
        if self.base_port is not None:
            per += 1 if self.proxied else 0
            ports = list(range(self.base_port, self.base_port + per * self._nodes))
            busy = [p for p in ports if port_in_use(p)]
            if busy:
                raise BrokerError(
                    f"port {busy[0]} on {HOST} is already in use: choose another --port "
                    f"(the broker needs {len(ports)} consecutive ports) or omit it"
                )
        else:
            ports = free_ports(per * self._nodes)
        self.node_list = []
        proxy_ports: list[int] = []
        for i in range(self._nodes):
            d = self.run_dir / f"node-{i + 1}"
            (d / "data").mkdir(parents=True)
            mine = ports[per * i:per * (i + 1)]
            if self.proxied and self.base_port is not None:
                proxy_ports.append(mine.pop(0))
            self.node_list.append(Node(i + 1, mine[0], mine[1], d,
                                       internal_port=mine[2] if self.proxied else None))
        if self.proxied:
            self._start_proxies(proxy_ports)
        voters = ",".join(f"{n.node_id}@{HOST}:{n.controller_port}" for n in self.node_list)
        for node in self.node_list:
            props = {
                "process.roles": "broker,controller",
                "node.id": str(node.node_id),
                "controller.quorum.voters": voters,
                "listeners": f"PLAINTEXT://{HOST}:{node.port},CONTROLLER://{HOST}:"
                             f"{node.controller_port}",
                "advertised.listeners": f"PLAINTEXT://{HOST}:{node.port}",
                "controller.listener.names": "CONTROLLER",
                "inter.broker.listener.name": "PLAINTEXT",
                "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                "log.dirs": str(node.directory / "data"),
                **(self._proxied_listeners(node) if node.proxy is not None else {}),
                **broker_settings(self._nodes),
                **self.overrides,
            }
            node.config_file.write_text("".join(f"{k}={v}\n" for k, v in props.items()))

    def _start_proxies(self, ports: list[int]) -> None:
        """One fault proxy per node, forwarding to its PLAINTEXT listener (``ports``: their
        listen ports, else free ones); started before the nodes so they can advertise them."""
        proxies = ProxySet()
        for i, node in enumerate(self.node_list):
            node.proxy = proxies.add((HOST, node.port), host=HOST, port=ports[i] if ports else 0)
        self._proxies = proxies
        try:
            proxies.start()
        except OSError as exc:
            raise BrokerError(f"cannot start the fault proxies: {exc}") from None

    @staticmethod
    def _proxied_listeners(node: Node) -> dict[str, str]:
        """Clients are told the proxy's address; brokers replicate over INTERNAL directly."""
        assert node.proxy is not None
        return {
            "listeners": f"PLAINTEXT://{HOST}:{node.port},INTERNAL://{HOST}:{node.internal_port},"
                         f"CONTROLLER://{HOST}:{node.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{node.proxy.port},"
                                    f"INTERNAL://{HOST}:{node.internal_port}",
            "inter.broker.listener.name": "INTERNAL",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,"
                                              "INTERNAL:PLAINTEXT",
        }

    def _java_cmd(self, java: str, lib: Path, node: Node, main: str,
                  jvm: tuple[str, ...] = ()) -> list[str]:
        log4j = resources.files("conformance.broker") / "log4j2.properties"
        # C1 only and the serial collector: a test broker lives minutes, and C2's compiles and
        # G1's threads cost it more CPU than they give back (benchmarks/broker_startup.py, one
        # node: 4.6 s CPU to ready instead of 8.0, 3.6 s over 20 group rounds instead of 6.8)
        return [java, *jvm, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                "-Djava.awt.headless=true",
                f"-Dkc.log.file={node.log_file}",
                f"-Dlog4j2.configurationFile={log4j}", f"-Dkc.run.dir={self.run_dir}",
                "-cp", f"{lib}/*", main]

    def _format(self, java: str, lib: Path) -> None:
        procs = []
        for node in self.node_list:
            jvm = ("-Xmx256m",)
            cmd = self._java_cmd(java, lib, node, "kafka.tools.StorageTool", jvm)
            cmd += ["format", "-t", self.cluster_id, "-c", str(node.config_file)]
            out = open(node.directory / "format.log", "wb")  # noqa: SIM115 - closed below
            procs.append((node, processes.popen(cmd, stdout=out, stderr=subprocess.STDOUT), out))
        for node, proc, out in procs:
            try:
                code = proc.wait(120)
            except subprocess.TimeoutExpired:
                processes.kill(proc)
                code = -9
            finally:
                out.close()
            if code != 0:
                raise BrokerError(
                    f"formatting the storage of node {node.node_id} failed (exit {code}):\n"
                    + tail(node.directory / "format.log")
                )

    def _launch(self, java: str, lib: Path, node: Node) -> None:
        jvm = (f"-Xms{self.heap}", f"-Xmx{self.heap}")
        cmd = [*self._java_cmd(java, lib, node, "kafka.Kafka", jvm), str(node.config_file)]
        node.log_offset = node.log_file.stat().st_size if node.log_file.exists() else 0
        env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_")}
        with open(node.directory / "stdout.log", "ab") as out:
            node.proc = processes.popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                        stdin=subprocess.DEVNULL)

    def _wait_log(self, node: Node, deadline: float) -> None:
        while True:
            if node.proc is not None and node.proc.poll() is not None:
                raise BrokerError(
                    f"broker node {node.node_id} exited with code {node.proc.returncode} before "
                    f"it was ready; last lines of its log:\n{tail(node.log_file)}\n"
                    f"{tail(node.directory / 'stdout.log', 5)}"
                )
            with contextlib.suppress(OSError), node.log_file.open("rb") as fh:
                fh.seek(node.log_offset)
                if READY_LINE.encode() in fh.read():
                    return
            if time.monotonic() > deadline:
                raise BrokerError(
                    f"broker node {node.node_id} was not ready within "
                    f"{self.startup_timeout:.0f} s; last lines of its log:\n{tail(node.log_file)}"
                )
            time.sleep(0.1)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        for node in self.node_list:
            self._wait_log(node, deadline)
        while True:
            try:
                if len(self.admin.broker_ids(timeout=5)) == self._nodes:
                    break
            except BrokerError:
                pass
            if time.monotonic() > deadline:
                raise BrokerError(
                    f"the cluster did not list {self._nodes} brokers within "
                    f"{self.startup_timeout:.0f} s; last lines of node 1's log:\n"
                    f"{tail(self.node_list[0].log_file)}"
                )
            time.sleep(0.2)
        # the group coordinators too: a cluster is ready when a group can use it
        settings = {**broker_settings(self._nodes), **self.overrides}
        self.admin.wait_group_coordinators(int(settings["offsets.topic.num.partitions"]),
                                           timeout=max(5.0, deadline - time.monotonic()))
