"""Three RabbitMQ nodes on loopback, clustered, each with its own name, ports and data.

Beside the machine's own node (``rabbit@localhost`` on 5672), under a folder
of the caller's (``var/``): one Erlang cookie for all of them, and per node a
config file, a data directory and a log. The nodes run as this user, each in a
session of its own, so that a SIGKILL of the session is the node's crash and
SIGSTOP pauses its Erlang VM as a network cut would look to its peers.
``pause_minority``: a node cut off from the others stops serving until it can
reach them again, so it never takes writes the majority does not see.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.process_sweep import ProcessSweep

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
# A node silent for about this long (seconds) is taken for gone by its peers. Erlang's
# default is 60; short here so that a cut is noticed within a soak.
NET_TICKTIME_S = 10


@dataclass
class RabbitNode:
    name: str
    port: int
    dist_port: int
    base: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


class RabbitCluster:
    def __init__(
        self, root: Path, sweep: ProcessSweep, *, first_port: int = 5781, size: int = 3
    ) -> None:
        self.root = root
        self.sweep = sweep
        self.home = root / "home"
        self.nodes = [
            RabbitNode(
                name=f"letters_{chr(ord('a') + n)}@localhost",
                port=first_port + n,
                dist_port=first_port + 20000 + n,
                base=root / chr(ord("a") + n),
            )
            for n in range(size)
        ]

    # -- the cluster -----------------------------------------------------------------

    def start(self) -> None:
        """Start every node and join the others to the first."""
        self.home.mkdir(parents=True, exist_ok=True)
        cookie = self.home / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(secrets.token_hex(20))
            cookie.chmod(0o400)
        for node in self.nodes:
            self._configure(node)
            self.start_node(node, wait=False)
        for node in self.nodes:
            self.await_node(node)
        first = self.nodes[0]
        for node in self.nodes[1:]:
            self.ctl(node, "stop_app")
            self.ctl(node, "join_cluster", first.name)
            self.ctl(node, "start_app")
        self.await_whole()

    def url(self, first: int = 0) -> str:
        """kombu's failover form, starting at node ``first``: the others are tried in turn."""
        order = self.nodes[first:] + self.nodes[:first]
        return ";".join(f"amqp://guest:guest@{n.address}//" for n in order)

    def stop(self) -> None:
        for node in self.nodes:
            self.kill(node)

    # -- one node --------------------------------------------------------------------

    def start_node(self, node: RabbitNode, *, wait: bool = True) -> None:
        log = open(node.base / "node.log", "ab")  # noqa: SIM115 - the node's, kept open by it
        node.process = subprocess.Popen(
            [str(RABBITMQ_BIN / "rabbitmq-server")],
            env=self._env(node),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=node.base,  # where a crash dump goes
        )
        log.close()
        self.sweep.register(node.process.pid, f"RabbitMQ node {node.name}")
        if wait:
            self.await_node(node)

    def await_node(self, node: RabbitNode, timeout_s: float = 120) -> None:
        """Until the node serves (the CLI gives up at once while its VM is not yet up)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.ctl(node, "await_startup", "--timeout", "30", timeout_s=40)
                return
            except subprocess.CalledProcessError as err:
                if node.process is not None and node.process.poll() is not None:
                    raise RuntimeError(
                        f"RabbitMQ node {node.name} exited; see {node.base / 'node.log'}"
                    ) from err
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"RabbitMQ node {node.name} did not start: {err.stderr}"
                    ) from err
                time.sleep(1)

    def kill(self, node: RabbitNode) -> None:
        """SIGKILL the node's VM and everything of its session: a crash, no goodbye."""
        if node.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.process.pid, signal.SIGCONT)
            os.killpg(node.process.pid, signal.SIGKILL)
        node.process.wait(timeout=30)
        node.process = None

    def pause(self, node: RabbitNode) -> None:
        """Freeze the node's VM: to its peers and clients it is as if cut off."""
        assert node.process is not None
        os.killpg(node.process.pid, signal.SIGSTOP)

    def resume(self, node: RabbitNode) -> None:
        assert node.process is not None
        os.killpg(node.process.pid, signal.SIGCONT)

    def heal(self, node: RabbitNode, wait_s: float = 15) -> str:
        """After a cut: the cluster whole again; how. A node frozen through its peers'
        verdict cannot pause itself for the minority it was in, and comes back disagreeing
        with them (Mnesia's ``running_partitioned_network``); as for a partition that
        ``pause_minority`` did not settle, its app is restarted, which rejoins it."""
        try:
            self.await_whole(timeout_s=wait_s)
            return "whole again by itself"
        except RuntimeError:
            self.ctl(node, "stop_app")
            self.ctl(node, "start_app")
            self.await_whole()
            return "whole again once its app was restarted"

    def leader_of(self, queue: str) -> RabbitNode:
        """The node that leads a quorum queue (asked of any node that answers)."""
        for asking in self.nodes:
            if asking.process is None:
                continue
            try:
                listed = self.ctl(asking, "list_queues", "name", "leader", "--no-table-headers")
            except subprocess.CalledProcessError:
                continue
            for line in listed.splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[0] == queue:
                    return next(n for n in self.nodes if n.name == parts[1])
        raise RuntimeError(f"no node names the leader of {queue}")

    def running(self) -> set[str]:
        """The nodes the first node that answers reports running, if none reports a
        partition."""
        for asking in self.nodes:
            if asking.process is None:
                continue
            try:
                status = self.ctl(asking, "cluster_status", "--formatter", "erlang")
            except subprocess.CalledProcessError:
                continue
            if "{partitions,[]}" not in status.replace(" ", "").replace("\n", ""):
                return set()
            running = status.split("running_nodes", 1)[1].split("]", 1)[0]
            return {n.name for n in self.nodes if n.name in running}
        return set()

    def await_whole(self, timeout_s: float = 180) -> None:
        """Until every node runs in one cluster with no partition."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.running() == {n.name for n in self.nodes}:
                return
            time.sleep(1)
        raise RuntimeError(f"the RabbitMQ cluster did not come together: {self.running()}")

    def ctl(self, node: RabbitNode, *args: str, timeout_s: float = 120) -> str:
        done = subprocess.run(
            [str(RABBITMQ_BIN / "rabbitmqctl"), "-q", "-n", node.name, *args],
            env=self._env(node),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=True,
        )
        return done.stdout

    # -- files -----------------------------------------------------------------------

    def _configure(self, node: RabbitNode) -> None:
        node.base.mkdir(parents=True, exist_ok=True)
        (node.base / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = {node.address}\n"
            "loopback_users = none\n"
            "cluster_partition_handling = pause_minority\n"
            # The machine's disk may be nearly full in a test; the soak is small.
            "disk_free_limit.absolute = 50MB\n"
        )
        (node.base / "enabled_plugins").write_text("[].\n")
        (node.base / "rabbitmq-env.conf").write_text("")

    def _env(self, node: RabbitNode) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        return env | {
            # The cookie is read from $HOME, by the nodes and the CLI alike.
            "HOME": str(self.home),
            "RABBITMQ_NODENAME": node.name,
            "RABBITMQ_NODE_PORT": str(node.port),
            "RABBITMQ_DIST_PORT": str(node.dist_port),
            "RABBITMQ_CONFIG_FILE": str(node.base / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(node.base / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(node.base / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(node.base / "data"),
            "RABBITMQ_LOG_BASE": str(node.base / "log"),
            "RABBITMQ_PID_FILE": str(node.base / "node.pid"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": (
                f"-kernel net_ticktime {NET_TICKTIME_S} "
                "-kernel inet_dist_use_interface {127,0,0,1}"
            ),
        }
