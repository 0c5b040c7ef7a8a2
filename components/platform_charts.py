"""The cluster-wide charts the program relies on, for real clusters: one `helm.v3.Release` per row of
CHARTS, pinned chart version and values, each installed only where `tonsurance:platform.<key>` is true
(public networks install all by default; many operators bring their own and switch them off).

The local cluster never installs these: chart repositories are not reachable from our machines, and its
CRDs and controllers come from the local cluster scripts. Tests check the releases under Pulumi mocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import pulumi
import pulumi_kubernetes as k8s

from components.helm_recovery import release_hooks
from components.monitoring import DASHBOARD_FOLDER_ANNOTATION, DASHBOARD_LABEL, PART_OF
from components.services.catalog import GRAFANA_ADMIN
from components.services.secrets import GRAFANA_PASSWORD_KEY, GRAFANA_USER_KEY

KUBE_PROMETHEUS_STACK = "kubePrometheusStack"
INGRESS_NGINX = "ingressNginx"


def ingress_controller_config(load_balancer_cidrs: tuple[str, ...]) -> dict[str, str]:
    """The nginx controller's ConfigMap keys that decide whose X-Forwarded-For it believes.

    Believed from nobody, the client's address is the TCP peer (the default). Behind a proxying load balancer,
    only from its ranges: `proxy-real-ip-cidr` becomes nginx's `set_real_ip_from`, and with `real_ip_recursive`
    (always on in the controller's template) nginx walks the header from the right and stops at the first address
    outside those ranges, so what a client writes into the header itself is never taken as its address.
    """
    if not load_balancer_cidrs:
        return {"use-forwarded-headers": "false", "compute-full-forwarded-for": "false", "use-proxy-protocol": "false"}
    return {"use-forwarded-headers": "true", "compute-full-forwarded-for": "false", "use-proxy-protocol": "false",
            "forwarded-for-header": "X-Forwarded-For", "proxy-real-ip-cidr": ",".join(load_balancer_cidrs)}


@dataclass(frozen=True)
class Chart:
    key: str  # tonsurance:platform.<key>
    chart: str
    version: str  # exact chart version: never a range
    repo: str
    namespace: str
    values: Mapping[str, Any]


_SERVICE_MONITOR = {"enabled": True}

CHARTS: tuple[Chart, ...] = (
    Chart(KUBE_PROMETHEUS_STACK, "kube-prometheus-stack", "88.1.0",
          "https://prometheus-community.github.io/helm-charts", "monitoring", {
              "prometheus": {"prometheusSpec": {
                  # Select our PrometheusRules and ServiceMonitors in every namespace, not only the chart's own.
                  "ruleSelectorNilUsesHelmValues": False,
                  "serviceMonitorSelectorNilUsesHelmValues": False,
                  "podMonitorSelectorNilUsesHelmValues": False,
                  "retention": "15d",
              }},
              # The backup alerts read the CronJob's and its Jobs' series (monitoring/alerts.py): the chart's
              # kube-state-metrics, scraped keeping each object's own namespace label. Both are the chart's defaults,
              # stated so that no later values change drops them silently.
              "kubeStateMetrics": {"enabled": True},
              "kube-state-metrics": {"prometheus": {"monitor": {"enabled": True, "honorLabels": True}}},
              "alertmanager": {"alertmanagerSpec": {
                  "alertmanagerConfigSelector": {"matchLabels": PART_OF},
                  "alertmanagerConfigNamespaceSelector": {},
              }},
              "grafana": {
                  # The admin password comes from a Secret (ExternalSecret), never the chart's default.
                  "admin": {"existingSecret": GRAFANA_ADMIN, "userKey": GRAFANA_USER_KEY, "passwordKey": GRAFANA_PASSWORD_KEY},
                  "sidecar": {"dashboards": {
                      "enabled": True, "label": next(iter(DASHBOARD_LABEL)), "labelValue": DASHBOARD_LABEL["grafana_dashboard"],
                      "searchNamespace": "ALL", "folderAnnotation": DASHBOARD_FOLDER_ANNOTATION,
                      "provider": {"foldersFromFilesStructure": True},
                  }},
              },
          }),
    Chart(INGRESS_NGINX, "ingress-nginx", "4.13.0", "https://kubernetes.github.io/ingress-nginx", "ingress-nginx", {
        "controller": {
            "replicaCount": 2,
            "metrics": {"enabled": True, "serviceMonitor": _SERVICE_MONITOR},
            # The client's own address reaches nginx (no SNAT by the nodes): rate limits are per client.
            "service": {"externalTrafficPolicy": "Local"},
            "config": ingress_controller_config(()),  # completed with the load balancer's ranges (chart_values)
        },
    }),
    Chart("argoRollouts", "argo-rollouts", "2.40.1", "https://argoproj.github.io/argo-helm", "argo-rollouts", {
        "installCRDs": True,
        "keepCRDs": True,
        "controller": {"metrics": {"enabled": True, "serviceMonitor": _SERVICE_MONITOR}},
    }),
    Chart("externalSecrets", "external-secrets", "0.19.2", "https://charts.external-secrets.io", "external-secrets", {
        "installCRDs": True,
        "serviceMonitor": _SERVICE_MONITOR,
    }),
    Chart("certManager", "cert-manager", "v1.18.2", "https://charts.jetstack.io", "cert-manager", {
        "crds": {"enabled": True, "keep": True},
        "prometheus": {"enabled": True, "servicemonitor": _SERVICE_MONITOR},
    }),
)


def grafana_namespace(install: Mapping[str, bool]) -> str | None:
    """Where the monitoring chart's Grafana runs and reads its admin Secret, when the stack installs the chart."""
    return next(c.namespace for c in CHARTS if c.key == KUBE_PROMETHEUS_STACK) if install[KUBE_PROMETHEUS_STACK] else None


@dataclass(frozen=True)
class PlatformChartsArgs:
    provider: k8s.Provider
    install: Mapping[str, bool]  # Chart.key -> install (config.PlatformConfig.charts)
    kubeconfig: str | None = None  # the provider's (None: the ambient one), for the recovery hooks
    load_balancer_cidrs: tuple[str, ...] = ()  # config.ServicesConfig.load_balancer_cidrs


def chart_values(chart: Chart, args: PlatformChartsArgs) -> dict[str, Any]:
    """A chart's values for this stack: the table's, with the nginx controller's trusted proxies."""
    if chart.key != INGRESS_NGINX:
        return dict(chart.values)
    controller = dict(chart.values["controller"])
    controller["config"] = ingress_controller_config(args.load_balancer_cidrs)
    return {**chart.values, "controller": controller}


class PlatformCharts(pulumi.ComponentResource):
    releases: dict[str, k8s.helm.v3.Release]

    def __init__(self, name: str, args: PlatformChartsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("tonsurance:platform:PlatformCharts", name, None, opts)
        unknown = set(args.install) ^ {c.key for c in CHARTS}
        if unknown:
            raise ValueError(f"platform charts: install flags do not match the chart table: {sorted(unknown)}")
        self.releases = {}
        # A run killed while Helm installs or upgrades leaves a pending release record Helm then refuses to go
        # past; these hooks clear it before the next create or update (components/helm_recovery.py).
        hooks = release_hooks(args.kubeconfig)
        # The other charts create ServiceMonitors: they wait for the CRDs kube-prometheus-stack installs.
        for chart in sorted(CHARTS, key=lambda c: c.key != KUBE_PROMETHEUS_STACK):
            if not args.install[chart.key]:
                continue
            operator = self.releases.get(KUBE_PROMETHEUS_STACK)
            self.releases[chart.key] = k8s.helm.v3.Release(
                f"{name}-{chart.chart}",
                k8s.helm.v3.ReleaseArgs(
                    name=chart.chart, chart=chart.chart, version=chart.version,
                    repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo),
                    namespace=chart.namespace, create_namespace=True, values=chart_values(chart, args),
                    atomic=True, cleanup_on_fail=True, timeout=900,
                ),
                opts=pulumi.ResourceOptions(parent=self, provider=args.provider, hooks=hooks,
                                            depends_on=[operator] if operator else None))
        self.register_outputs({"releases": {k: r.status for k, r in self.releases.items()}})

    def installed_first(self) -> pulumi.ResourceTransformation:
        """A transformation for a component whose resources need the charts' CRDs and controllers: every
        resource under it waits for every release (none where no chart is installed)."""
        releases = list(self.releases.values())

        def transformation(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
            if not releases:
                return None
            return pulumi.ResourceTransformationResult(
                args.props, pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(depends_on=releases)))

        return transformation
