"""Monitoring of a stack as Kubernetes objects for prometheus-operator and Grafana:

- PrometheusRule `tonsurance-alerts`: every alert of monitoring/alerts.py;
- AlertmanagerConfig `tonsurance-alerts`: critical alerts to the on-call receiver (PagerDuty), every alert
  to Slack. The Slack webhook URL and the PagerDuty routing key are read by Alertmanager from the Secrets
  `slack-webhook-url` and `pagerduty-routing-key` in the stack's namespace, which the services' ExternalSecrets
  fill from AWS Secrets Manager (components/services/secrets.py): the program only names them, so the values
  never reach Pulumi's state or the rendered manifests;
- one ConfigMap per dashboard of monitoring/dashboards.py, labelled for Grafana's dashboard sidecar;
- one ServiceMonitor per workload given in `scrape_targets`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.services.catalog import (METRICS_PATH, METRICS_PORT_NAME, PAGERDUTY_ROUTING_KEY, SERVICES, SLACK_WEBHOOK,
                                         selector_labels)
from monitoring import alerts, dashboards

NAME = "tonsurance-alerts"
PART_OF = {"app.kubernetes.io/part-of": "tonsurance"}
# kube-prometheus-stack's Grafana sidecar loads ConfigMaps carrying this label (its default).
DASHBOARD_LABEL = {"grafana_dashboard": "1"}
DASHBOARD_FOLDER_ANNOTATION = "grafana_folder"


@dataclass(frozen=True)
class SecretKey:
    """A key of a Kubernetes Secret in the stack's namespace."""

    name: str
    key: str = "value"


@dataclass(frozen=True)
class ScrapeTarget:
    """A workload's Service to scrape: selected by `selector`, on the port named `port`."""

    name: str
    selector: dict[str, str]
    port: str = "metrics"
    path: str = "/metrics"


@dataclass(frozen=True)
class AlertTiming:
    """How Alertmanager batches and repeats the stack's notifications (the AlertmanagerConfig's route)."""

    group_wait: str = "30s"  # before the first notification of a new group
    group_interval: str = "5m"  # before telling about changes to a group (new alerts, resolved ones)
    repeat_interval: str = "4h"  # before repeating an unchanged notification
    page_repeat_interval: str = "1h"  # critical alerts re-page the on-call sooner


# The local stack's alerts are drilled end to end against its own Alertmanager: notifications within
# seconds, resolved ones too.
LOCAL_ALERT_TIMING = AlertTiming(group_wait="5s", group_interval="10s", repeat_interval="1h", page_repeat_interval="1h")
# prometheus-operator copies these pod labels onto the scraped series (as rollouts_pod_template_hash): the
# canary gates select the canary's pods by the hash Argo Rollouts puts on them.
POD_TARGET_LABELS = ("rollouts-pod-template-hash",)


@dataclass(frozen=True)
class MonitoringArgs:
    namespace: pulumi.Input[str]
    namespace_name: str  # the same namespace as plain text: alert labels and dashboard queries carry it
    provider: k8s.Provider
    runbook_url: str  # docs/runbook.md as operators open it; each alert links to <runbook_url>#<alert>
    slack_channel: str
    slack_webhook: SecretKey = SecretKey(SLACK_WEBHOOK.name)  # the keepers read the same Secret
    pagerduty_routing_key: SecretKey = SecretKey(PAGERDUTY_ROUTING_KEY.name)
    scrape_targets: tuple[ScrapeTarget, ...] = ()
    scrape_interval: str = "30s"
    alert_timing: AlertTiming = AlertTiming()
    rule_timing: alerts.RuleTiming = alerts.RuleTiming()  # the local stack: alerts.LOCAL_RULE_TIMING
    labels: dict[str, str] = field(default_factory=dict)


def workload_scrape_targets() -> tuple[ScrapeTarget, ...]:
    """One target per workload of the service catalog: its Service, on its metrics port. prometheus-operator
    names the job after the Service, which the alerts' `job` matchers rely on."""
    return tuple(ScrapeTarget(s.name, selector_labels(s.name), METRICS_PORT_NAME, METRICS_PATH) for s in SERVICES)


def alertmanager_config_spec(args: MonitoringArgs) -> dict:
    """Critical alerts page the on-call and continue to Slack; everything else goes to Slack only."""
    slack = {
        "apiURL": {"name": args.slack_webhook.name, "key": args.slack_webhook.key},
        "channel": args.slack_channel,
        "sendResolved": True,
        "title": '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.severity }})',
        "text": "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ .Annotations.description }}\n"
                "Runbook: {{ .Annotations.runbook_url }}\n{{ end }}",
    }
    pagerduty = {
        "routingKey": {"name": args.pagerduty_routing_key.name, "key": args.pagerduty_routing_key.key},
        "severity": "critical",
        "description": "{{ .CommonAnnotations.summary }}",
        "sendResolved": True,
    }
    return {
        "route": {
            "receiver": "slack",
            "groupBy": ["alertname", "job"],
            "groupWait": args.alert_timing.group_wait,
            "groupInterval": args.alert_timing.group_interval,
            "repeatInterval": args.alert_timing.repeat_interval,
            "routes": [
                {"receiver": "on-call", "matchers": [{"name": "severity", "value": "critical"}],  # equality
                 "continue": True, "repeatInterval": args.alert_timing.page_repeat_interval},
                {"receiver": "slack"},
            ],
        },
        "receivers": [
            {"name": "on-call", "pagerdutyConfigs": [pagerduty]},
            {"name": "slack", "slackConfigs": [slack]},
        ],
    }


def service_monitor_spec(target: ScrapeTarget, interval: str) -> dict:
    return {
        "selector": {"matchLabels": target.selector},
        "podTargetLabels": list(POD_TARGET_LABELS),
        "endpoints": [{"port": target.port, "path": target.path, "interval": interval}],
    }


class Monitoring(pulumi.ComponentResource):
    rule: k8s.apiextensions.CustomResource
    routing: k8s.apiextensions.CustomResource
    service_monitors: dict[str, k8s.apiextensions.CustomResource]
    dashboards: dict[str, k8s.core.v1.ConfigMap]

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("tonsurance:monitoring:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        labels = {**PART_OF, **args.labels}

        def metadata(object_name: str, **extra) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=object_name, namespace=args.namespace,
                                              labels={**labels, **extra.pop("labels", {})}, **extra)

        self.rule = k8s.apiextensions.CustomResource(
            f"{name}-rules", api_version="monitoring.coreos.com/v1", kind="PrometheusRule",
            metadata=metadata(NAME),
            spec={"groups": alerts.rule_groups(args.namespace_name, args.runbook_url, timing=args.rule_timing)}, opts=child)
        self.routing = k8s.apiextensions.CustomResource(
            f"{name}-routing", api_version="monitoring.coreos.com/v1alpha1", kind="AlertmanagerConfig",
            metadata=metadata(NAME), spec=alertmanager_config_spec(args), opts=child)
        self.service_monitors = {}
        for target in args.scrape_targets:
            self.service_monitors[target.name] = k8s.apiextensions.CustomResource(
                f"{name}-scrape-{target.name}", api_version="monitoring.coreos.com/v1", kind="ServiceMonitor",
                metadata=metadata(target.name), spec=service_monitor_spec(target, args.scrape_interval), opts=child)
        self.dashboards = {}
        for board in dashboards.DASHBOARDS:
            self.dashboards[board.slug] = k8s.core.v1.ConfigMap(
                f"{name}-dashboard-{board.slug}",
                metadata=metadata(f"tonsurance-dashboard-{board.slug}", labels=DASHBOARD_LABEL,
                                  annotations={DASHBOARD_FOLDER_ANNOTATION: "Tonsurance"}),
                data={f"{board.slug}.json": dashboards.dashboard_json(board, args.namespace_name)}, opts=child)
        self.register_outputs({"dashboards": {slug: cm.metadata.name for slug, cm in self.dashboards.items()}})

    def children(self) -> list[pulumi.Resource]:
        return [self.rule, self.routing, *self.service_monitors.values(), *self.dashboards.values()]
