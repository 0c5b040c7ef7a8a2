"""Reading Helm's release records (components/helm_recovery.py) and which revisions a killed run left: the
choices the hooks make, from records as `kubectl get secrets -o json` shows them (the hooks themselves run
against a real cluster in tests/e2e/test_helm_converge.py)."""
from __future__ import annotations

import base64
import gzip
import json

import pytest

from components import helm_recovery
from components.helm_recovery import clear_interrupted_change, decode_release, reclaim_interrupted_install

INPUTS = {"name": "cert-manager", "namespace": "cert-manager", "chart": "cert-manager", "version": "v1.18.2"}


def secret(version: int, status: str, chart: str = "cert-manager", chart_version: str = "v1.18.2") -> dict:
    record = {"name": "cert-manager", "chart": {"metadata": {"name": chart, "version": chart_version}}}
    helm = base64.b64encode(gzip.compress(json.dumps(record).encode()))  # Helm's encoding
    return {"metadata": {"name": f"sh.helm.release.v1.cert-manager.v{version}",
                         "labels": {"owner": "helm", "name": "cert-manager", "status": status, "version": str(version)}},
            "data": {"release": base64.b64encode(helm).decode()}}  # and Kubernetes' base64 of a Secret's data


@pytest.fixture
def cluster(monkeypatch):
    """kubectl answered from a list of release secrets; deletions recorded."""
    state = {"items": [], "deleted": []}

    def kubectl(_kubeconfig, *args):
        if args[0] == "get":
            return json.dumps({"items": state["items"]})
        state["deleted"].extend(args[4:])
        return ""

    monkeypatch.setattr(helm_recovery, "kubectl", kubectl)
    monkeypatch.setattr(helm_recovery.pulumi.log, "info", lambda _message: None)
    return state


def test_a_release_record_decodes_to_its_chart():
    assert decode_release(secret(1, "deployed")["data"]["release"])["chart"]["metadata"]["version"] == "v1.18.2"
    assert decode_release("not base64 at all") == {}


@pytest.mark.parametrize("items, removed", [
    ([], []),                                                                   # nothing there: a plain install
    ([secret(1, "pending-install")], ["v1"]),                                   # killed mid-install
    ([secret(1, "deployed")], ["v1"]),                                          # killed after Helm finished
    ([secret(1, "deployed", chart_version="v1.17.0")], []),                     # another version: not ours
    ([secret(1, "deployed", chart="other")], []),                               # another chart
    ([secret(1, "superseded"), secret(2, "deployed")], []),                     # a release with a history
    ([secret(1, "uninstalled"), secret(2, "pending-install")], ["v2"]),
])
def test_before_a_create(cluster, items, removed):
    cluster["items"] = items
    assert reclaim_interrupted_install(None, INPUTS) == [f"sh.helm.release.v1.cert-manager.{v}" for v in removed]


@pytest.mark.parametrize("items, removed", [
    ([secret(1, "deployed")], []),
    ([secret(1, "superseded"), secret(2, "pending-upgrade")], ["v2"]),          # killed mid-upgrade
    ([secret(1, "superseded"), secret(2, "deployed"), secret(3, "pending-rollback")], ["v3"]),
    ([secret(1, "pending-upgrade"), secret(2, "deployed")], []),                # only the newest counts
])
def test_before_an_update(cluster, items, removed):
    cluster["items"] = items
    assert clear_interrupted_change(None, INPUTS) == [f"sh.helm.release.v1.cert-manager.{v}" for v in removed]
    assert cluster["deleted"] == [f"sh.helm.release.v1.cert-manager.{v}" for v in removed]
