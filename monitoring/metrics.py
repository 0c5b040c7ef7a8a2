"""The one list of metric names that alerts and dashboards may use.

The guide's "Metrics Overview" names 14 metrics; they are listed here under the guide's own heading
(`tests/monitoring/test_metrics.py` checks both lists agree against a verbatim copy of that section in
tests/monitoring/fixtures). The alerts the guide asks for need a few more (pool saturation, circuit breakers,
bridge health, gas, claims, exporter limits); each is listed with who exports it, so a service team knows
what to expose. A query that names a metric missing here fails the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

GUIDE_SECTIONS = ("Smart Contract Metrics", "Service Metrics", "System Metrics")


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str  # gauge | counter | histogram
    source: str  # a heading of the guide's Metrics Overview, or who exports it
    help: str
    # True: exported by the stack's own pods, so queries select the stack's namespace. False: exporters of
    # shared infrastructure (PostgreSQL, Redis), whose series carry no stack namespace.
    per_stack: bool = True


_CONTRACTS, _SERVICES, _SYSTEM = GUIDE_SECTIONS

METRICS: tuple[Metric, ...] = (
    Metric("vault_total_capital", "gauge", _CONTRACTS, "Total capital in vault"),
    Metric("vault_total_coverage_sold", "gauge", _CONTRACTS, "Total coverage sold"),
    Metric("vault_utilization_ratio", "gauge", _CONTRACTS, "Coverage / Capital"),
    Metric("pricing_oracle_last_update_timestamp", "gauge", _CONTRACTS, "Oracle freshness"),
    Metric("policy_creation_total", "counter", _CONTRACTS, "Total policies created"),
    Metric("http_requests_total", "counter", _SERVICES, "API request count"),
    Metric("http_request_duration_seconds", "histogram", _SERVICES, "API latency"),
    Metric("keeper_update_success_total", "counter", _SERVICES, "Keeper update count"),
    Metric("keeper_update_latency_seconds", "histogram", _SERVICES, "Keeper latency"),
    Metric("hedge_execution_latency_seconds", "histogram", _SERVICES, "Hedge execution time"),
    Metric("pg_stat_activity_count", "gauge", _SYSTEM, "Database connections", per_stack=False),
    Metric("redis_memory_used_bytes", "gauge", _SYSTEM, "Redis memory usage", per_stack=False),
    Metric("container_cpu_usage_seconds_total", "counter", _SYSTEM, "CPU usage"),
    Metric("container_memory_working_set_bytes", "gauge", _SYSTEM, "Memory usage"),
    # Named by the guide's troubleshooting chapter ("High Gas Costs").
    Metric("avg_gas_cost_ton", "gauge", "guide: Troubleshooting",
           "Average gas paid per keeper transaction over the keeper's window, in TON"),
    # Not named by the guide; exported by our services for the alerts the guide lists.
    Metric("db_pool_connections_active", "gauge", "services", "Database pool connections in use, per process"),
    Metric("db_pool_connections_max", "gauge", "services", "Database pool size, per process"),
    Metric("circuit_breaker_open", "gauge", "services", "1 while the named circuit breaker is open, else 0"),
    Metric("bridge_health_status", "gauge", "bridge-health-keeper", "1 while a bridge is healthy, 0 when degraded"),
    Metric("claims_filed_total", "counter", "ocaml-backend", "Claims filed against policies"),
    Metric("claims_paid_total", "counter", "ocaml-backend", "Claims paid by the claims processor"),
    Metric("keeper_update_failure_total", "counter", "keepers", "Keeper updates that failed (sent or not)"),
    Metric("keeper_wallet_balance_ton", "gauge", "keepers", "The keeper wallet's balance, in TON"),
    Metric("vault_tranche_capital", "gauge", "ocaml-backend", "Capital of one tranche (label tranche), in TON"),
    Metric("vault_tranche_apy_ratio", "gauge", "ocaml-backend", "Current APY of one tranche (label tranche), 0.04 = 4%"),
    # Exporters and Prometheus itself.
    Metric("up", "gauge", "Prometheus", "1 when the last scrape of a target succeeded"),
    Metric("ALERTS", "gauge", "Prometheus", "One series per pending or firing alert"),
    Metric("redis_memory_max_bytes", "gauge", "redis_exporter", "Redis maxmemory (0 when unlimited)", per_stack=False),
    Metric("pg_settings_max_connections", "gauge", "postgres_exporter", "PostgreSQL max_connections", per_stack=False),
    # kube-state-metrics (installed and scraped by the kube-prometheus-stack release): the backup CronJob and its
    # Jobs, labelled with their own namespace.
    Metric("kube_cronjob_created", "gauge", "kube-state-metrics", "When the CronJob was created (unix s)"),
    Metric("kube_cronjob_next_schedule_time", "gauge", "kube-state-metrics", "When the CronJob runs next (unix s)"),
    Metric("kube_cronjob_status_last_schedule_time", "gauge", "kube-state-metrics",
           "When the CronJob last started a Job (unix s)"),
    Metric("kube_cronjob_status_last_successful_time", "gauge", "kube-state-metrics",
           "When a Job of the CronJob last succeeded (unix s)"),
    Metric("kube_job_failed", "gauge", "kube-state-metrics", "1 (condition=\"true\") once a Job has failed"),
)

_HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")


def unscoped_metrics() -> frozenset[str]:
    """Metrics whose series are not per stack (see Metric.per_stack)."""
    return frozenset(m.name for m in METRICS if not m.per_stack)


def series_names() -> frozenset[str]:
    """Every series name a query may select: metric names, plus a histogram's _bucket/_sum/_count."""
    names = set()
    for metric in METRICS:
        names.add(metric.name)
        if metric.kind == "histogram":
            names.update(metric.name + suffix for suffix in _HISTOGRAM_SERIES)
    return frozenset(names)

