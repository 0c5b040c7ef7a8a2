"""The monitoring sync: what is deployed is what is monitored. A local operator process (supervised by
localcluster/servers.py) that watches one namespace of the local API server and keeps in step:

- the rule files the local Prometheus evaluates = the namespace's `PrometheusRule` objects as read back from
  the API server (one file per object, its `spec.groups`), each checked by `promtool check rules` first
  (a rejected object keeps its last good file and is reported); Prometheus reloads (`/-/reload`) on a change;
- alertmanager.yml = the namespace's `AlertmanagerConfig` objects translated as prometheus-operator does
  (localcluster/monitoring_config.py), with Slack and PagerDuty replaced by a webhook to the local alert sink;
  checked by `amtool check-config`, then Alertmanager reloads.

It writes what it did to a status file (`scripts/servers status` shows it). Nothing here reads the
monitoring table in Python: only the objects `pulumi up` created.

    python -m localcluster.monitoring_sync --kubeconfig K --namespace NS --state-dir .state/monitoring \
        --prometheus-url http://127.0.0.1:P --alertmanager-url http://127.0.0.1:A --sink-url http://127.0.0.1:S \
        --tools-bin .tools/bin
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import yaml

from localcluster.kubeapi import KubeApi, KubeApiError
from localcluster.monitoring_config import AlertmanagerConfigError, alertmanager_config

RESOURCES = {  # what is watched: name -> API path of the namespace's collection
    "prometheusrules": "/apis/monitoring.coreos.com/v1/namespaces/{namespace}/prometheusrules",
    "alertmanagerconfigs": "/apis/monitoring.coreos.com/v1alpha1/namespaces/{namespace}/alertmanagerconfigs",
}
RESYNC_SECONDS = 30  # a full sync at least this often, whatever the watches said
RETRY_SECONDS = 2  # after an error (API server or a server to reload not answering)


def rules_dir(state_dir: Path) -> Path:
    return state_dir / "rules"


def alertmanager_file(state_dir: Path) -> Path:
    return state_dir / "alertmanager.yml"


def status_file(state_dir: Path) -> Path:
    return state_dir / "sync.json"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _dump(data) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def reload(url: str) -> None:
    """POST <url>/-/reload; raises RuntimeError with the server's answer when it refuses or is down."""
    try:
        with urllib.request.urlopen(urllib.request.Request(f"{url}/-/reload", method="POST"), timeout=30):
            return
    except urllib.error.HTTPError as err:
        raise RuntimeError(f"{url}/-/reload: {err.code} {err.read().decode(errors='replace').strip()}") from None
    except OSError as err:
        raise RuntimeError(f"{url}/-/reload: {err}") from None


@dataclass
class MonitoringSync:
    kubeconfig: Path
    namespace: str
    state_dir: Path
    prometheus_url: str
    alertmanager_url: str
    sink_url: str
    tools_bin: Path
    changed: threading.Event = field(default_factory=threading.Event)
    _pending: set[str] = field(default_factory=set)  # servers whose reload failed: retried next sync

    def _api(self) -> KubeApi:
        if not self.kubeconfig.exists():
            raise KubeApiError(f"{self.kubeconfig} does not exist: start the cluster (scripts/cluster start)")
        return KubeApi(self.kubeconfig)

    def _path(self, resource: str) -> str:
        return RESOURCES[resource].format(namespace=self.namespace)

    def _check(self, tool: str, *args: str) -> str | None:
        """Run promtool/amtool; None when it accepts, else its complaint."""
        result = subprocess.run([str(self.tools_bin / tool), *args], capture_output=True, text=True, timeout=60)
        return None if result.returncode == 0 else (result.stderr or result.stdout).strip()[-1500:]

    # --- one sync ------------------------------------------------------------------------------------

    def _sync_rules(self, objects: list[dict], errors: list[str]) -> tuple[list[str], bool]:
        directory = rules_dir(self.state_dir)
        directory.mkdir(parents=True, exist_ok=True)
        wanted, changed = {}, False
        for obj in objects:
            meta = obj["metadata"]
            wanted[f"{meta['namespace']}-{meta['name']}.yaml"] = (meta, _dump({"groups": obj["spec"].get("groups", [])}))
        for name, (meta, text) in sorted(wanted.items()):
            target = directory / name
            if target.exists() and target.read_text() == text:
                continue
            staged = directory / f".{name}.staged"
            staged.write_text(text)
            complaint = self._check("promtool", "check", "rules", str(staged))
            if complaint:
                staged.unlink()
                errors.append(f"PrometheusRule {meta['namespace']}/{meta['name']} (resourceVersion "
                              f"{meta['resourceVersion']}) refused by promtool, kept the last good rules: {complaint}")
                continue
            staged.replace(target)
            changed = True
        for stale in directory.glob("*.yaml"):
            if stale.name not in wanted:
                stale.unlink()
                changed = True
        return sorted(p.name for p in directory.glob("*.yaml")), changed

    def _sync_alertmanager(self, objects: list[dict], errors: list[str]) -> bool:
        try:
            text = _dump(alertmanager_config(objects, local_webhook=f"{self.sink_url}/alerts"))
        except AlertmanagerConfigError as err:
            errors.append(f"{err}; kept the last good Alertmanager configuration")
            return False
        target = alertmanager_file(self.state_dir)
        if target.exists() and target.read_text() == text:
            return False
        staged = target.with_name(f".{target.name}.staged")
        staged.write_text(text)
        complaint = self._check("amtool", "check-config", str(staged))
        if complaint:
            staged.unlink()
            errors.append(f"AlertmanagerConfig objects refused by amtool, kept the last good configuration: {complaint}")
            return False
        staged.replace(target)
        return True

    def sync_once(self) -> dict:
        """Read the objects, write what changed, reload what needs it; returns (and records) the status."""
        errors: list[str] = []
        status: dict = {"synced_at": _now(), "namespace": self.namespace, "errors": errors}
        try:
            api = self._api()
            objects = {resource: api.get(self._path(resource))["items"] for resource in RESOURCES}
        except (KubeApiError, OSError, ValueError) as err:
            errors.append(f"cannot read the cluster: {err}")
            self._write_status(status)
            return status
        status["rule_files"], rules_changed = self._sync_rules(objects["prometheusrules"], errors)
        status["alertmanager_configs"] = sorted(f"{o['metadata']['namespace']}/{o['metadata']['name']}"
                                                for o in objects["alertmanagerconfigs"])
        if rules_changed:
            self._pending.add("prometheus")
        if self._sync_alertmanager(objects["alertmanagerconfigs"], errors):
            self._pending.add("alertmanager")
        for server, url in (("prometheus", self.prometheus_url), ("alertmanager", self.alertmanager_url)):
            if server not in self._pending:
                continue
            try:
                reload(url)
                self._pending.discard(server)
                status[f"{server}_reloaded_at"] = _now()
                print(f"{_now()} {server} reloaded", flush=True)
            except RuntimeError as err:
                errors.append(f"{server} did not reload (retrying): {err}")
        status["pending_reloads"] = sorted(self._pending)
        self._write_status(status)
        return status

    def _write_status(self, status: dict) -> None:
        previous = self._read_status()
        for key in ("prometheus_reloaded_at", "alertmanager_reloaded_at"):
            status.setdefault(key, previous.get(key))
        for error in status["errors"]:
            if error not in previous.get("errors", []):
                print(f"{_now()} {error}", flush=True)
        target = status_file(self.state_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = target.with_name(f".{target.name}.staged")
        staged.write_text(json.dumps(status, indent=2) + "\n")
        staged.replace(target)

    def _read_status(self) -> dict:
        try:
            return json.loads(status_file(self.state_dir).read_text())
        except (OSError, ValueError):
            return {}

    # --- forever -------------------------------------------------------------------------------------

    def _watch(self, resource: str) -> None:
        """List, then watch from that version; any event (or a broken watch) asks for a sync."""
        while True:
            try:
                api = self._api()
                version = api.get(self._path(resource))["metadata"]["resourceVersion"]
                for event in api.watch(self._path(resource), version):
                    if event.get("type") == "ERROR":  # e.g. 410 Gone: list again
                        break
                    if event.get("type") != "BOOKMARK":
                        self.changed.set()
            except (KubeApiError, OSError, ValueError):
                time.sleep(RETRY_SECONDS)
            self.changed.set()

    def run(self) -> None:
        for resource in RESOURCES:
            threading.Thread(target=self._watch, args=(resource,), daemon=True, name=f"watch-{resource}").start()
        while True:
            status = self.sync_once()
            retry = status["errors"] or status["pending_reloads"]
            self.changed.wait(timeout=RETRY_SECONDS if retry else RESYNC_SECONDS)
            self.changed.clear()
            time.sleep(0.2)  # `pulumi up` changes objects in bursts: take them in one sync


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m localcluster.monitoring_sync", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--prometheus-url", required=True)
    parser.add_argument("--alertmanager-url", required=True)
    parser.add_argument("--sink-url", required=True)
    parser.add_argument("--tools-bin", type=Path, required=True)
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)
    MonitoringSync(args.kubeconfig, args.namespace, args.state_dir, args.prometheus_url, args.alertmanager_url,
                   args.sink_url, args.tools_bin).run()


if __name__ == "__main__":
    main()
