"""The stand-in controller: one process that watches the namespace's pods through the local API server and
runs a stand-in process (standin.py) for each pod of the five workloads, for as long as the pod lives.

- Behaviour: the pod's image tag through the fault table (faults.py), unless a drill set an override for
  the service (`overrides.json`, written by `python -m localcluster.standins induce`).
- Scrape targets: `.state/standins/<namespace>.json`, a Prometheus file_sd file listing each stand-in's
  loopback metrics port with the labels its ServiceMonitor promises (targets.py), rewritten on every change.
- Supervision: a stand-in that exits is started again (on new ports); stopping the controller stops them all,
  and a controller started after a crash first ends the stand-ins its predecessor left (recorded pids).
- Keepers get their wallet's words on stdin from a key source (the stack's secret config, or a file in tests).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from localcluster.ports import free_port
from localcluster.standins import faults, standin, targets
from localcluster.standins.workloads import CONTRACT_ADDRESSES, SERVICES
from localcluster.kubeapi import KubeApi, KubeApiError

log = logging.getLogger("standins")

ROOT = Path(__file__).resolve().parents[2]
PART_OF = "app.kubernetes.io/part-of=tonsurance"
NAME_LABEL = "app.kubernetes.io/name"
KEEPER_INDEX = {"pricing-keeper": 0, "bridge-health-keeper": 1}  # which of tonsurance:keeperAddresses signs
TICK_SECONDS = 2.0


@dataclass(frozen=True)
class Paths:
    """Where the controller keeps things: targets for Prometheus, and its own state."""

    state: Path  # the checkout's .state

    @property
    def targets(self) -> Path:
        return self.state / "standins"

    @property
    def own(self) -> Path:
        return self.state / "standins-controller"

    @property
    def overrides(self) -> Path:
        return self.own / "overrides.json"

    @property
    def status(self) -> Path:
        return self.own / "status.json"


@dataclass
class Running:
    pod: dict
    service: str
    http_port: int
    metrics_port: int
    process: subprocess.Popen
    image: str
    targets: list[dict] = field(default_factory=list)


def read_overrides(paths: Paths) -> dict[str, list[str]]:
    """'<namespace>/<service>' -> the fault names a drill set on it."""
    try:
        return json.loads(paths.overrides.read_text())
    except (OSError, ValueError):
        return {}


def set_override(paths: Paths, namespace: str, service: str, fault: str | None) -> None:
    """Add `fault` to the service's drill faults; None clears them all."""
    from chain.files import exclusive_lock, write_json_atomically
    if fault is not None and fault not in faults.FAULTS:
        raise ValueError(f"unknown fault {fault!r}; known: {', '.join(faults.FAULTS)}")
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; known: {', '.join(SERVICES)}")
    with exclusive_lock(paths.overrides):
        current = read_overrides(paths)
        names = current.pop(f"{namespace}/{service}", [])
        if fault:
            current[f"{namespace}/{service}"] = [*names, fault] if fault not in names else names
        write_json_atomically(paths.overrides, current)


class Controller:
    def __init__(self, kubeconfig: Path, namespace: str, paths: Paths, localnet: str | None,
                 keeper_words: Callable[[int], str], keeper_interval: int | None = None):
        self.kubeconfig, self.namespace, self.paths, self.localnet = kubeconfig, namespace, paths, localnet
        self._kube: KubeApi | None = None
        self.keeper_words = keeper_words
        self.keeper_interval = keeper_interval
        self.running: dict[str, Running] = {}  # pod uid -> stand-in
        self.pods: dict[str, dict] = {}  # pod uid -> the pod as last seen
        self.events: queue.Queue = queue.Queue()
        self.stopping = threading.Event()
        for directory in (paths.targets, paths.own / "behaviour", paths.own / "logs", paths.own / "journals"):
            directory.mkdir(parents=True, exist_ok=True)

    @property
    def kube(self) -> KubeApi:
        """The API server's client, made on first use: the controller starts (and waits) before the cluster does."""
        if self._kube is None:
            try:
                self._kube = KubeApi(self.kubeconfig)
            except (OSError, ValueError, KeyError, StopIteration) as err:
                raise KubeApiError(f"cannot read the kubeconfig {self.kubeconfig}: {err}; start the cluster "
                                   "(scripts/cluster start)") from None
        return self._kube

    # ---- the loop -------------------------------------------------------------------------------------------
    def run(self) -> None:
        self.end_leftovers()
        self._write_status()  # readiness: the controller is up (scripts/servers waits for this file)
        threading.Thread(target=self._watch, daemon=True).start()
        try:
            while not self.stopping.is_set():
                changed = False
                try:
                    while True:
                        changed |= self._apply(self.events.get(timeout=TICK_SECONDS))
                except queue.Empty:
                    pass
                changed |= self.reconcile_all()
                if changed:
                    self.publish()
        finally:
            self.stop_all()

    def _watch(self) -> None:
        """List, then watch from the list's version; on any break, list again (events may have been missed)."""
        path = f"/api/v1/namespaces/{self.namespace}/pods"
        while not self.stopping.is_set():
            try:
                listed = self.kube.get(path, labelSelector=PART_OF)
                self.events.put(("LIST", listed["items"]))
                version = listed["metadata"].get("resourceVersion", "0")
                for event in self.kube.watch(path, version, timeout_seconds=240):
                    labels = (event.get("object", {}).get("metadata") or {}).get("labels") or {}
                    if event["type"] in ("ADDED", "MODIFIED", "DELETED") and labels.get("app.kubernetes.io/part-of") == "tonsurance":
                        self.events.put((event["type"], event["object"]))
                    elif event["type"] == "ERROR":
                        break  # e.g. 410 Gone: the version is too old; list again
            except (KubeApiError, OSError, ValueError) as err:
                log.warning("watching pods in %s: %s; retrying", self.namespace, err)
                self.stopping.wait(TICK_SECONDS)

    def _apply(self, event) -> bool:
        kind, data = event
        if kind == "LIST":
            self.pods = {p["metadata"]["uid"]: p for p in data}
        elif kind == "DELETED":
            self.pods.pop(data["metadata"]["uid"], None)
        else:
            self.pods[data["metadata"]["uid"]] = data
        return True

    # ---- reconcile ------------------------------------------------------------------------------------------
    def reconcile_all(self) -> bool:
        changed = False
        overrides = read_overrides(self.paths)
        for uid in list(self.running):
            pod = self.pods.get(uid)
            if pod is None or not self._wanted(pod, overrides):
                self._stop(uid)
                changed = True
        for uid, pod in self.pods.items():
            if not self._wanted(pod, overrides):
                continue
            service = pod["metadata"]["labels"][NAME_LABEL]
            self._write_behaviour(pod, faults.behaviour_for(self._image(pod),
                                                            tuple(overrides.get(f"{self.namespace}/{service}", ()))))
            current = self.running.get(uid)
            if current is not None and current.process.poll() is not None:
                log.warning("stand-in of pod %s exited with %s; starting it again", pod["metadata"]["name"],
                            current.process.returncode)
                self.running.pop(uid)
                current = None
            if current is None:
                try:
                    self._start(uid, pod)
                except (KubeApiError, OSError, ValueError) as err:
                    log.error("cannot start the stand-in of pod %s: %s", pod["metadata"]["name"], err)
                    continue
                changed = True
        return changed

    def _wanted(self, pod: dict, overrides: dict[str, str]) -> bool:
        labels = pod["metadata"].get("labels") or {}
        service = labels.get(NAME_LABEL)
        if service not in SERVICES or pod["metadata"].get("deletionTimestamp"):
            return False
        if pod.get("status", {}).get("phase") != "Running":
            return False
        return faults.behaviour_for(self._image(pod), tuple(overrides.get(f"{self.namespace}/{service}", ()))).serving

    @staticmethod
    def _image(pod: dict) -> str:
        return pod["spec"]["containers"][0]["image"]

    def _behaviour_file(self, pod: dict) -> Path:
        return self.paths.own / "behaviour" / f"{pod['metadata']['name']}.json"

    def _write_behaviour(self, pod: dict, behaviour: faults.Behaviour) -> None:
        path = self._behaviour_file(pod)
        text = json.dumps(behaviour.as_dict(), sort_keys=True)
        if not path.exists() or path.read_text() != text:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.replace(path)

    def _start(self, uid: str, pod: dict) -> None:
        name, service = pod["metadata"]["name"], pod["metadata"]["labels"][NAME_LABEL]
        addresses = contract_addresses(self.kube, self.namespace)
        spec = {"service": service, "pod": name, "namespace": self.namespace,
                "http_port": free_port(), "metrics_port": free_port(),
                "behaviour_file": str(self._behaviour_file(pod)), "contract_addresses": addresses,
                "localnet": self.localnet if addresses else None}
        if spec["http_port"] == spec["metrics_port"]:
            spec["metrics_port"] = free_port()
        if self.keeper_interval:
            spec["keeper_interval"] = self.keeper_interval
        if service in KEEPER_INDEX:
            if not addresses:
                raise ValueError(f"the {CONTRACT_ADDRESSES} ConfigMap is missing: the keeper has no oracle to update")
            spec["keeper_mnemonic"] = self.keeper_words(KEEPER_INDEX[service])
            spec["journal"] = str(self.paths.own / "journals" / f"{service}.json")
        log_file = (self.paths.own / "logs" / f"{name}.log").open("ab")
        process = standin.launch(spec, stdout=log_file, start_new_session=True)  # the keeper's words: on its stdin
        log_file.close()
        self.running[uid] = Running(pod, service, spec["http_port"], spec["metrics_port"], process, self._image(pod))
        log.info("started the stand-in of %s (pid %d, http %d, metrics %d)", name, process.pid, spec["http_port"],
                 spec["metrics_port"])

    def _stop(self, uid: str) -> None:
        running = self.running.pop(uid)
        _terminate(running.process.pid)
        running.process.wait()
        log.info("stopped the stand-in of %s", running.pod["metadata"]["name"])

    def stop_all(self) -> None:
        for uid in list(self.running):
            self._stop(uid)
        self.publish()

    def end_leftovers(self) -> None:
        """End the stand-ins a killed controller left running (pids recorded in its status file)."""
        try:
            previous = json.loads(self.paths.status.read_text())
        except (OSError, ValueError):
            return
        for entry in previous.get("standins", []):
            pid = entry.get("pid")
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"localcluster.standins.standin" in cmdline:
                _terminate(pid)

    # ---- what Prometheus and the tools read -----------------------------------------------------------------
    def publish(self) -> None:
        """Rewrite the file_sd targets (labels from the ServiceMonitors and Services as deployed) and status."""
        try:
            monitors = self.kube.get(f"/apis/monitoring.coreos.com/v1/namespaces/{self.namespace}/servicemonitors")["items"]
            services = self.kube.get(f"/api/v1/namespaces/{self.namespace}/services")["items"]
        except KubeApiError as err:
            log.warning("cannot read ServiceMonitors and Services (%s); keeping the last targets", err)
            return
        entries = []
        for running in self.running.values():
            pod = self.pods.get(running.pod["metadata"]["uid"], running.pod)
            running.targets = targets.scrape_targets(monitors, services, pod, f"127.0.0.1:{running.metrics_port}")
            entries.extend(running.targets)
        targets.write_targets(self.paths.targets / f"{self.namespace}.json", entries)
        self._write_status()

    def _write_status(self) -> None:
        status = {"namespace": self.namespace, "pid": os.getpid(), "standins": [
            {"pod": r.pod["metadata"]["name"], "service": r.service, "image": r.image, "pid": r.process.pid,
             "http": f"http://127.0.0.1:{r.http_port}", "metrics": f"http://127.0.0.1:{r.metrics_port}/metrics",
             "pod_template_hash": (r.pod["metadata"].get("labels") or {}).get("rollouts-pod-template-hash")}
            for r in self.running.values()]}
        from chain.files import write_json_atomically
        write_json_atomically(self.paths.status, status)


def contract_addresses(kube: KubeApi, namespace: str) -> dict[str, str]:
    """The data of the namespace's contract-addresses ConfigMap (what the pods read as environment); {} if none."""
    found = kube.get(f"/api/v1/namespaces/{namespace}/configmaps", fieldSelector=f"metadata.name={CONTRACT_ADDRESSES}")
    return (found["items"][0].get("data") or {}) if found["items"] else {}


def _terminate(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)  # its own session: ends any thread or child with it
    except ProcessLookupError:
        pass


def read_status(paths: Paths) -> dict:
    try:
        return json.loads(paths.status.read_text())
    except (OSError, ValueError):
        return {"standins": []}


def service_url(paths: Paths, service: str, namespace: str) -> str | None:
    """The http address of a running stand-in of `service` in `namespace` (what `ops verify` calls on the
    local stack); None when the controller is not running or runs none."""
    status = read_status(paths)
    pid = status.get("pid")
    if status.get("namespace") != namespace or not pid or not Path(f"/proc/{pid}").exists():
        return None
    for entry in status["standins"]:
        if entry["service"] == service and Path(f"/proc/{entry['pid']}").exists():
            return entry["http"]
    return None
