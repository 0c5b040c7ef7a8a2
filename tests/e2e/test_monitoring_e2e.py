"""The monitoring objects through the real Pulumi engine on a copy of the local stack: what `up` renders is
what promtool and Grafana accept, and no secret value reaches the manifests or the state."""

import json

import pytest

from monitoring import alerts, dashboards
from tests.monitoring.conftest import promtool, write_yaml  # noqa: F401 (promtool is a fixture)

pytestmark = pytest.mark.e2e


def test_local_up_renders_rules_routing_and_dashboards(local_stack, promtool, tmp_path):
    local_stack.set_config("tonsurance:monitoring", json.dumps({"slackChannel": "#tonsurance-local"}))
    # Rendered to a directory (the GitOps option) so promtool reads exactly what the program produces;
    # the cluster's acceptance of the same objects is test_monitoring_cluster.py's.
    local_stack.stack.remove_config("tonsurance:kubeconfig")
    local_stack.set_config("tonsurance:renderManifestsTo", ".state/manifests/local")
    up = local_stack.stack.up(on_output=lambda _line: None)
    assert up.summary.result == "succeeded"
    objects = local_stack.rendered_objects()
    by_kind: dict[str, list[dict]] = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], []).append(obj)

    (rule,) = by_kind["PrometheusRule"]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["namespace"] == local_stack.namespace
    # The rendered rule groups pass promtool's checks and carry every alert of the table.
    rules_file = write_yaml(tmp_path / "rules.yaml", {"groups": rule["spec"]["groups"]})
    check = promtool("check", "rules", rules_file)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"SUCCESS: {len(alerts.ALERTS)} rules found" in check.stdout

    (routing,) = by_kind["AlertmanagerConfig"]
    receivers = {r["name"]: r for r in routing["spec"]["receivers"]}
    assert receivers["slack"]["slackConfigs"][0]["channel"] == "#tonsurance-local"
    assert receivers["slack"]["slackConfigs"][0]["apiURL"] == {"name": "slack-webhook-url", "key": "value"}

    boards = {cm["metadata"]["name"]: cm for cm in by_kind["ConfigMap"] if cm["metadata"]["name"].startswith("tonsurance-dashboard-")}
    assert len(boards) == len(dashboards.DASHBOARDS) == 6
    for cm in boards.values():
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        (document,) = cm["data"].values()
        assert json.loads(document)["uid"].startswith(f"{local_stack.namespace}-")

    # The local stack installs no platform chart.
    assert not [o for o in local_stack.stack.export_stack().deployment["resources"]
                if o["type"] == "kubernetes:helm.sh/v3:Release"]
    # Alertmanager reads the webhook and routing key from Secrets: the manifests only name them.
    assert receivers["on-call"]["pagerdutyConfigs"][0]["routingKey"] == {"name": "pagerduty-routing-key", "key": "value"}
