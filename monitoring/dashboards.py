"""The guide's six Grafana dashboards, as one table rendered with Grafana's own SDK for dashboards as code
(grafana-foundation-sdk).

Each dashboard is a list of panels (title, PromQL, unit, kind). Rendered queries select the stack's
namespace on every per-stack metric (monitoring/metrics.py), so stacks sharing a cluster and a Grafana
each see their own. `dashboard_json()` returns the JSON the Grafana sidecar loads from
a ConfigMap (components/monitoring.py). To add a panel, add a row; tests/monitoring/test_dashboards.py
parses every query and checks the metrics it reads against monitoring/metrics.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from grafana_foundation_sdk.builders import dashboard as gdashboard
from grafana_foundation_sdk.builders import gauge, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef, GridPos

from monitoring.metrics import unscoped_metrics
from monitoring.promql import scoped

# kube-prometheus-stack provisions its Prometheus data source with this uid.
DATASOURCE = DataSourceRef(type_val="prometheus", uid="prometheus")
_BUILDERS = {"timeseries": timeseries.Panel, "stat": stat.Panel, "gauge": gauge.Panel}
_WIDTH = {"timeseries": 12, "stat": 6, "gauge": 6}
_HEIGHT = 8


@dataclass(frozen=True)
class Panel:
    title: str
    expr: str  # rendered with every per-stack selector scoped to the stack's namespace
    unit: str = "short"  # a Grafana unit id
    kind: Literal["timeseries", "stat", "gauge"] = "timeseries"
    legend: str = ""


@dataclass(frozen=True)
class Dashboard:
    slug: str  # ConfigMap name suffix and uid suffix
    title: str
    description: str
    panels: tuple[Panel, ...]


_5XX = 'http_requests_total{status=~"5.."}'
_ORACLE_AGE = "time() - max(pricing_oracle_last_update_timestamp)"

DASHBOARDS: tuple[Dashboard, ...] = (
    Dashboard("system", "System Overview", "High-level health: targets, alerts, traffic, resources, data stores", (
        Panel("Targets up", "sum by (job) (up)", kind="stat", legend="{{job}}"),
        Panel("Firing alerts", 'sum by (severity) (ALERTS{alertstate="firing"})', kind="stat", legend="{{severity}}"),
        Panel("Request rate", "sum(rate(http_requests_total[5m]))", "reqps", "stat"),
        Panel("Error ratio (5xx)", f"sum(rate({_5XX}[5m])) / sum(rate(http_requests_total[5m]))", "percentunit", "stat"),
        Panel("CPU by pod", "sum by (pod) (rate(container_cpu_usage_seconds_total[5m]))",
              "cores", legend="{{pod}}"),
        Panel("Memory by pod", "sum by (pod) (container_memory_working_set_bytes)",
              "bytes", legend="{{pod}}"),
        Panel("PostgreSQL connections", "sum by (state) (pg_stat_activity_count)", legend="{{state}}"),
        Panel("Redis memory", "redis_memory_used_bytes", "bytes", legend="{{instance}}"),
    )),
    Dashboard("contracts", "Smart Contracts", "On-chain metrics: vault, oracle, policies, keeper gas", (
        Panel("Vault capital (TON)", "max(vault_total_capital)", kind="stat"),
        Panel("Coverage sold (TON)", "max(vault_total_coverage_sold)", kind="stat"),
        Panel("Vault utilization", "max(vault_utilization_ratio)", "percentunit", "gauge"),
        Panel("Oracle age", _ORACLE_AGE, "s", "stat"),
        Panel("Policies created per hour", "sum(rate(policy_creation_total[1h])) * 3600"),
        Panel("Average gas per keeper transaction (TON)", "max by (job) (avg_gas_cost_ton)", legend="{{job}}"),
        Panel("Keeper updates per minute", "sum by (job) (rate(keeper_update_success_total[5m])) * 60",
              legend="{{job}}"),
    )),
    Dashboard("api", "API Performance", "Request rates, errors and latency per service", (
        Panel("Request rate by service", "sum by (job) (rate(http_requests_total[5m]))", "reqps", legend="{{job}}"),
        Panel("Requests by status", "sum by (status) (rate(http_requests_total[5m]))", "reqps", legend="{{status}}"),
        Panel("Error ratio (5xx) by service",
              f"sum by (job) (rate({_5XX}[5m])) / sum by (job) (rate(http_requests_total[5m]))", "percentunit",
              legend="{{job}}"),
        Panel("p50 latency by service",
              "histogram_quantile(0.5, sum by (job, le) (rate(http_request_duration_seconds_bucket[5m])))", "s",
              legend="{{job}}"),
        Panel("p99 latency by service",
              "histogram_quantile(0.99, sum by (job, le) (rate(http_request_duration_seconds_bucket[5m])))", "s",
              legend="{{job}}"),
    )),
    Dashboard("oracle", "Oracle Health", "Update frequency, staleness and keeper failures of the pricing oracle", (
        Panel("Time since last update", _ORACLE_AGE, "s", "stat"),
        Panel("Oracle age over time", _ORACLE_AGE, "s"),
        Panel("Updates per minute", 'sum(rate(keeper_update_success_total{job="pricing-keeper"}[5m])) * 60'),
        Panel("Keeper failures per minute", "sum by (job) (rate(keeper_update_failure_total[5m])) * 60",
              legend="{{job}}"),
        Panel("Keeper update latency p95",
              "histogram_quantile(0.95, sum by (job, le) (rate(keeper_update_latency_seconds_bucket[5m])))", "s",
              legend="{{job}}"),
    )),
    Dashboard("vault", "Vault Analytics", "TVL, utilization and APY per tranche", (
        Panel("TVL (TON)", "max(vault_total_capital)", kind="stat"),
        Panel("Utilization", "max(vault_utilization_ratio)", "percentunit", "gauge"),
        Panel("TVL over time (TON)", "max(vault_total_capital)"),
        Panel("Coverage sold over time (TON)", "max(vault_total_coverage_sold)"),
        Panel("Capital by tranche (TON)", "max by (tranche) (vault_tranche_capital)", legend="{{tranche}}"),
        Panel("APY by tranche", "max by (tranche) (vault_tranche_apy_ratio)", "percentunit", legend="{{tranche}}"),
    )),
    Dashboard("policy", "Policy Analytics", "Policy creation rate and claims", (
        Panel("Policies created (24 h)", "sum(increase(policy_creation_total[24h]))", kind="stat"),
        Panel("Policy creation rate per hour", "sum(rate(policy_creation_total[1h])) * 3600"),
        Panel("Claims filed (24 h)", "sum(increase(claims_filed_total[24h]))", kind="stat"),
        Panel("Claims paid (24 h)", "sum(increase(claims_paid_total[24h]))", kind="stat"),
        Panel("Claims filed per hour", "sum(rate(claims_filed_total[1h])) * 3600", legend="filed"),
        Panel("Claims paid per hour", "sum(rate(claims_paid_total[1h])) * 3600", legend="paid"),
    )),
)


def uid(namespace: str, board: Dashboard) -> str:
    return f"{namespace}-{board.slug}"[:40]  # Grafana's uid limit


def expr(panel: Panel, namespace: str) -> str:
    return scoped(panel.expr, namespace, unscoped_metrics())


def build(board: Dashboard, namespace: str):
    """The dashboard model built with the SDK's builders."""
    builder = (gdashboard.Dashboard(board.title).uid(uid(namespace, board)).description(board.description)
               .tags(["tonsurance", namespace]).refresh("30s").time("now-6h", "now").timezone("utc").readonly())
    x = y = 0
    for number, panel in enumerate(board.panels, start=1):
        width = _WIDTH[panel.kind]
        if x + width > 24:  # the SDK's own layout lets a panel overflow the row; wrap it instead
            x, y = 0, y + _HEIGHT
        builder.with_panel(
            _BUILDERS[panel.kind]().id(number).title(panel.title).unit(panel.unit).datasource(DATASOURCE)
            .grid_pos(GridPos(h=_HEIGHT, w=width, x=x, y=y))
            .with_target(prometheus.Dataquery().expr(expr(panel, namespace)).legend_format(panel.legend)
                         .ref_id("A").datasource(DATASOURCE)))
        x += width
    return builder.build()


def dashboard_json(board: Dashboard, namespace: str) -> str:
    return json.dumps(build(board, namespace), cls=JSONEncoder, indent=2, sort_keys=True)
