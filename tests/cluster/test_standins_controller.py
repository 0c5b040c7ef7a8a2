"""The stand-in controller against the session's real API server (pods simulated by KWOK, a Rollout run by
the Argo Rollouts controller): a stand-in per pod while the pod lives, targets with the labels its
ServiceMonitor promises, a new image tag changes the behaviour, a drill override stops and restarts a
service, a killed stand-in comes back, and stopping the controller stops them all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from components.monitoring import ScrapeTarget, service_monitor_spec
from components.services.rollout_analysis import CANARY_LABEL
from components.services.catalog import selector_labels
from localcluster.standins.controller import Paths, read_status, set_override
from tests.kube import get_object

ROOT = Path(__file__).resolve().parents[2]
SERVICE = "websocket-v2"


def objects(namespace: str, image: str) -> list[dict]:
    labels = selector_labels(SERVICE)
    meta = {"name": SERVICE, "namespace": namespace, "labels": labels}
    template = {"metadata": {"labels": labels}, "spec": {"containers": [
        {"name": SERVICE, "image": image, "ports": [{"name": "http", "containerPort": 8080},
                                                    {"name": "metrics", "containerPort": 9090}]}]}}
    return [
        {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": {
            "selector": labels, "ports": [{"name": "http", "port": 8080}, {"name": "metrics", "port": 9090}]}},
        {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": meta,
         "spec": service_monitor_spec(ScrapeTarget(SERVICE, labels), "10s")},
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": meta, "spec": {
            "replicas": 2, "selector": {"matchLabels": labels}, "template": template,
            "strategy": {"canary": {"steps": []}}}},
    ]


def apply(cluster, namespace: str, image: str) -> None:
    cluster.kubectl("apply", "-f", "-", input="\n---\n".join(json.dumps(o) for o in objects(namespace, image)))


def wait_for(condition, timeout: float = 120, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except OSError:  # a stand-in still starting refuses connections
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(0.5)


def targets(paths: Paths, namespace: str) -> list[dict]:
    try:
        return json.loads((paths.targets / f"{namespace}.json").read_text())
    except (OSError, ValueError):
        return []


def scrape(address: str) -> str:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as answer:
        return answer.read().decode()


def running_pods(cluster, namespace: str) -> set[str]:
    pods = get_object(cluster, "pods", "-n", namespace, "-l", f"app.kubernetes.io/name={SERVICE}")["items"]
    return {p["metadata"]["name"] for p in pods
            if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")}


@pytest.fixture
def controller(kube_cluster, kube_namespace, tmp_path):
    paths = Paths(tmp_path / ".state")
    process = subprocess.Popen(
        [sys.executable, "-m", "localcluster.standins", "--state-dir", str(paths.state), "run",
         "--namespace", kube_namespace, "--kubeconfig", str(kube_cluster.kubeconfig)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=(tmp_path / "controller.log").open("w"),
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    yield paths, process
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=60)


def test_a_stand_in_per_pod_labelled_as_promised_following_the_pods(kube_cluster, kube_namespace, controller):
    paths, process = controller
    apply(kube_cluster, kube_namespace, "ghcr.io/tonsurance/websocket-v2:1.0.0")
    pods = wait_for(lambda: (lambda p: p if len(p) == 2 else None)(running_pods(kube_cluster, kube_namespace)),
                    what="two running pods")
    entries = wait_for(lambda: (lambda t: t if {e["labels"]["pod"] for e in t} == pods else None)(
        targets(paths, kube_namespace)), what="a target per pod")
    rollout = get_object(kube_cluster, "rollout.argoproj.io", SERVICE, "-n", kube_namespace)
    for entry in entries:
        labels = entry["labels"]
        assert (labels["namespace"], labels["service"], labels["job"], labels["endpoint"]) == \
            (kube_namespace, SERVICE, SERVICE, "metrics")
        assert labels[CANARY_LABEL] == rollout["status"]["currentPodHash"]
        (address,) = entry["targets"]
        assert address.startswith("127.0.0.1:")
        wait_for(lambda: "http_requests_total{" in scrape(address), what="requests counted")

    # A bad release: the new pods' stand-ins fail requests; the old pods' stand-ins are gone with their pods.
    old_addresses = {e["targets"][0] for e in entries}
    apply(kube_cluster, kube_namespace, "ghcr.io/tonsurance/websocket-v2:1.0.1-bad-errors")
    new = wait_for(lambda: (lambda t: t if t and not {e["targets"][0] for e in t} & old_addresses
                            and {e["labels"]["pod"] for e in t} == running_pods(kube_cluster, kube_namespace)
                            else None)(targets(paths, kube_namespace)), what="targets of the new pods only")
    wait_for(lambda: 'status="503"' in scrape(new[0]["targets"][0]), what="errors of the bad release")
    for address in old_addresses:
        with pytest.raises(OSError):
            scrape(address)

    # A drill stops the service's stand-ins (the pods stay), then ends.
    set_override(paths, kube_namespace, SERVICE, "stopped")
    wait_for(lambda: targets(paths, kube_namespace) == [], what="no targets while stopped")
    set_override(paths, kube_namespace, SERVICE, None)
    wait_for(lambda: len(targets(paths, kube_namespace)) == 2, what="targets back")

    # A stand-in killed with -9 is started again.
    victim = read_status(paths)["standins"][0]
    os.kill(victim["pid"], signal.SIGKILL)
    wait_for(lambda: victim["pid"] not in {s["pid"] for s in read_status(paths)["standins"]}
             and len(read_status(paths)["standins"]) == 2, what="the killed stand-in replaced")

    # Stopping the controller stops every stand-in.
    pids = [s["pid"] for s in read_status(paths)["standins"]]
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)
    assert targets(paths, kube_namespace) == []
