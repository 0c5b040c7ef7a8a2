"""The Monitoring component through the real engine into the session's real API server: prometheus-operator's
CRD schemas accept the PrometheusRule, AlertmanagerConfig and ServiceMonitors as we build them, the dashboard
ConfigMaps are stored with the sidecar's label, and a schema violation is refused by the server."""

import json

import pulumi
import pulumi_kubernetes as k8s
import pytest
from pulumi import automation as auto

from components.monitoring import NAME, Monitoring, MonitoringArgs, workload_scrape_targets
from monitoring import alerts, dashboards

# Runs once the local cluster's test fixtures (tests/kube.py, kube_cluster, inline_stack) are in the tree.
kube = pytest.importorskip("tests.kube", reason="the local cluster fixtures (tests/kube.py) are not in this tree")
from tests.e2e.harness import inline_stack  # noqa: E402

get_object = kube.get_object
pytestmark = pytest.mark.e2e


def quiet(_line: str) -> None:
    pass


def test_api_server_accepts_every_monitoring_object(tmp_path, kube_cluster, kube_namespace):
    def program():
        provider = k8s.Provider("cluster", kubeconfig=str(kube_cluster.kubeconfig))
        Monitoring("monitoring", MonitoringArgs(
            namespace=kube_namespace, namespace_name=kube_namespace, provider=provider,
            runbook_url="https://git.example/docs/runbook.md", slack_channel="#ops-urgent",
            scrape_targets=workload_scrape_targets()))

    stack = inline_stack(tmp_path / "p", program)
    assert stack.up(on_output=quiet).summary.result == "succeeded"

    rule = get_object(kube_cluster, "prometheusrules.monitoring.coreos.com", NAME, "-n", kube_namespace)
    assert rule["spec"]["groups"] == alerts.rule_groups(kube_namespace, "https://git.example/docs/runbook.md")
    routing = get_object(kube_cluster, "alertmanagerconfigs.monitoring.coreos.com", NAME, "-n", kube_namespace)
    assert {r["name"] for r in routing["spec"]["receivers"]} == {"on-call", "slack"}
    monitors = get_object(kube_cluster, "servicemonitors.monitoring.coreos.com", "-n", kube_namespace)
    assert sorted(m["metadata"]["name"] for m in monitors["items"]) == sorted(t.name for t in workload_scrape_targets())
    maps = get_object(kube_cluster, "configmaps", "-l", "grafana_dashboard=1", "-n", kube_namespace)
    titles = sorted(json.loads(next(iter(m["data"].values())))["title"] for m in maps["items"])
    assert titles == sorted(b.title for b in dashboards.DASHBOARDS)

    # A second up changes nothing: what the server stored is what we sent.
    assert stack.up(on_output=quiet, expect_no_changes=True).summary.result == "succeeded"
    stack.destroy(on_output=quiet)


def test_api_server_refuses_a_rule_that_breaks_the_crd_schema(tmp_path, kube_cluster, kube_namespace):
    """The CRDs really validate: a `for` that is not a Prometheus duration is refused by the server."""
    def program():
        provider = k8s.Provider("cluster", kubeconfig=str(kube_cluster.kubeconfig))
        k8s.apiextensions.CustomResource(
            "bad-rule", api_version="monitoring.coreos.com/v1", kind="PrometheusRule",
            metadata={"name": "bad-rule", "namespace": kube_namespace},
            spec={"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "vector(1)", "for": "five minutes"}]}]},
            opts=pulumi.ResourceOptions(provider=provider))

    stack = inline_stack(tmp_path / "p", program)
    with pytest.raises(auto.CommandError) as info:
        stack.up(on_output=quiet)
    assert "five minutes" in str(info.value) and "spec.groups[0].rules[0].for" in str(info.value)
