"""The local stack's servers beside the cluster, supervised like it (localcluster/cluster.py): Prometheus,
Alertmanager, the alert sink, the monitoring sync, Redis, the exporters of the local PostgreSQL and Redis, and
the stand-in controller (the processes behind the simulated pods).

`SERVERS` has one row per server: how to run it, the file it needs first, how to tell it is ready. `start`
starts every row that is not running (never started, stopped, crashed or killed with -9), each on a
loopback port of the checkout recorded in `.state/ports.json` under the row's name, and waits until it is
ready; `stop` stops them all; `status` reports each one. A recorded port held by another process is an
error naming that process. Pid files and logs live in `.state/servers/`, configuration and data of the
monitoring servers in `.state/monitoring/`.

    scripts/servers start | stop | status | alerts
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

from localcluster import ports
from localcluster.alert_sink import alert_lines, read_notifications
from localcluster.cluster import Cluster, alive, await_exit
from localcluster.monitoring_config import alertmanager_config, prometheus_config
from localcluster.monitoring_sync import alertmanager_file, rules_dir, status_file
from localcluster.standins.controller import Paths

ROOT = Path(__file__).resolve().parents[1]
TOOLS_BIN = ROOT / ".tools" / "bin"
DEBIAN_BIN = Path("/usr/bin")
REDIS_MAXMEMORY = "64mb"  # a limit, so that redis_memory_max_bytes > 0 and RedisMemoryHigh can be induced


class ServerError(RuntimeError):
    """A local server cannot be started or stopped; the message says which and what to do."""


@dataclass(frozen=True)
class Server:
    """One row of the table. `command`, `prepare` and `env` receive the LocalServers of the checkout."""

    name: str  # its port's name in .state/ports.json, its pid file and log
    command: Callable[["LocalServers"], list[str]]
    ready: Callable[["LocalServers", "Server"], bool]
    prepare: Callable[["LocalServers"], None] | None = None  # writes what the server reads at start
    env: Callable[["LocalServers"], dict[str, str]] | None = None
    listens: bool = True  # has a loopback port of its own
    installed_by: str = "scripts/bootstrap"  # what provides the binary, for the error when it is missing


@dataclass(frozen=True)
class ServerStatus:
    name: str
    pid: int | None
    running: bool
    port: int | None


# --- readiness --------------------------------------------------------------------------------------------

def http_ready(path: str) -> Callable[["LocalServers", Server], bool]:
    def ready(servers: "LocalServers", server: Server) -> bool:
        try:
            with urllib.request.urlopen(f"{servers.url(server.name)}{path}", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False
    return ready


def redis_ready(servers: "LocalServers", server: Server) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", servers.port(server.name)), timeout=2) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def synced_since_start(servers: "LocalServers", server: Server) -> bool:
    """The sync wrote its status after it started (whether the cluster answered or not)."""
    try:
        return status_file(servers.monitoring_dir).stat().st_mtime >= servers.pid_file(server.name).stat().st_mtime
    except OSError:
        return False


# --- the table ----------------------------------------------------------------------------------------------
# To add a server (the stand-ins' controller, say), add a row: its command (ports of other rows through
# `s.port(name)`, files under `s.state`), a readiness probe, `listens=False` when it has no port of its own.

def _prepare_prometheus(s: "LocalServers") -> None:
    rules_dir(s.monitoring_dir).mkdir(parents=True, exist_ok=True)
    s.standins_dir.mkdir(parents=True, exist_ok=True)
    exporters = [(f"127.0.0.1:{s.port(name)}", {"job": name, "service": name, "namespace": s.namespace,
                                                 "endpoint": "metrics"})
                 for name in ("postgres-exporter", "redis-exporter")]
    config = prometheus_config(alertmanager=f"127.0.0.1:{s.port('alertmanager')}",
                               rule_files=str(rules_dir(s.monitoring_dir) / "*.yaml"),
                               standin_files=str(s.standins_dir / "*.json"), static_targets=exporters)
    (s.monitoring_dir / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))


def _prepare_alertmanager(s: "LocalServers") -> None:
    # Until the sync has translated the namespace's AlertmanagerConfigs: a root route to no receiver.
    target = alertmanager_file(s.monitoring_dir)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(alertmanager_config([]), sort_keys=False))


def standins_ready(servers: "LocalServers", server: "Server") -> bool:
    """The stand-in controller wrote its status after it started."""
    try:
        return Paths(servers.state).status.stat().st_mtime >= servers.pid_file(server.name).stat().st_mtime
    except OSError:
        return False


def _stack_backend(s: "LocalServers") -> dict[str, str]:
    # The stand-in controller reads the keepers' words from the stack's secret config, as `make up` does: the
    # checkout's file backend, and the local passphrase (it protects only throwaway localnet keys; see Makefile).
    return {"PULUMI_BACKEND_URL": f"file://{s.state / 'pulumi'}?metadata=skip",  # as the Makefile's LOCAL_ENV
            "PULUMI_CONFIG_PASSPHRASE": os.environ.get("PULUMI_CONFIG_PASSPHRASE", "tonsurance-local")}


def _postgres_dsn(s: "LocalServers") -> dict[str, str]:
    # The local PostgreSQL's Unix socket in its data directory (trust auth), its port from .state/ports.json.
    return {"DATA_SOURCE_NAME": f"host={s.postgres_dir.resolve()} port={ports.recorded_port(s.state, 'postgres')} "
                                "user=postgres dbname=postgres sslmode=disable"}


SERVERS: tuple[Server, ...] = (
    Server("alertmanager", lambda s: [
        str(s.tools_bin / "alertmanager"), f"--config.file={alertmanager_file(s.monitoring_dir)}",
        f"--storage.path={s.monitoring_dir / 'alertmanager-data'}", f"--web.listen-address=127.0.0.1:{s.port('alertmanager')}",
        "--cluster.listen-address=",  # no gossip port: a single local instance
    ], http_ready("/-/ready"), prepare=_prepare_alertmanager),
    Server("prometheus", lambda s: [
        str(s.tools_bin / "prometheus"), f"--config.file={s.monitoring_dir / 'prometheus.yml'}",
        f"--storage.tsdb.path={s.monitoring_dir / 'prometheus-data'}", "--storage.tsdb.retention.time=2d",
        f"--web.listen-address=127.0.0.1:{s.port('prometheus')}", "--web.enable-lifecycle",
        "--rules.alert.resend-delay=5s",  # firing and resolved alerts reach Alertmanager within seconds
    ], http_ready("/-/ready"), prepare=_prepare_prometheus),
    Server("alert-sink", lambda s: [
        sys.executable, "-m", "localcluster.alert_sink", "--port", str(s.port("alert-sink")), "--file", str(s.alerts_file),
    ], http_ready("/health")),
    Server("monitoring-sync", lambda s: [
        sys.executable, "-m", "localcluster.monitoring_sync", "--kubeconfig", str(s.kubeconfig),
        "--namespace", s.namespace, "--state-dir", str(s.monitoring_dir), "--prometheus-url", s.url("prometheus"),
        "--alertmanager-url", s.url("alertmanager"), "--sink-url", s.url("alert-sink"), "--tools-bin", str(s.tools_bin),
    ], synced_since_start, listens=False),
    Server("redis", lambda s: [
        str(DEBIAN_BIN / "redis-server"), "--bind", "127.0.0.1", "--port", str(s.port("redis")),
        "--dir", str(s.redis_dir), "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", "",
        "--maxmemory", REDIS_MAXMEMORY, "--maxmemory-policy", "noeviction",
    ], redis_ready, prepare=lambda s: s.redis_dir.mkdir(parents=True, exist_ok=True),
        installed_by="scripts/bootstrap (Debian package redis-server)"),
    Server("postgres-exporter", lambda s: [
        str(DEBIAN_BIN / "prometheus-postgres-exporter"), f"--web.listen-address=127.0.0.1:{s.port('postgres-exporter')}",
    ], http_ready("/metrics"), env=_postgres_dsn,
        installed_by="scripts/bootstrap (Debian package prometheus-postgres-exporter)"),
    Server("redis-exporter", lambda s: [
        str(DEBIAN_BIN / "prometheus-redis-exporter"), "-redis.addr", f"redis://127.0.0.1:{s.port('redis')}",
        "-web.listen-address", f"127.0.0.1:{s.port('redis-exporter')}",
    ], http_ready("/health"), installed_by="scripts/bootstrap (Debian package prometheus-redis-exporter)"),
    # The stand-ins behind the simulated pods (localcluster/standins): its targets reach Prometheus by file_sd.
    Server("standins", lambda s: [
        sys.executable, "-m", "localcluster.standins", "--state-dir", str(s.state), "run", "--stack", "local",
        "--namespace", s.namespace, "--kubeconfig", str(s.kubeconfig),
    ], standins_ready, env=_stack_backend, listens=False),
)


def _start_time(pid: int) -> int | None:
    """When the process started (clock ticks since boot, /proc/PID/stat field 22); None when it is gone."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def stack_namespace(root: Path = ROOT) -> str:
    """The local stack's namespace, from Pulumi.local.yaml (what the program deploys into)."""
    config = yaml.safe_load((root / "Pulumi.local.yaml").read_text())["config"]
    return config["tonsurance:namespace"]


@dataclass(frozen=True)
class LocalServers:
    state: Path  # the checkout's .state: ports.json, postgres/, standins/ ...
    kubeconfig: Path  # of the cluster whose objects the monitoring sync reads
    namespace: str  # the stack's namespace in that cluster
    tools_bin: Path = TOOLS_BIN
    table: tuple[Server, ...] = SERVERS

    @classmethod
    def for_checkout(cls, root: Path = ROOT) -> "LocalServers":
        return cls(root / ".state", Cluster.for_checkout("local", root).kubeconfig, stack_namespace(root))

    @property
    def servers_dir(self) -> Path:
        return self.state / "servers"

    @property
    def monitoring_dir(self) -> Path:
        return self.state / "monitoring"

    @property
    def standins_dir(self) -> Path:
        """Prometheus file_sd files of the stand-ins' pods (docs/monitoring-local.md)."""
        return self.state / "standins"

    @property
    def redis_dir(self) -> Path:
        return self.state / "redis"

    @property
    def postgres_dir(self) -> Path:
        return self.state / "postgres"

    @property
    def alerts_file(self) -> Path:
        return self.monitoring_dir / "alerts.jsonl"

    def port(self, name: str) -> int:
        return ports.recorded_port(self.state, name)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port(name)}"

    def pid_file(self, name: str) -> Path:
        return self.servers_dir / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.servers_dir / f"{name}.log"

    # --- processes -----------------------------------------------------------------------------------

    def _recorded(self, server: Server) -> tuple[int | None, int | None]:
        try:
            record = json.loads(self.pid_file(server.name).read_text())
            return int(record["pid"]), int(record["started"])
        except (OSError, ValueError, KeyError, TypeError):
            return None, None

    def status_of(self, server: Server) -> ServerStatus:
        """Running: the recorded pid lives and is the process we started (same start time: a pid reused by
        another process does not count)."""
        pid, started = self._recorded(server)
        running = pid is not None and alive(pid) and _start_time(pid) == started
        return ServerStatus(server.name, pid, running, self.port(server.name) if server.listens else None)

    def statuses(self) -> list[ServerStatus]:
        return [self.status_of(server) for server in self.table]

    def _check_can_start(self, server: Server, argv: list[str]) -> None:
        if not Path(argv[0]).exists():
            raise ServerError(f"{server.name}: {argv[0]} is missing; run {server.installed_by}")
        if server.listens:
            port = self.port(server.name)
            holder = ports.holder(port)
            if holder is not None:
                raise ServerError(f"{server.name}: port {port} (recorded in {self.state / 'ports.json'}) is taken by "
                                  f"{holder}; stop that process, or delete \"{server.name}\" from "
                                  f"{self.state / 'ports.json'} so that a free port is chosen")

    def _start(self, server: Server) -> int:
        argv = server.command(self)
        self._check_can_start(server, argv)
        if server.prepare:
            server.prepare(self)
        self.servers_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT), **(server.env(self) if server.env else {})}
        with self.log_file(server.name).open("ab") as log:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                       cwd=self.state, start_new_session=True)
        record = {"pid": process.pid, "started": _start_time(process.pid), "command": argv}
        self.pid_file(server.name).write_text(json.dumps(record) + "\n")
        return process.pid

    def _await_ready(self, server: Server, pid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not server.ready(self, server):
            if not alive(pid):
                await_exit([pid], 0)  # reap it when it is our child
                raise ServerError(f"{server.name} exited on start; the end of {self.log_file(server.name)}:\n"
                                  + self._log_tail(server))
            if time.monotonic() > deadline:
                raise ServerError(f"{server.name} (pid {pid}) not ready after {timeout:.0f}s; see {self.log_file(server.name)}")
            time.sleep(0.2)

    def _log_tail(self, server: Server, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_file(server.name).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # --- lifecycle -----------------------------------------------------------------------------------

    def start(self, timeout: float = 120) -> list[str]:
        """Start every server that is not running, in table order, each ready before the next; returns what
        it did. A server killed with -9 is started again with its data."""
        actions = []
        for server in self.table:
            status = self.status_of(server)
            if status.running:
                continue
            if status.pid is not None:
                await_exit([status.pid], 10)  # killed: let its last threads close their sockets
            pid = self._start(server)
            self._await_ready(server, pid, timeout)
            where = f" on 127.0.0.1:{status.port}" if status.port else ""
            again = " again (it was not running: stopped, crashed or killed)" if status.pid is not None else ""
            actions.append(f"started {server.name}{where} (pid {pid}){again}")
        return actions

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM every running server (last row first), SIGKILL those still running after `timeout`."""
        running = [s for s in reversed(self.statuses()) if s.running]
        for status in running:
            os.kill(status.pid, signal.SIGTERM)
        left = await_exit([s.pid for s in running], timeout)
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        left = await_exit(left, 10)
        if left:
            raise ServerError("still running after SIGKILL: pids " + ", ".join(map(str, left)))
        for server in self.table:
            self.pid_file(server.name).unlink(missing_ok=True)

    def status(self) -> tuple[bool, list[str]]:
        """(healthy, report lines): every server running and ready; then what the sync last did."""
        lines, healthy = [f"local servers of {self.state} (namespace {self.namespace})"], True
        for server in self.table:
            status = self.status_of(server)
            ready = status.running and server.ready(self, server)
            healthy = healthy and ready
            state = (f"{'ready' if ready else 'NOT READY'}, pid {status.pid}" if status.running else "NOT RUNNING")
            where = f"http://127.0.0.1:{status.port}" if status.port and server.name != "redis" else \
                f"127.0.0.1:{status.port}" if status.port else ""
            lines.append(f"  {server.name:<18} {state:<24} {where}")
        lines.extend(self._sync_report())
        if not healthy:
            lines.append("  run `scripts/servers start` to start what is not running")
        return healthy, lines

    def _sync_report(self) -> list[str]:
        try:
            sync = json.loads(status_file(self.monitoring_dir).read_text())
        except (OSError, ValueError):
            return ["  monitoring sync: no sync yet"]
        lines = [f"  monitoring sync at {sync['synced_at']}: rule files {', '.join(sync.get('rule_files', [])) or 'none'}; "
                 f"alertmanager configs {', '.join(sync.get('alertmanager_configs', [])) or 'none'}"]
        lines += [f"    ERROR {error}" for error in sync.get("errors", [])]
        lines.append(f"  alert sink: {len(read_notifications(self.alerts_file))} notifications in {self.alerts_file} "
                     "(scripts/servers alerts)")
        return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/servers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("start", "stop", "status", "alerts"))
    parser.add_argument("--json", action="store_true", help="alerts: print the recorded notifications as JSON lines")
    parser.add_argument("--state-dir", type=Path, help="the servers' state (default: .state of this checkout)")
    parser.add_argument("--kubeconfig", type=Path, help="the cluster to watch (default: the local cluster's)")
    parser.add_argument("--namespace", help="the namespace to watch (default: the local stack's)")
    args = parser.parse_args(argv)
    default = LocalServers.for_checkout()
    servers = LocalServers(args.state_dir.resolve() if args.state_dir else default.state,
                           args.kubeconfig.resolve() if args.kubeconfig else default.kubeconfig,
                           args.namespace or default.namespace)
    try:
        if args.command == "start":
            for action in servers.start():
                print(f"servers: {action}", file=sys.stderr)
            print("servers: ready: " + ", ".join(f"{s.name} {servers.url(s.name)}" for s in servers.table
                                                 if s.listens and s.name != "redis"), file=sys.stderr)
        elif args.command == "stop":
            servers.stop()
        elif args.command == "status":
            healthy, lines = servers.status()
            print("\n".join(lines))
            return 0 if healthy else 1
        else:
            records = read_notifications(servers.alerts_file)
            print("\n".join(json.dumps(r) for r in records) if args.json else
                  "\n".join(alert_lines(records)) or f"no notification yet in {servers.alerts_file}")
    except ServerError as err:
        print(f"scripts/servers: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
