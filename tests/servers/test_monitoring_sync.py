"""What is deployed is what is monitored, on the real servers: the PrometheusRules and AlertmanagerConfigs
read back from the session's API server are what Prometheus evaluates and Alertmanager routes; a stand-in's
file_sd target is scraped with its labels; an alert forced to fire reaches the sink through the program's
severity routes with its runbook link, and resolves."""

from __future__ import annotations

import json


from components.monitoring import LOCAL_ALERT_TIMING, NAME, MonitoringArgs, alertmanager_config_spec
from localcluster.alert_sink import read_notifications
from localcluster.monitoring_sync import status_file
from monitoring import alerts
from tests.servers.conftest import apply, prometheus_api, query, rule_names, wait_for
from tests.servers.test_servers import cli

RUNBOOK = "https://git.example/tonsurance/docs/runbook.md"


def prometheus_rule(namespace: str, name: str, groups: list[dict]) -> dict:
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": {"name": name, "namespace": namespace}, "spec": {"groups": groups}}


def sync_status(servers) -> dict:
    return json.loads(status_file(servers.monitoring_dir).read_text())


def test_rules_are_the_prometheusrules_read_back_and_follow_their_changes(servers, kube_cluster):
    ns = servers.namespace
    apply(kube_cluster, ns, prometheus_rule(ns, NAME, alerts.rule_groups(ns, RUNBOOK)))
    expected = {g["name"]: [r["alert"] for r in g["rules"]] for g in alerts.rule_groups(ns, RUNBOOK)}
    wait_for(lambda: all(rule_names(servers).get(g) == r for g, r in expected.items()), "the table's rules")
    assert sync_status(servers)["rule_files"] == [f"{ns}-{NAME}.yaml"]
    # Prometheus evaluates the expressions as stored by the API server (scoped to the namespace).
    stored = {r["name"]: r["query"] for g in prometheus_api(servers, "rules")["groups"] for r in g["rules"]}
    assert f'namespace="{ns}"' in stored["OracleUpdateStale"]

    # A change to the object (as `pulumi up` makes it) reaches Prometheus without a restart.
    fewer = alerts.rule_groups(ns, RUNBOOK, alerts=alerts.ALERTS[:2])
    apply(kube_cluster, ns, prometheus_rule(ns, NAME, fewer))
    wait_for(lambda: rule_names(servers).get("tonsurance-critical") == [a.name for a in alerts.ALERTS[:2]]
             and "tonsurance-high" not in rule_names(servers), "the changed rules")

    kube_cluster.kubectl("delete", "prometheusrule", NAME, "-n", ns)
    wait_for(lambda: "tonsurance-critical" not in rule_names(servers), "the deleted rules gone")
    assert sync_status(servers)["rule_files"] == []


def test_a_rule_promtool_refuses_keeps_the_last_good_rules_and_is_reported(servers, kube_cluster):
    ns = servers.namespace
    good = [{"name": "guarded", "rules": [{"alert": "Guarded", "expr": "vector(1) > 2", "for": "1m"}]}]
    apply(kube_cluster, ns, prometheus_rule(ns, "guarded", good))
    wait_for(lambda: rule_names(servers).get("guarded") == ["Guarded"], "the good rule")
    broken = [{"name": "guarded", "rules": [{"alert": "Guarded", "expr": "sum(vector(1)", "for": "1m"}]}]
    apply(kube_cluster, ns, prometheus_rule(ns, "guarded", broken))  # the CRD schema does not parse PromQL
    errors = wait_for(lambda: [e for e in sync_status(servers)["errors"] if f"PrometheusRule {ns}/guarded" in e],
                      "the refusal in the sync status")
    assert "refused by promtool" in errors[0] and "kept the last good rules" in errors[0]
    assert rule_names(servers).get("guarded") == ["Guarded"]
    kube_cluster.kubectl("delete", "prometheusrule", "guarded", "-n", ns)
    wait_for(lambda: "guarded" not in rule_names(servers) and not sync_status(servers)["errors"], "a clean sync")


def test_a_standin_file_sd_target_is_scraped_with_its_labels(servers, metrics_target):
    """The interface with the stand-in controller (docs/monitoring-local.md): a file in .state/standins."""
    target = metrics_target("/custom-metrics")
    target.samples["tonsurance_probe"] = 7
    labels = {"namespace": servers.namespace, "service": "api-v2", "pod": "api-v2-7bd9x4qk5m-abcde",
              "job": "api-v2", "endpoint": "metrics", "rollouts_pod_template_hash": "7bd9x4qk5m",
              "__metrics_path__": "/custom-metrics"}
    file = servers.standins_dir / "probe.json"
    file.write_text(json.dumps([{"targets": [target.address], "labels": labels}]))
    try:
        (sample,) = wait_for(lambda: query(servers, f'tonsurance_probe{{pod="{labels["pod"]}"}}'), "the probe's sample")
        assert {k: v for k, v in sample["metric"].items() if k != "__name__"} == {
            **{k: v for k, v in labels.items() if not k.startswith("__")}, "instance": target.address}
        assert sample["value"][1] == "7"
        (up,) = query(servers, 'up{job="api-v2"}')
        assert up["value"][1] == "1"
    finally:
        file.unlink()
    wait_for(lambda: not query(servers, 'up{job="api-v2"}'), "the target gone with its file")


def _test_alert(name: str, severity: str) -> alerts.Alert:
    return alerts.Alert(name, "max by (job, pod) (tonsurance_drill_condition) > 0", "0s", severity,
                        f"{name} summary", f"{name} description", cases=())


def test_an_alert_reaches_the_sink_through_the_programs_routes_and_resolves(servers, kube_cluster, metrics_target):
    ns = servers.namespace
    args = MonitoringArgs(namespace=ns, namespace_name=ns, provider=None, runbook_url=RUNBOOK,
                          slack_channel="#ops-urgent", alert_timing=LOCAL_ALERT_TIMING)
    apply(kube_cluster, ns, {"apiVersion": "monitoring.coreos.com/v1alpha1", "kind": "AlertmanagerConfig",
                             "metadata": {"name": NAME, "namespace": ns}, "spec": alertmanager_config_spec(args)})
    page, chat = _test_alert("DrillPage", "critical"), _test_alert("DrillChat", "high")
    # The table's rendering, evaluated every 5 s instead of every minute so the test takes seconds.
    groups = [replace_interval(g) for g in alerts.rule_groups(ns, RUNBOOK, alerts=(page, chat))]
    apply(kube_cluster, ns, prometheus_rule(ns, "drill", groups))
    target = metrics_target()
    target.samples["tonsurance_drill_condition"] = 1
    (servers.standins_dir / "drill.json").write_text(json.dumps([{"targets": [target.address], "labels": {
        "namespace": ns, "service": "ocaml-backend", "pod": "ocaml-backend-0", "job": "ocaml-backend"}}]))
    sink = servers.alerts_file
    seen = len(read_notifications(sink))

    def delivered(status: str) -> dict[str, set[str]]:
        """alertname -> receivers that were told it has `status`."""
        got: dict[str, set[str]] = {}
        for record in read_notifications(sink)[seen:]:
            for alert in record["notification"]["alerts"]:
                if alert["status"] == status and alert["labels"]["alertname"] in (page.name, chat.name):
                    got.setdefault(alert["labels"]["alertname"], set()).add(record["notification"]["receiver"])
        return got

    routed = {page.name: {f"{ns}/{NAME}/on-call", f"{ns}/{NAME}/slack"}, chat.name: {f"{ns}/{NAME}/slack"}}
    try:
        wait_for(lambda: delivered("firing") == routed, "both alerts firing at their receivers", timeout=180)
        firing = next(a for r in read_notifications(sink)[seen:] for a in r["notification"]["alerts"]
                      if a["labels"]["alertname"] == page.name)
        assert firing["labels"] == {"alertname": page.name, "severity": "critical", "namespace": ns,
                                    "job": "ocaml-backend", "pod": "ocaml-backend-0"}
        assert firing["annotations"] == {"summary": page.summary, "description": page.description,
                                         "runbook_url": f"{RUNBOOK}#drillpage"}

        target.samples["tonsurance_drill_condition"] = 0
        wait_for(lambda: delivered("resolved") == routed, "both alerts resolved at their receivers", timeout=180)

        # What a person sees: one line per alert of each notification, with its route and runbook.
        printed = cli(servers, "alerts").stdout.splitlines()
        assert any("RESOLVED" in line and "critical" in line and f"-> {ns}/{NAME}/on-call" in line
                   and f"runbook: {RUNBOOK}#drillpage" in line for line in printed), printed
    finally:
        (servers.standins_dir / "drill.json").unlink()
        kube_cluster.kubectl("delete", "prometheusrule", "drill", "-n", ns)
        kube_cluster.kubectl("delete", "alertmanagerconfig", NAME, "-n", ns)


def replace_interval(group: dict) -> dict:
    return {**group, "interval": "5s"}
