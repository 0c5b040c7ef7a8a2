"""scripts/cluster and localcluster.Cluster on a real control plane of their own (not the session's, which
other tests share): idempotent start, a killed API server detected and restarted, stop leaves nothing
running, a taken port names its holder, and the simulated nodes carry realistic capacity."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pulumi
import pytest

from components.platform import check_cluster_answers
from localcluster import ports
from localcluster.cluster import Cluster, ClusterError, alive
from tests.kube import get_object

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, state_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / "scripts" / "cluster"), *args, "--name", "own", "--state-dir", str(state_dir)],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def own_cluster():
    state = Path(tempfile.mkdtemp(prefix="tonsurance-cluster-test-"))
    cluster = Cluster("own", state)
    yield cluster
    cluster.delete()


def test_start_creates_a_ready_cluster_and_is_idempotent(own_cluster):
    result = cli("start", state_dir=own_cluster.state_dir)
    assert result.returncode == 0, result.stderr
    assert "created cluster own" in result.stderr
    assert own_cluster.kubeconfig.exists()

    nodes = get_object(own_cluster, "nodes")["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == ["kwok-node-0", "kwok-node-1", "kwok-node-2"]
    for node in nodes:
        assert node["status"]["capacity"]["cpu"] == "8"
        assert node["status"]["capacity"]["memory"] == "32Gi"
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready[0]["status"] == "True"
    # The server reports the stamped release, not v0.0.0-master.
    version = json.loads(own_cluster.kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"] == "v1.37.2"

    again = cli("start", state_dir=own_cluster.state_dir)
    assert again.returncode == 0, again.stderr
    assert "created" not in again.stderr and "restarted" not in again.stderr
    status = cli("status", state_dir=own_cluster.state_dir)
    assert status.returncode == 0, status.stdout
    assert "NOT" not in status.stdout
    assert cli("kubeconfig", state_dir=own_cluster.state_dir).stdout.strip() == str(own_cluster.kubeconfig)


def test_a_killed_api_server_is_reported_and_restarted_with_its_data(own_cluster):
    own_cluster.kubectl("create", "configmap", "survivor", "--from-literal=k=v")
    apiserver = next(c for c in own_cluster.components() if c.name == "kube-apiserver")
    os.kill(apiserver.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30  # SIGKILL is asynchronous: a Go server's threads take a moment to exit
    while alive(apiserver.pid) and time.monotonic() < deadline:
        time.sleep(0.1)

    status = cli("status", state_dir=own_cluster.state_dir)
    assert status.returncode == 1
    assert "kube-apiserver" in status.stdout and "NOT RUNNING" in status.stdout
    assert "NOT ANSWERING" in status.stdout
    assert "scripts/cluster start --name own" in status.stdout
    # The program's own check (what `pulumi up` says before the provider's long error).
    with pytest.raises(pulumi.RunError) as info:
        check_cluster_answers(str(own_cluster.kubeconfig))
    assert "does not answer" in str(info.value) and "scripts/cluster start" in str(info.value)

    restarted = cli("start", state_dir=own_cluster.state_dir)
    assert restarted.returncode == 0, restarted.stderr
    assert "restarted kube-apiserver" in restarted.stderr
    assert get_object(own_cluster, "configmap", "survivor")["data"] == {"k": "v"}
    check_cluster_answers(str(own_cluster.kubeconfig))


def test_stop_leaves_nothing_running_and_start_brings_the_same_cluster_back(own_cluster):
    api_port = own_cluster.recorded_ports()["kubeApiserverPort"]
    pids = [c.pid for c in own_cluster.components()]
    assert cli("stop", state_dir=own_cluster.state_dir).returncode == 0
    assert not any(c.running for c in own_cluster.components())
    assert not any(alive(pid) for pid in pids)
    assert ports.is_free(api_port)
    assert cli("stop", state_dir=own_cluster.state_dir).returncode == 0  # stopping twice is fine

    assert cli("start", state_dir=own_cluster.state_dir).returncode == 0
    assert own_cluster.recorded_ports()["kubeApiserverPort"] == api_port
    assert get_object(own_cluster, "configmap", "survivor") is not None


def test_a_port_taken_by_another_process_is_named(own_cluster):
    api_port = own_cluster.recorded_ports()["kubeApiserverPort"]
    own_cluster.stop()
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("127.0.0.1", api_port))
    squatter.listen()
    try:
        with pytest.raises(ClusterError) as info:
            own_cluster.start()
        assert f"port {api_port} (kubeApiserverPort" in str(info.value)
        assert f"is taken by pid {os.getpid()}:" in str(info.value)
    finally:
        squatter.close()
    own_cluster.start()
    assert own_cluster.status()[0]


def test_delete_removes_everything(own_cluster):
    pids = [c.pid for c in own_cluster.components() if c.running]
    assert cli("delete", state_dir=own_cluster.state_dir).returncode == 0
    assert not own_cluster.state_dir.exists()
    assert not any(alive(pid) for pid in pids)
    status = cli("status", state_dir=own_cluster.state_dir)
    assert status.returncode == 1 and "not created" in status.stdout
    kubeconfig = cli("kubeconfig", state_dir=own_cluster.state_dir)
    assert kubeconfig.returncode == 1 and "run scripts/cluster start" in kubeconfig.stderr


def test_missing_binaries_say_to_run_bootstrap(tmp_path):
    with pytest.raises(ClusterError) as info:
        Cluster("none", tmp_path / "state", tools_bin=tmp_path / "empty").start()
    assert "kube-apiserver" in str(info.value) and "run scripts/bootstrap" in str(info.value)
    assert not (tmp_path / "state").exists()
