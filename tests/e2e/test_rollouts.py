"""The Argo Rollouts controller (built from its module, run by scripts/cluster) against the session cluster:
a Rollout with two canary steps reaches Healthy on KWOK's simulated pods, and an update steps through the
canary again; custom resources that break their CRD's schema are refused by the API server."""

import json
import time

import pulumi
import pulumi_kubernetes as k8s
import pytest
from pulumi import automation as auto

from tests.e2e.harness import inline_stack
from tests.kube import get_object

pytestmark = pytest.mark.e2e


def rollout(namespace: str, image: str) -> dict:
    labels = {"app": "web"}
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels},
                         "spec": {"containers": [{"name": "web", "image": image}]}},
            "strategy": {"canary": {"steps": [{"setWeight": 25}, {"pause": {"duration": "1s"}},
                                              {"setWeight": 50}, {"pause": {"duration": "1s"}}]}},
        },
    }


def wait_for(cluster, namespace: str, done, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        obj = get_object(cluster, "rollout.argoproj.io", "web", "-n", namespace)
        if obj and done(obj.get("status", {})):
            return obj
        if time.monotonic() > deadline:
            raise AssertionError(f"rollout not done after {timeout}s: {json.dumps(obj.get('status'), indent=1)}")
        time.sleep(0.5)


def healthy(status: dict) -> bool:
    return status.get("phase") == "Healthy" and status.get("stableRS") == status.get("currentPodHash")


def test_a_rollout_with_two_canary_steps_goes_healthy_and_steps_through_an_update(kube_cluster, kube_namespace):
    kube_cluster.kubectl("apply", "-f", "-", input=json.dumps(rollout(kube_namespace, "nginx:1.27.3")))
    first = wait_for(kube_cluster, kube_namespace, healthy)
    assert first["status"]["readyReplicas"] == 4
    first_hash = first["status"]["stableRS"]

    kube_cluster.kubectl("apply", "-f", "-", input=json.dumps(rollout(kube_namespace, "nginx:1.27.4")))
    seen_steps = set()

    def updated(status: dict) -> bool:
        seen_steps.add(status.get("currentStepIndex"))
        return healthy(status) and status["stableRS"] != first_hash

    done = wait_for(kube_cluster, kube_namespace, updated)
    assert done["status"]["currentStepIndex"] == 4  # all four steps (two weights, two pauses) completed
    assert done["status"]["updatedReplicas"] == 4 and done["status"]["availableReplicas"] == 4
    # The controller really scaled ReplicaSets: the new one holds every pod, the old one none.
    sets = get_object(kube_cluster, "replicasets", "-n", kube_namespace)["items"]
    replicas = {rs["metadata"]["labels"]["rollouts-pod-template-hash"]: rs["status"].get("readyReplicas", 0)
                for rs in sets}
    assert replicas[done["status"]["stableRS"]] == 4 and replicas[first_hash] == 0
    assert seen_steps & {0, 1, 2, 3}, seen_steps  # observed mid-canary, not only the end state


@pytest.mark.parametrize("api_version, kind, spec, error", [
    ("argoproj.io/v1alpha1", "Rollout", {"replicas": "four", "selector": {}}, "spec.replicas"),
    ("monitoring.coreos.com/v1", "PrometheusRule", {"groups": [{"rules": [{"expr": "up == 0"}]}]},
     'omits all key fields ["name"]'),  # groups is a list map keyed by name
    ("external-secrets.io/v1", "ExternalSecret", {"refreshInterval": 5}, "spec.refreshInterval"),
])
def test_custom_resources_breaking_their_crd_schema_fail_the_deployment(
        tmp_path, kube_cluster, kube_namespace, api_version, kind, spec, error):
    def program():
        k8s.apiextensions.CustomResource(
            "bad", api_version=api_version, kind=kind, spec=spec,
            metadata={"name": "bad", "namespace": kube_namespace},
            opts=pulumi.ResourceOptions(provider=k8s.Provider("cluster", kubeconfig=str(kube_cluster.kubeconfig))))

    stack = inline_stack(tmp_path / "p", program)
    with pytest.raises(auto.CommandError) as info:
        stack.up(on_output=lambda _line: None)
    assert error in str(info.value)
