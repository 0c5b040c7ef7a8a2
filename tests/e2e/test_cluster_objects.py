"""Kubernetes objects through the real engine and provider into the session's real API server: the server
validates what rendering never did, and Pulumi awaits workloads that KWOK's simulated pods make ready."""

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml
from pulumi import automation as auto

from components.platform import Platform, PlatformArgs
from tests.e2e.harness import inline_stack
from tests.kube import get_object

pytestmark = pytest.mark.e2e


def provider(cluster) -> k8s.Provider:
    return k8s.Provider("cluster", kubeconfig=str(cluster.kubeconfig))


def quiet(_line: str) -> None:
    pass


def test_the_api_server_rejects_an_invalid_object(tmp_path, kube_cluster, kube_namespace):
    def program():
        k8s.core.v1.ConfigMap("bad", metadata={"name": "Not_A_Valid_Name", "namespace": kube_namespace},
                              data={"k": "v"}, opts=pulumi.ResourceOptions(provider=provider(kube_cluster)))

    stack = inline_stack(tmp_path / "p", program)
    with pytest.raises(auto.CommandError) as info:
        stack.up(on_output=quiet)
    assert "Not_A_Valid_Name" in str(info.value)
    assert "RFC 1123" in str(info.value)  # the API server's validation message, not the provider's


def test_workloads_are_awaited_to_ready_on_simulated_pods(tmp_path, kube_cluster, kube_namespace):
    labels = {"app": "web"}
    container = {"name": "web", "image": "nginx:1.27.3"}  # never pulled: KWOK simulates the pod

    def program():
        opts = pulumi.ResourceOptions(provider=provider(kube_cluster))
        meta = {"namespace": kube_namespace}
        template = {"metadata": {"labels": labels}, "spec": {"containers": [container]}}
        k8s.apps.v1.Deployment("web", metadata={**meta, "name": "web"}, opts=opts, spec={
            "replicas": 2, "selector": {"matchLabels": labels}, "template": template})
        k8s.core.v1.Service("db", metadata={**meta, "name": "db"}, opts=opts, spec={
            "clusterIP": "None", "selector": {"app": "db"}, "ports": [{"port": 5432}]})
        k8s.apps.v1.StatefulSet("db", metadata={**meta, "name": "db"}, opts=opts, spec={
            "serviceName": "db", "replicas": 1, "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [container]}}})
        job_template = {"spec": {"restartPolicy": "Never", "containers": [container]}}
        k8s.batch.v1.Job("once", metadata={**meta, "name": "once"}, opts=opts,
                         spec={"backoffLimit": 0, "template": job_template})
        k8s.batch.v1.CronJob("nightly", metadata={**meta, "name": "nightly"}, opts=opts, spec={
            "schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": job_template}}})

    stack = inline_stack(tmp_path / "p", program)
    up = stack.up(on_output=quiet)
    assert up.summary.result == "succeeded"
    # Pulumi returned only after the workloads were ready; the server agrees.
    deployment = get_object(kube_cluster, "deployment", "web", "-n", kube_namespace)
    assert deployment["status"]["readyReplicas"] == 2
    assert get_object(kube_cluster, "statefulset", "db", "-n", kube_namespace)["status"]["readyReplicas"] == 1
    job = get_object(kube_cluster, "job", "once", "-n", kube_namespace)
    assert job["status"]["succeeded"] == 1
    pods = get_object(kube_cluster, "pods", "-n", kube_namespace, "-l", "app=web")["items"]
    assert [p["status"]["phase"] for p in pods] == ["Running", "Running"]
    assert {p["spec"]["nodeName"] for p in pods} <= {"kwok-node-0", "kwok-node-1", "kwok-node-2"}
    assert get_object(kube_cluster, "cronjob", "nightly", "-n", kube_namespace)["spec"]["schedule"] == "0 3 * * *"

    stack.destroy(on_output=quiet)
    assert get_object(kube_cluster, "deployment", "web", "-n", kube_namespace) is None


def test_platform_still_renders_yaml_to_a_directory_when_asked(tmp_path):
    out = tmp_path / "manifests"

    def program():
        Platform("platform", PlatformArgs(namespace="rendered", render_manifests_to=str(out)))

    stack = inline_stack(tmp_path / "p", program)
    assert stack.up(on_output=quiet).summary.result == "succeeded"
    docs = [d for f in sorted(out.rglob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [("Namespace", "rendered")]
