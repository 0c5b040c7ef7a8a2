"""Monitoring and PlatformCharts under Pulumi's mocks: what each stack registers, with which values.
(The API server's CRD schemas judge the same objects in tests/e2e once the local cluster exists.)"""

from __future__ import annotations

import json
import re

import pulumi
import pytest

from components.monitoring import (DASHBOARD_LABEL, Monitoring, MonitoringArgs, ScrapeTarget, SecretKey,
                                   alertmanager_config_spec)
from components.platform_charts import CHARTS, KUBE_PROMETHEUS_STACK, PlatformCharts, PlatformChartsArgs
from config import PLATFORM_CHARTS
from monitoring import alerts, dashboards
from resource_types import HELM_RELEASE as RELEASE, K8S_CONFIG_MAP as CONFIG_MAP
from tests.support import Recorder, parse, raw_config

CUSTOM = "kubernetes:monitoring.coreos.com/{}:{}"


def provider():
    import pulumi_kubernetes as k8s
    return k8s.Provider("k8s")


def monitoring_args(**extra) -> MonitoringArgs:
    return MonitoringArgs(namespace="tonsurance-testnet", namespace_name="tonsurance-testnet", provider=provider(),
                          runbook_url="https://git.example/docs/runbook.md", slack_channel="#ops-urgent", **extra)


def settle(*resources: pulumi.Resource) -> pulumi.Output:
    """Resolves once the mocks registered `resources`."""
    return pulumi.Output.all(*[r.urn for r in resources])


@pulumi.runtime.test
def test_prometheus_rule_holds_every_alert(mocks):
    component = Monitoring("monitoring", monitoring_args())

    def check(_):
        (rule,) = mocks.of_type(CUSTOM.format("v1", "PrometheusRule"))
        assert rule.inputs["metadata"]["namespace"] == "tonsurance-testnet"
        groups = rule.inputs["spec"]["groups"]
        assert groups == alerts.rule_groups("tonsurance-testnet", "https://git.example/docs/runbook.md")
        assert sorted(r["alert"] for g in groups for r in g["rules"]) == sorted(a.name for a in alerts.ALERTS)
    return settle(*component.children()).apply(check)


def test_routing_pages_on_call_for_critical_and_posts_everything_to_slack():
    spec = alertmanager_config_spec(MonitoringArgs(namespace="ns", namespace_name="ns", provider=None,
                                                   runbook_url="r", slack_channel="#ops-urgent"))
    route = spec["route"]
    assert route["receiver"] == "slack"
    critical, catch_all = route["routes"]
    assert critical["matchers"] == [{"name": "severity", "value": "critical"}]  # no matchType: equality
    assert critical["receiver"] == "on-call" and critical["continue"] is True  # then on to Slack as well
    assert catch_all == {"receiver": "slack"}  # no matcher: every alert
    receivers = {r["name"]: r for r in spec["receivers"]}
    assert receivers["on-call"]["pagerdutyConfigs"][0]["routingKey"] == {"name": "pagerduty-routing-key", "key": "value"}
    slack = receivers["slack"]["slackConfigs"][0]
    assert slack["apiURL"] == {"name": "slack-webhook-url", "key": "value"} and slack["channel"] == "#ops-urgent"
    # Every severity the alerts use reaches Slack; critical ones reach the on-call too.
    assert {a.severity for a in alerts.ALERTS} == {"critical", "high"}


@pulumi.runtime.test
def test_alertmanager_config_names_secrets_but_never_holds_a_value(mocks):
    component = Monitoring("monitoring", monitoring_args(slack_webhook=SecretKey("my-slack", "url")))

    def check(_):
        (config,) = mocks.of_type(CUSTOM.format("v1alpha1", "AlertmanagerConfig"))
        assert config.inputs["metadata"]["labels"]["app.kubernetes.io/part-of"] == "tonsurance"
        rendered = json.dumps({name: r.inputs for name, r in mocks.resources.items()})
        assert not re.search(r"https://hooks\.slack\.com|events\.pagerduty\.com", rendered)
        slack = config.inputs["spec"]["receivers"][1]["slackConfigs"][0]
        assert slack["apiURL"] == {"name": "my-slack", "key": "url"}
        assert not mocks.of_type("kubernetes:core/v1:Secret")  # the program makes no Secret with a value
    return settle(*component.children()).apply(check)


@pulumi.runtime.test
def test_dashboards_ship_as_config_maps_for_the_grafana_sidecar(mocks):
    component = Monitoring("monitoring", monitoring_args())

    def check(_):
        maps = {r.inputs["metadata"]["name"]: r.inputs for r in mocks.of_type(CONFIG_MAP)}
        assert sorted(maps) == sorted(f"tonsurance-dashboard-{b.slug}" for b in dashboards.DASHBOARDS)
        for board in dashboards.DASHBOARDS:
            cm = maps[f"tonsurance-dashboard-{board.slug}"]
            assert DASHBOARD_LABEL.items() <= cm["metadata"]["labels"].items()
            (document,) = cm["data"].values()
            assert json.loads(document)["title"] == board.title
    return settle(*component.children()).apply(check)


@pulumi.runtime.test
def test_one_service_monitor_per_scrape_target(mocks):
    targets = (ScrapeTarget("api-v2", {"app.kubernetes.io/name": "api-v2"}),
               ScrapeTarget("pricing-keeper", {"app.kubernetes.io/name": "pricing-keeper"}, port="prom"))
    component = Monitoring("monitoring", monitoring_args(scrape_targets=targets))

    def check(_):
        monitors = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in mocks.of_type(CUSTOM.format("v1", "ServiceMonitor"))}
        # podTargetLabels: the canary pods' hash becomes the series label rollouts_pod_template_hash.
        assert monitors == {
            "api-v2": {"selector": {"matchLabels": {"app.kubernetes.io/name": "api-v2"}},
                       "podTargetLabels": ["rollouts-pod-template-hash"],
                       "endpoints": [{"port": "metrics", "path": "/metrics", "interval": "30s"}]},
            "pricing-keeper": {"selector": {"matchLabels": {"app.kubernetes.io/name": "pricing-keeper"}},
                               "podTargetLabels": ["rollouts-pod-template-hash"],
                               "endpoints": [{"port": "prom", "path": "/metrics", "interval": "30s"}]},
        }
    return settle(*component.children()).apply(check)


# --- platform charts ---

def charts_for(network: str, **platform) -> tuple[PlatformCharts, Recorder]:
    raw = raw_config(network, **({"platform": json.dumps(platform)} if platform else {}))
    recorder = Recorder()
    component = PlatformCharts("platform", PlatformChartsArgs(provider=provider(), install=parse(raw).platform.charts),
                               pulumi.ResourceOptions(transformations=[recorder]))
    return component, recorder


def test_chart_table_matches_the_config_keys_and_pins_exact_versions():
    assert [c.key for c in CHARTS] == list(PLATFORM_CHARTS)
    for chart in CHARTS:
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", chart.version), chart
        assert chart.repo.startswith("https://")


@pulumi.runtime.test
def test_local_stack_installs_no_chart(mocks):
    component, _ = charts_for("localnet")
    assert component.releases == {}
    assert not mocks.of_type(RELEASE)


@pulumi.runtime.test
def test_mainnet_installs_every_chart_pinned_with_its_values(mocks):
    component, recorder = charts_for("mainnet")
    assert set(component.releases) == set(PLATFORM_CHARTS)

    def check(_):
        releases = {r.inputs["chart"]: r for r in mocks.of_type(RELEASE)}
        assert len(releases) == len(CHARTS)
        for chart in CHARTS:
            inputs = releases[chart.chart].inputs
            assert inputs["version"] == chart.version
            assert inputs["repositoryOpts"] == {"repo": chart.repo}
            assert inputs["namespace"] == chart.namespace and inputs["createNamespace"] is True
            assert inputs["values"] == json.loads(json.dumps(chart.values))
            assert inputs["atomic"] is True
        kps = releases["kube-prometheus-stack"].inputs["values"]
        assert kps["alertmanager"]["alertmanagerSpec"]["alertmanagerConfigSelector"] == {
            "matchLabels": {"app.kubernetes.io/part-of": "tonsurance"}}
        sidecar = kps["grafana"]["sidecar"]["dashboards"]
        assert {sidecar["label"]: sidecar["labelValue"]} == DASHBOARD_LABEL and sidecar["searchNamespace"] == "ALL"
        assert "adminPassword" not in kps["grafana"]  # from the grafana-admin Secret
        # Charts that create ServiceMonitors wait for the operator's CRDs.
        operator = component.releases[KUBE_PROMETHEUS_STACK]
        for chart in CHARTS:
            deps = recorder.options[f"platform-{chart.chart}"].depends_on or []
            assert (operator in deps) == (chart.key != KUBE_PROMETHEUS_STACK), chart.key
    return settle(*component.releases.values()).apply(check)


@pulumi.runtime.test
def test_operator_brings_their_own_prometheus(mocks):
    component, recorder = charts_for("testnet", kubePrometheusStack=False, ingressNginx=False)
    assert set(component.releases) == {"argoRollouts", "externalSecrets", "certManager"}
    for key in component.releases:
        chart = next(c for c in CHARTS if c.key == key)
        assert not recorder.options[f"platform-{chart.chart}"].depends_on

    def check(_):
        assert sorted(r.inputs["chart"] for r in mocks.of_type(RELEASE)) == ["argo-rollouts", "cert-manager",
                                                                             "external-secrets"]
    return settle(*component.releases.values()).apply(check)


def test_install_flags_must_match_the_table(mocks):
    with pytest.raises(ValueError, match="do not match the chart table"):
        PlatformCharts("p", PlatformChartsArgs(provider=None, install={"kubePrometheusStack": True}))


@pulumi.runtime.test
def test_resources_under_a_component_wait_for_the_charts(mocks):
    charts, _ = charts_for("mainnet")
    recorder = Recorder()
    component = Monitoring("monitoring", monitoring_args(), pulumi.ResourceOptions(
        transformations=[charts.installed_first(), recorder]))
    releases = set(charts.releases.values())
    for name in ("monitoring-rules", "monitoring-routing", "monitoring-dashboard-oracle"):
        assert releases <= set(recorder.options[name].depends_on), name
    return settle(*component.children())


@pulumi.runtime.test
def test_without_charts_nothing_waits(mocks):
    charts, _ = charts_for("localnet")
    recorder = Recorder()
    component = Monitoring("monitoring", monitoring_args(), pulumi.ResourceOptions(
        transformations=[charts.installed_first(), recorder]))
    assert not recorder.options["monitoring-rules"].depends_on
    return settle(*component.children())


def test_every_workload_of_the_catalog_is_scraped_on_its_metrics_port():
    from components.monitoring import workload_scrape_targets
    from components.services.catalog import METRICS_PORT_NAME, SERVICES, selector_labels

    targets = {t.name: t for t in workload_scrape_targets()}
    assert sorted(targets) == sorted(s.name for s in SERVICES)
    for service in SERVICES:
        assert targets[service.name].selector == selector_labels(service.name)
        assert targets[service.name].port == METRICS_PORT_NAME


def test_jobs_named_by_alerts_and_dashboards_are_workloads_of_the_catalog():
    from components.services.catalog import SERVICES_BY_NAME

    queries = [a.expr for a in alerts.ALERTS] + [p.expr for b in dashboards.DASHBOARDS for p in b.panels]
    jobs = {job for q in queries for job in re.findall(r'\bjob="([^"]+)"', q)}
    assert jobs and jobs <= set(SERVICES_BY_NAME), jobs - set(SERVICES_BY_NAME)
    assert alerts.CLAIMS_PROCESSOR_JOB in SERVICES_BY_NAME


@pytest.mark.parametrize("redis_in_cluster", [True, False])
def test_secrets_named_by_the_routing_are_made_by_the_services_external_secrets(redis_in_cluster):
    from components.services.catalog import secret_names

    defaults = MonitoringArgs(namespace="ns", namespace_name="ns", provider=None, runbook_url="r", slack_channel="#a")
    assert {defaults.slack_webhook.name, defaults.pagerduty_routing_key.name} <= set(secret_names(redis_in_cluster))
