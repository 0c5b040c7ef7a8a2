"""scripts/servers and localcluster.servers on real processes: every server of the table starts, reports
its status, comes back after kill -9, names the holder of a taken port, stops; the exporters' series of the
local PostgreSQL and Redis reach the real Prometheus with the labels the alerts and panels read."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest

from localcluster import ports
from localcluster.cluster import alive, await_exit
from localcluster.servers import SERVERS, LocalServers, ServerError
from monitoring.alerts import ALERTS_BY_NAME
from tests.servers.conftest import ROOT, query, wait_for



def cli(servers: LocalServers, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "localcluster.servers", *args, "--state-dir", str(servers.state),
                           "--kubeconfig", str(servers.kubeconfig), "--namespace", servers.namespace],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_start_is_idempotent_and_status_reports_every_server(servers):
    assert servers.start() == []
    status = cli(servers, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    for server in SERVERS:
        line = next(line for line in status.stdout.splitlines() if line.split()[:1] == [server.name])
        assert "ready, pid" in line
        if server.listens:
            assert f"127.0.0.1:{servers.port(server.name)}" in line
    # Every port is loopback only and recorded once, in the state's ports.json.
    recorded = ports.recorded_port
    assert len({recorded(servers.state, s.name) for s in SERVERS if s.listens}) == sum(s.listens for s in SERVERS)


@pytest.mark.parametrize("name", [s.name for s in SERVERS])
def test_a_server_killed_with_sigkill_is_reported_and_restarted(servers, name):
    server = next(s for s in SERVERS if s.name == name)
    pid = servers.status_of(server).pid
    os.kill(pid, signal.SIGKILL)
    assert await_exit([pid], 30) == []

    status = cli(servers, "status")
    assert status.returncode == 1
    assert any(line.split()[:3] == [name, "NOT", "RUNNING"] for line in status.stdout.splitlines()), status.stdout
    assert "scripts/servers start" in status.stdout

    started = cli(servers, "start")
    assert started.returncode == 0, started.stderr
    assert f"started {name}" in started.stderr and "again" in started.stderr
    assert started.stderr.count("started ") == 1  # only the killed one
    assert servers.status_of(server).running and servers.status_of(server).pid != pid
    assert cli(servers, "status").returncode == 0


def test_a_port_taken_by_another_process_is_named(servers):
    server = next(s for s in SERVERS if s.name == "alert-sink")
    pid = servers.status_of(server).pid
    os.kill(pid, signal.SIGTERM)
    assert await_exit([pid], 30) == []
    port = servers.port("alert-sink")
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("127.0.0.1", port))
    squatter.listen()
    try:
        with pytest.raises(ServerError) as info:
            servers.start()
        message = str(info.value)
        assert f"alert-sink: port {port}" in message and f"is taken by pid {os.getpid()}:" in message
        assert str(servers.state / "ports.json") in message
    finally:
        squatter.close()
    assert any("started alert-sink" in action for action in servers.start())


def test_a_missing_binary_says_what_installs_it(tmp_path):
    local = LocalServers(tmp_path, tmp_path / "kubeconfig", "ns", tools_bin=tmp_path / "empty")
    with pytest.raises(ServerError) as info:
        local.start()
    assert "alertmanager" in str(info.value) and "run scripts/bootstrap" in str(info.value)


def test_exporter_series_of_the_local_postgres_and_redis_reach_prometheus(servers):
    """What the PostgreSQL and Redis alerts and panels read exists, from the real exporters, with the
    labels the exporters' ServiceMonitors give them (job, service, namespace)."""
    for series, job in (("pg_up", "postgres-exporter"), ("redis_up", "redis-exporter")):
        (sample,) = wait_for(lambda: query(servers, f'{series}{{job="{job}"}} == 1'), f"{series} == 1")
        assert sample["metric"]["namespace"] == servers.namespace and sample["metric"]["service"] == job
    wait_for(lambda: query(servers, "pg_stat_activity_count"), "pg_stat_activity_count")
    (memory_max,) = query(servers, "redis_memory_max_bytes")
    assert float(memory_max["value"][1]) == 64 * 1024 * 1024
    # The two alerts' expressions without their thresholds evaluate to a value (their inputs all exist).
    for alert in ("RedisMemoryHigh", "PostgresConnectionsHigh"):
        ratio = ALERTS_BY_NAME[alert].expr.rsplit(" > ", 1)[0]
        (sample,) = wait_for(lambda: query(servers, ratio), f"{alert}'s ratio")
        assert 0 < float(sample["value"][1]) < 0.9


def test_stop_stops_every_server_and_start_brings_them_back(servers):
    pids = [s.pid for s in servers.statuses()]
    assert cli(servers, "stop").returncode == 0
    assert not any(alive(pid) for pid in pids)
    assert all(ports.is_free(servers.port(s.name)) for s in SERVERS if s.listens)
    status = cli(servers, "status")
    assert status.returncode == 1 and status.stdout.count("NOT RUNNING") == len(SERVERS)
    assert cli(servers, "stop").returncode == 0  # stopping twice is fine

    assert cli(servers, "start").returncode == 0
    assert cli(servers, "status").returncode == 0

