"""Helm releases that converge after a killed `pulumi up`: resource hooks for `helm.v3.Release`.

Helm keeps each revision of a release in a Secret of its namespace (`sh.helm.release.v1.<name>.v<n>`,
labels `owner=helm`, `name`, `status`). A run killed while Helm installs or upgrades leaves the newest
revision `pending-install` or `pending-upgrade`; Helm then refuses every later install ("cannot re-use a
name that is still in use") and upgrade ("another operation ... is in progress"), and the provider (v4.25)
clears neither. A run killed after Helm finished but before Pulumi wrote its state leaves a `deployed` release
that the state does not know, which a new install refuses too.

The hooks run just before the provider creates or updates a Release, never in a preview:
- before a create (the state holds no such release): `pending-install` revisions are removed, and so is a
  release whose one finished revision is a first install (v1, `deployed`) of the same chart and version; the
  install then adopts the objects Helm labelled as that release's (their `meta.helm.sh/release-*`
  annotations). Any other release of that name stays, and the install fails with Helm's message: it is not a
  run of ours that was cut short.
- before an update: a `pending-upgrade` or `pending-rollback` newest revision is removed, so the upgrade
  starts from the last deployed revision.
Only release records are removed, never the release's objects. The hooks read the cluster with the
toolchain's kubectl (`scripts/bootstrap` builds it; `scripts/env.sh` puts it on PATH) and the provider's
kubeconfig.
"""

from __future__ import annotations

import base64
import gzip
import json
import shutil
import subprocess
from typing import Any

import pulumi

PENDING_INSTALL = "pending-install"
PENDING_CHANGE = ("pending-upgrade", "pending-rollback")


class HelmRecoveryError(Exception):
    pass


def release_hooks(kubeconfig: str | None) -> pulumi.ResourceHookBinding:
    """The hooks of every Release the program owns (`kubeconfig`: the provider's, None for the ambient one)."""
    return pulumi.ResourceHookBinding(
        before_create=[lambda args: reclaim_interrupted_install(kubeconfig, args.new_inputs or {})],
        before_update=[lambda args: clear_interrupted_change(kubeconfig, args.new_inputs or {})],
    )


def reclaim_interrupted_install(kubeconfig: str | None, inputs: dict[str, Any]) -> list[str]:
    """Before an install: forget what a killed install of this release left. Returns the removed records."""
    namespace, name = inputs.get("namespace") or "default", inputs["name"]
    revisions = release_revisions(kubeconfig, namespace, name)
    finished = [r for r in revisions if r["status"] != PENDING_INSTALL]
    if len(finished) == 1 and finished[0]["status"] == "deployed" and finished[0]["version"] == 1 \
            and same_chart(finished[0], inputs):
        stale = revisions  # a first install of this chart that finished before the state was written
    else:
        stale = [r for r in revisions if r["status"] == PENDING_INSTALL]
    return _remove(kubeconfig, namespace, name, stale, "a killed install left")


def clear_interrupted_change(kubeconfig: str | None, inputs: dict[str, Any]) -> list[str]:
    """Before an upgrade: drop a newest revision a killed upgrade or rollback left pending."""
    namespace, name = inputs.get("namespace") or "default", inputs["name"]
    revisions = release_revisions(kubeconfig, namespace, name)
    newest = max(revisions, key=lambda r: r["version"], default=None)
    stale = [newest] if newest and newest["status"] in PENDING_CHANGE else []
    return _remove(kubeconfig, namespace, name, stale, "a killed upgrade left")


def release_revisions(kubeconfig: str | None, namespace: str, name: str) -> list[dict[str, Any]]:
    """Every stored revision of the release: secret name, version, status, chart name and version."""
    listing = json.loads(kubectl(kubeconfig, "get", "secrets", "-n", namespace, "-l", f"owner=helm,name={name}",
                                 "-o", "json"))
    revisions = []
    for item in listing.get("items", []):
        labels = item["metadata"].get("labels", {})
        chart = decode_release(item.get("data", {}).get("release", "")).get("chart", {}).get("metadata", {})
        revisions.append({"secret": item["metadata"]["name"], "version": int(labels.get("version", 0)),
                          "status": labels.get("status"), "chart": chart.get("name"),
                          "chart_version": chart.get("version")})
    return revisions


def decode_release(data: str) -> dict[str, Any]:
    """A release record as Helm stores it: base64 (Kubernetes) of base64 (Helm) of gzipped JSON."""
    try:
        blob = base64.b64decode(base64.b64decode(data))
        return json.loads(gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob)
    except (ValueError, OSError):
        return {}


def same_chart(revision: dict[str, Any], inputs: dict[str, Any]) -> bool:
    chart = str(inputs.get("chart", "")).rstrip("/").rsplit("/", 1)[-1]
    return revision["chart"] == chart and (not inputs.get("version") or revision["chart_version"] == inputs["version"])


def kubectl(kubeconfig: str | None, *args: str) -> str:
    executable = shutil.which("kubectl")
    if not executable:
        raise HelmRecoveryError("kubectl is not on PATH: `. scripts/env.sh` first (scripts/bootstrap builds it); it "
                                "reads Helm's release records before a Release is created or updated")
    run = subprocess.run([executable, *(["--kubeconfig", kubeconfig] if kubeconfig else []), *args],
                         capture_output=True, text=True, timeout=120)
    if run.returncode != 0:
        raise HelmRecoveryError(f"kubectl {' '.join(args[:2])} failed: {run.stderr.strip()[-500:]}")
    return run.stdout


def _remove(kubeconfig: str | None, namespace: str, name: str, revisions: list[dict[str, Any]], why: str) -> list[str]:
    if not revisions:
        return []
    secrets = [r["secret"] for r in revisions]
    kubectl(kubeconfig, "delete", "secret", "-n", namespace, *secrets)
    pulumi.log.info(f"helm release {namespace}/{name}: removed the record(s) {why}: "
                    + ", ".join(f"v{r['version']} {r['status']}" for r in revisions))
    return secrets
