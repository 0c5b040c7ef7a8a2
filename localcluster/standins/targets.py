"""Prometheus scrape targets for the stand-ins, with the labels the ServiceMonitors promise.

prometheus-operator turns a ServiceMonitor into a scrape job whose targets are the pods behind the Services
it selects, labelled `namespace`, `service`, `pod`, `container`, `endpoint` (the port's name) and `job` (the
Service's name, or the value of its `jobLabel` label), plus every Service label named in `targetLabels` and
every pod label named in `podTargetLabels` (Argo's `rollouts-pod-template-hash` becomes
`rollouts_pod_template_hash`). `target_labels` applies the same rules to the objects read back from the API
server; the stand-in controller writes the result as Prometheus file_sd files (`.state/standins/*.json`),
with the stand-in's loopback port as the address, never the simulated pod's IP.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from chain.files import write_json_atomically

_INVALID = re.compile(r"[^a-zA-Z0-9_]")


def label_name(kubernetes_label: str) -> str:
    """A Kubernetes label key as Prometheus names it (prometheus-operator's sanitizing)."""
    return _INVALID.sub("_", kubernetes_label)


def selects(selector: dict, labels: dict) -> bool:
    """A label selector's matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist) against labels."""
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        present = key in labels
        if (operator == "In" and labels.get(key) not in values) or (operator == "NotIn" and labels.get(key) in values) \
                or (operator == "Exists" and not present) or (operator == "DoesNotExist" and present):
            return False
    return True


def target_labels(monitor: dict, endpoint: dict, service: dict, pod: dict) -> dict[str, str]:
    """The labels of `pod`'s target in the scrape job of `monitor`'s `endpoint`, for `service` (which the
    monitor selects, and whose selector selects the pod)."""
    spec, pod_labels = monitor["spec"], pod["metadata"].get("labels") or {}
    service_labels = service["metadata"].get("labels") or {}
    job = service["metadata"]["name"]
    if spec.get("jobLabel") and service_labels.get(spec["jobLabel"]):
        job = service_labels[spec["jobLabel"]]
    labels = {
        "namespace": pod["metadata"]["namespace"],
        "service": service["metadata"]["name"],
        "pod": pod["metadata"]["name"],
        "container": pod["spec"]["containers"][0]["name"],
        "job": job,
    }
    if endpoint.get("port"):
        labels["endpoint"] = endpoint["port"]
    labels["__metrics_path__"] = endpoint.get("path", "/metrics")  # a scrape setting: Prometheus drops the label
    for key in spec.get("targetLabels") or []:
        if key in service_labels:
            labels[label_name(key)] = service_labels[key]
    for key in spec.get("podTargetLabels") or []:
        if key in pod_labels:
            labels[label_name(key)] = pod_labels[key]
    return labels


def scrape_targets(monitors: list[dict], services: list[dict], pod: dict, address: str) -> list[dict]:
    """file_sd entries for `pod` at `address` (127.0.0.1:PORT): one per ServiceMonitor endpoint that reaches it."""
    entries = []
    pod_labels = pod["metadata"].get("labels") or {}
    for service in services:
        selector = service["spec"].get("selector")
        if not selector or not selects({"matchLabels": selector}, pod_labels):
            continue
        for monitor in monitors:
            spec = monitor["spec"]
            namespaces = (spec.get("namespaceSelector") or {}).get("matchNames") or [monitor["metadata"]["namespace"]]
            if service["metadata"]["namespace"] not in namespaces \
                    or not selects(spec.get("selector") or {}, service["metadata"].get("labels") or {}):
                continue
            for endpoint in spec.get("endpoints") or []:
                if endpoint.get("path", "/metrics") != "/metrics":
                    continue  # the stand-ins serve /metrics only
                entries.append({"targets": [address], "labels": target_labels(monitor, endpoint, service, pod)})
    return entries


def write_targets(path: Path, entries: list[dict]) -> bool:
    """Write a file_sd file if its content changed (Prometheus re-reads it on change); True when written."""
    text = json.dumps(entries, sort_keys=True)
    if path.exists() and json.dumps(json.loads(path.read_text()), sort_keys=True) == text:
        return False
    write_json_atomically(path, entries)  # type: ignore[arg-type]  # a list is JSON too
    return True
