"""Every alert of the guide's "Monitoring and Alerting" chapter, as one table.

Each row carries its own promtool test cases (synthetic series, 1-minute samples): at least one where the
alert fires and one where it stays silent at the guide's threshold. `rule_groups()` renders the rows into
Prometheus rule groups (the PrometheusRule's spec, and the file `promtool check rules` reads);
`rule_tests()` renders the cases into a `promtool test rules` file. Summaries are fixed text: what differs
between firings (job, bridge, breaker) is in the labels, which Slack and PagerDuty show.

To add an alert: add a row with both kinds of cases and a section `### <AlertName>` in docs/runbook.md;
tests/monitoring checks both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping

from datetime import timedelta

from monitoring.metrics import unscoped_metrics
from monitoring.promql import scaled_duration, scaled_ranges, scoped, series_in_namespace

Severity = Literal["critical", "high"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high")
EVALUATION_INTERVAL = "1m"
# The backend runs the claims processor (it pays claims with the claims processor wallet).
CLAIMS_PROCESSOR_JOB = "ocaml-backend"


@dataclass(frozen=True)
class Case:
    """A promtool case: `series` (selector -> values in promtool's expanding notation, one sample per
    `step`; in the stack's namespace unless the selector names another) evaluated at `at`; `fires` says whether the alert is firing then, with `labels` on it. The rules
    are evaluated every `step` too: cases spanning days use 5m, which keeps promtool fast."""

    description: str
    series: Mapping[str, str]
    at: str
    fires: bool
    labels: Mapping[str, str] = field(default_factory=dict)
    step: str = EVALUATION_INTERVAL


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    for_: str
    severity: Severity
    summary: str
    description: str
    cases: tuple[Case, ...]

    @property
    def runbook_anchor(self) -> str:
        """The anchor of its `### <name>` section in docs/runbook.md."""
        return self.name.lower()


def _fires(description: str, series: Mapping[str, str], at: str, step: str = EVALUATION_INTERVAL,
           **labels: str) -> Case:
    return Case(description, series, at, True, labels, step)


def _silent(description: str, series: Mapping[str, str], at: str, step: str = EVALUATION_INTERVAL) -> Case:
    return Case(description, series, at, False, step=step)


def _histogram(metric: str, labels: str, per_minute: Mapping[str, int], minutes: int = 30) -> dict[str, str]:
    """Bucket series of a histogram whose cumulative count in each `le` bucket grows by `per_minute[le]`."""
    sep = "," if labels else ""
    return {f'{metric}_bucket{{{labels}{sep}le="{le}"}}': f"0+{n}x{minutes}" for le, n in per_minute.items()}


# --- a down alert per workload of the services table --------------------------------------------------------------
# What stops while no pod of a workload answers; the backend's alert keeps the guide's name.
DOWN_ALERT_NAMES = {CLAIMS_PROCESSOR_JOB: "ClaimsProcessorDown"}
# What the alerts watch, by the names the program gives it. Kept here rather than imported, so that monitoring/
# imports nothing of components/ (which renders these tables); tests/monitoring/test_alert_rules.py checks that
# the workloads are the services table's (components/services/catalog.py) and the CronJob is the backup schedule's.
BACKUP_CRONJOB = "database-backup"
# A scheduled backup starts and finishes within this after it is due: the CronJob's startingDeadlineSeconds,
# preflight's backup age limit and BackupOverdue all allow it on top of the cadence (components/backup_schedule.py).
BACKUP_JOB_GRACE = timedelta(hours=1)
# Each workload's down alert says what stops while it is down.
DOWN_IMPACT = {
    "ocaml-backend": "runs the claims processor (it pays claims with the claims processor wallet) and serves prices",
    "pricing-keeper": "publishes prices to the PricingOracle: OracleUpdateStale follows 5 minutes after its last update",
    "bridge-health-keeper": "reports bridge health on chain: a degraded bridge goes unreported",
    "api-v2": "serves the public API: no quotes, no policy purchases",
    "websocket-v2": "pushes live updates to clients: dashboards and open apps go stale",
}


def down_alert_name(service: str) -> str:
    """`ApiV2Down` for `api-v2`; the backend's is the guide's `ClaimsProcessorDown`."""
    return DOWN_ALERT_NAMES.get(service) or "".join(part.capitalize() for part in service.split("-")) + "Down"


def _down_alert(service: str) -> Alert:
    """Critical when no pod of `service` (prometheus-operator's job: the workload's Service) has been scraped
    successfully for 2 minutes: every pod failing its scrape, or no target at all (scaled to zero, no endpoints)."""
    up = f'up{{job="{service}"'
    summary = "Claims processor down" if service == CLAIMS_PROCESSOR_JOB else f"{service} down"
    return Alert(
        down_alert_name(service), f"absent({up}}} == 1)", "2m", "critical", summary,
        f"No {service} pod has been scraped successfully for 2 minutes; it {DOWN_IMPACT[service]}.",
        (
            _fires("every pod down", {f'{up},pod="a"}}': "0x10", f'{up},pod="b"}}': "0x10"}, "5m"),
            _fires("no target at all", {'up{job="some-other-job"}': "1x10"}, "5m"),
            _fires("only another stack's pod is up", {f'{up},namespace="other"}}': "1x10"}, "5m"),
            _silent("one pod of two up", {f'{up},pod="a"}}': "0x10", f'{up},pod="b"}}': "1x10"}, "5m"),
            _silent("down for 1 minute only", {f'{up},pod="a"}}': "1x4 0 1x5"}, "8m"),
            _silent("down, not yet for 2 minutes", {f'{up},pod="a"}}': "1x4 0x5"}, "6m"),
            _silent("back up after 5 minutes down", {f'{up},pod="a"}}': "0x5 1x5"}, "8m"),
        ),
    )


DOWN_ALERTS: tuple[Alert, ...] = tuple(_down_alert(service) for service in DOWN_IMPACT)

# --- scheduled backups (components/backup_schedule.py), as kube-state-metrics reports the CronJob and its Jobs ---
# A run is overdue an hour after it was due (preflight's allowance, BACKUP_JOB_GRACE). The schedule is the
# CronJob's own, as kube-state-metrics reports it: next run minus the last (or the CronJob's creation), so the
# network's cadence (6 h on mainnet, daily on testnet) is never written twice.
_GRACE_SECONDS = int(BACKUP_JOB_GRACE.total_seconds())


def _cronjob(metric: str) -> str:
    return f'{metric}{{cronjob="{BACKUP_CRONJOB}"}}'


_CREATED = _cronjob("kube_cronjob_created")
_SUCCEEDED, _SCHEDULED = _cronjob("kube_cronjob_status_last_successful_time"), _cronjob("kube_cronjob_status_last_schedule_time")
_NEXT = _cronjob("kube_cronjob_next_schedule_time")


def _held(*segments: tuple[int | None, int]) -> str:
    """A series sampled every 5 minutes: each (value, until minute) holds `value` (None: no sample) from the end
    of the previous segment (or 0) until that minute."""
    parts, start = [], 0
    for value, until in segments:
        parts.append(f"{'_' if value is None else value}x{(until - start) // 5 - 1}")
        start = until
    return " ".join(parts)


def _cron(succeeded: tuple, scheduled: tuple, next_: tuple, end: int) -> dict[str, str]:
    """The CronJob's series (created at t=0) from (unix seconds, from minute) changes, until minute `end`."""
    def series(changes: tuple) -> str:
        bounds = [minute for _, minute in changes[1:]] + [end]
        return _held(*((value, until) for (value, _), until in zip(changes, bounds)))
    return {_CREATED: _held((0, end)), _SUCCEEDED: series(succeeded), _SCHEDULED: series(scheduled),
            _NEXT: series(next_)}


_H = 3600  # seconds
# 6-hourly (the mainnet cadence): runs due at 6 h, 12 h, 18 h, each done 5 minutes later; the last success is
# due again 6 h + the hour's allowance after it, i.e. at 13 h 05.
_MAINNET_RUNS = dict(scheduled=((None, 0), (6 * _H, 360), (12 * _H, 720), (18 * _H, 1080)),
                     next_=((6 * _H, 0), (12 * _H, 360), (18 * _H, 720), (24 * _H, 1080)), end=1200)
_ALL_SUCCEED = _cron(((None, 0), (6 * _H + 300, 365), (12 * _H + 300, 725), (18 * _H + 300, 1085)), **_MAINNET_RUNS)
_TWELVE_FAILS = _cron(((None, 0), (6 * _H + 300, 365), (18 * _H + 300, 1085)), **_MAINNET_RUNS)
_SUSPENDED = _cron(((None, 0), (6 * _H + 300, 365)), ((None, 0), (6 * _H, 360)), ((6 * _H, 0), (12 * _H, 360)), 1200)
# Daily (the testnet cadence, 00:50 here): the run due a day after the first does not succeed.
_DAILY_MISSED = _cron(((None, 0), (3300, 55)), ((None, 0), (3000, 50), (3000 + 24 * _H, 1490)),
                      ((3000, 0), (3000 + 24 * _H, 50), (3000 + 48 * _H, 1490)), 1600)
# Created at t=0 with its first run due at 1 h; that run fails, and none succeeds.
_NEVER_SUCCEEDED = _cron(((None, 0),), ((None, 0), (_H, 60)), ((_H, 0), (7 * _H, 60)), 480)

BACKUP_OVERDUE = Alert(
    "BackupOverdue",
    f"time() - max({_SUCCEEDED} or {_CREATED}) > max({_NEXT}) - max({_SCHEDULED} or {_CREATED}) + {_GRACE_SECONDS}",
    "0m", "critical",
    "No database backup succeeded within its schedule",
    f"The {BACKUP_CRONJOB} CronJob's last successful backup (or its creation, if none yet) is older than one "
    "schedule interval plus an hour: a restore now would lose more than the schedule allows.",
    (
        _silent("every 6-hourly run succeeds", _ALL_SUCCEED, "1195m", "5m"),
        _silent("the 12 h run failed: 7 h after the last success", _TWELVE_FAILS, "785m", "5m"),
        _fires("the 12 h run failed: 7 h 5 min after the last success", _TWELVE_FAILS, "790m", "5m"),
        _silent("resolved: the 18 h run succeeded", _TWELVE_FAILS, "1090m", "5m"),
        _fires("the CronJob stopped scheduling (suspended)", _SUSPENDED, "790m", "5m"),
        _silent("daily: 23 h after the last success", _DAILY_MISSED, "1435m", "5m"),
        _silent("daily: the next run is due, within its hour", _DAILY_MISSED, "1550m", "5m"),
        _fires("daily: the next run did not succeed within its hour", _DAILY_MISSED, "1560m", "5m"),
        _silent("never succeeded, 7 h after creation", _NEVER_SUCCEEDED, "420m", "5m"),
        _fires("never succeeded, 7 h 5 min after creation", _NEVER_SUCCEEDED, "425m", "5m"),
    ),
)

BACKUP_JOB_FAILED = Alert(
    "BackupJobFailed",
    f'max by (job_name) (kube_job_failed{{job_name=~"{BACKUP_CRONJOB}-[0-9]+"}}) > 0',
    "0m", "high",
    "A scheduled database backup failed",
    f"A Job of the {BACKUP_CRONJOB} CronJob failed (after its retry): that run's backup was not taken. The alert "
    "stays until the failed Job is deleted (the runbook says when).",
    (
        _fires("the run failed", {f'kube_job_failed{{job_name="{BACKUP_CRONJOB}-29421360",condition="true"}}': "0x2 1x10",
                                  f'kube_job_failed{{job_name="{BACKUP_CRONJOB}-29421360",condition="false"}}': "1x2 0x10"},
               "5m", job_name=f"{BACKUP_CRONJOB}-29421360"),
        _silent("the run succeeded", {f'kube_job_failed{{job_name="{BACKUP_CRONJOB}-29421360",condition="true"}}': "0x10",
                                      f'kube_job_failed{{job_name="{BACKUP_CRONJOB}-29421360",condition="false"}}': "0x10"},
                "5m"),
        _silent("another Job failed", {'kube_job_failed{job_name="migrate-1",condition="true"}': "1x10"}, "5m"),
        _silent("another stack's backup failed",
                {f'kube_job_failed{{job_name="{BACKUP_CRONJOB}-29421360",namespace="other",condition="true"}}': "1x10"},
                "5m"),
        _silent("resolved: the failed Job was deleted",
                {f'kube_job_failed{{job_name="{BACKUP_CRONJOB}-29421360",condition="true"}}': "1x3 _x10"}, "10m"),
    ),
)


ALERTS: tuple[Alert, ...] = (
    # --- critical: page the on-call ---
    Alert(
        "OracleUpdateStale",
        "time() - max(pricing_oracle_last_update_timestamp) > 300",
        "1m", "critical",
        "Pricing oracle not updated for more than 5 minutes",
        "No keeper has updated the PricingOracle for over 300 s: premium quotes fail until it is fresh.",
        (
            _fires("last update 301 s ago and getting older", {"pricing_oracle_last_update_timestamp": "-301+60x20"}, "10m"),
            _silent("last update exactly 300 s ago", {"pricing_oracle_last_update_timestamp": "-300+60x20"}, "10m"),
            _silent("updated every minute", {"pricing_oracle_last_update_timestamp": "0+60x20"}, "20m"),
            _fires("updates stopped at t=0", {"pricing_oracle_last_update_timestamp": "0x20"}, "7m"),
            _silent("another stack's oracle is stale", {'pricing_oracle_last_update_timestamp{namespace="other"}': "0x20",
                                                        "pricing_oracle_last_update_timestamp": "0+60x20"}, "10m"),
        ),
    ),
    Alert(
        "VaultInsolvencyRisk",
        "max(vault_utilization_ratio) > 0.8",
        "2m", "critical",
        "Vault utilization above 80%",
        "Coverage sold exceeds 80% of vault capital: new policies cannot be backed.",
        (
            _fires("utilization 0.81", {"vault_utilization_ratio": "0.81x10"}, "5m"),
            _silent("utilization exactly 0.80", {"vault_utilization_ratio": "0.8x10"}, "5m"),
            _silent("utilization 0.81 for only one minute", {"vault_utilization_ratio": "0.5x3 0.81 0.5x5"}, "5m"),
        ),
    ),
    Alert(
        "DatabaseConnectionPoolExhausted",
        "max by (job) (db_pool_connections_active / db_pool_connections_max) >= 1",
        "1m", "critical",
        "Database connection pool exhausted",
        "Every connection of a service's database pool is in use: requests queue or fail.",
        (
            _fires("20 of 20 connections in use", {'db_pool_connections_active{job="api-v2",pod="a"}': "20x10",
                                                   'db_pool_connections_max{job="api-v2",pod="a"}': "20x10"},
                   "5m", job="api-v2"),
            _silent("19 of 20 connections in use", {'db_pool_connections_active{job="api-v2",pod="a"}': "19x10",
                                                    'db_pool_connections_max{job="api-v2",pod="a"}': "20x10"}, "5m"),
        ),
    ),
    Alert(
        "CircuitBreakerTriggered",
        "max by (job, breaker) (circuit_breaker_open) > 0",
        "0m", "critical",
        "Circuit breaker open",
        "A service opened a circuit breaker: the dependency it guards is failing and calls are short-circuited.",
        (
            _fires("breaker open", {'circuit_breaker_open{job="ocaml-backend",breaker="polymarket"}': "0 0 1x5"},
                   "3m", job="ocaml-backend", breaker="polymarket"),
            _silent("breaker closed", {'circuit_breaker_open{job="ocaml-backend",breaker="polymarket"}': "0x10"}, "5m"),
        ),
    ),
    *DOWN_ALERTS,
    BACKUP_OVERDUE,
    # --- high: Slack ---
    BACKUP_JOB_FAILED,
    Alert(
        "BridgeHealthDegraded",
        "min by (bridge) (bridge_health_status) < 1",
        "5m", "high",
        "Bridge health degraded",
        "The bridge health keeper reports a bridge as degraded for 5 minutes.",
        (
            _fires("bridge degraded for 10 minutes", {'bridge_health_status{bridge="ethereum"}': "0x10"},
                   "10m", bridge="ethereum"),
            _silent("bridge degraded for 3 minutes", {'bridge_health_status{bridge="ethereum"}': "1x4 0x2 1x5"}, "10m"),
            _silent("bridge healthy", {'bridge_health_status{bridge="ethereum"}': "1x10"}, "10m"),
        ),
    ),
    Alert(
        "HighGasCosts",
        "max by (job) (avg_gas_cost_ton) > 0.5",
        "10m", "high",
        "Average gas cost above 0.5 TON",
        "Keeper transactions cost more than 0.5 TON on average: keeper operations are expensive.",
        (
            _fires("0.51 TON for 15 minutes", {'avg_gas_cost_ton{job="pricing-keeper"}': "0.51x20"},
                   "15m", job="pricing-keeper"),
            _silent("exactly 0.5 TON", {'avg_gas_cost_ton{job="pricing-keeper"}': "0.5x20"}, "15m"),
        ),
    ),
    Alert(
        "HedgeExecutionDelays",
        "histogram_quantile(0.95, sum by (le) (rate(hedge_execution_latency_seconds_bucket[5m]))) > 60",
        "10m", "high",
        "Hedge execution p95 above 60 s",
        "Hedges take more than a minute to execute (p95 over 5 minutes), leaving coverage unhedged.",
        (
            _fires("every hedge takes 60-120 s",
                   _histogram("hedge_execution_latency_seconds", "", {"30": 0, "60": 0, "120": 1, "+Inf": 1}), "20m"),
            _silent("every hedge within 30 s",
                    _histogram("hedge_execution_latency_seconds", "", {"30": 1, "60": 1, "120": 1, "+Inf": 1}), "20m"),
        ),
    ),
    Alert(
        "AbnormalClaimRate",
        "sum(rate(claims_filed_total[1h])) > 3 * sum(rate(claims_filed_total[1d]))"
        " and sum(increase(claims_filed_total[1h])) >= 10",
        "15m", "high",
        "Claim rate over 3x its daily average",
        "Claims in the last hour run at more than three times the 24-hour rate (and at least 10 an hour).",
        (
            # One sample every 5 minutes for a day and more.
            _fires("1 a minute after a day at 1 every 10 minutes", {"claims_filed_total": "0+0.5x288 144+5x18"},
                   "1530m", "5m"),
            _silent("steady 1 every 10 minutes", {"claims_filed_total": "0+0.5x320"}, "1530m", "5m"),
            _silent("5 claims in an hour after a quiet day", {"claims_filed_total": "0x288 0+0.5x10 5x8"},
                    "1530m", "5m"),
        ),
    ),
    Alert(
        "KeeperUpdateFailures",
        "sum by (job) (increase(keeper_update_success_total[15m])) == 0",
        "5m", "high",
        "Keeper made no successful update for 15 minutes",
        "keeper_update_success_total has not increased for 15 minutes: the keeper's updates are failing.",
        (
            _fires("no success since start", {'keeper_update_success_total{job="pricing-keeper"}': "5x40"},
                   "30m", job="pricing-keeper"),
            _silent("one success a minute", {'keeper_update_success_total{job="pricing-keeper"}': "0+1x40"}, "30m"),
        ),
    ),
    # The gates of the gradual rollout (guide: rollback if error rate >1% or p99 latency >500 ms). Errors page
    # (issue 22): once a release is promoted, no gate rolls it back any more.
    Alert(
        "ApiErrorRateHigh",
        'sum by (job) (rate(http_requests_total{status=~"5.."}[5m]))'
        " / sum by (job) (rate(http_requests_total[5m])) > 0.01",
        "5m", "critical",
        "HTTP 5xx rate above 1% for 5 minutes",
        "More than 1% of a service's requests fail with 5xx: the rollout gate would roll back.",
        (
            _fires("1.1% errors", {'http_requests_total{job="api-v2",status="200"}': "0+989x30",
                                   'http_requests_total{job="api-v2",status="503"}': "0+11x30"}, "20m", job="api-v2"),
            _silent("0.9% errors", {'http_requests_total{job="api-v2",status="200"}': "0+991x30",
                                    'http_requests_total{job="api-v2",status="503"}': "0+9x30"}, "20m"),
        ),
    ),
    Alert(
        "ApiLatencyP99High",
        "histogram_quantile(0.99, sum by (job, le) (rate(http_request_duration_seconds_bucket[5m]))) > 0.5",
        "5m", "high",
        "HTTP p99 latency above 500 ms for 5 minutes",
        "A service's 99th-percentile request latency exceeds 500 ms: the rollout gate would roll back.",
        (
            _fires("5% of requests take 0.5-1 s",
                   _histogram("http_request_duration_seconds", 'job="api-v2"', {"0.25": 90, "0.5": 95, "1": 100, "+Inf": 100}),
                   "20m", job="api-v2"),
            _silent("every request within 0.5 s",
                    _histogram("http_request_duration_seconds", 'job="api-v2"', {"0.25": 90, "0.5": 100, "1": 100, "+Inf": 100}),
                    "20m"),
        ),
    ),
    Alert(
        "RedisMemoryHigh",
        "redis_memory_used_bytes / (redis_memory_max_bytes > 0) > 0.9",
        "5m", "high",
        "Redis memory above 90% of maxmemory",
        "Redis will start evicting keys (or refusing writes) at maxmemory.",
        (
            _fires("950 of 1000 bytes", {'redis_memory_used_bytes{instance="redis:9121"}': "950x10",
                                         'redis_memory_max_bytes{instance="redis:9121"}': "1000x10"},
                   "10m", instance="redis:9121"),
            _silent("900 of 1000 bytes", {'redis_memory_used_bytes{instance="redis:9121"}': "900x10",
                                          'redis_memory_max_bytes{instance="redis:9121"}': "1000x10"}, "10m"),
            _silent("no maxmemory set", {'redis_memory_used_bytes{instance="redis:9121"}': "950x10",
                                         'redis_memory_max_bytes{instance="redis:9121"}': "0x10"}, "10m"),
        ),
    ),
    Alert(
        "PostgresConnectionsHigh",
        "sum by (instance) (pg_stat_activity_count) / max by (instance) (pg_settings_max_connections) > 0.8",
        "5m", "high",
        "PostgreSQL connections above 80% of max_connections",
        "New connections will be refused once max_connections is reached.",
        (
            _fires("85 of 100 connections", {'pg_stat_activity_count{instance="pg:9187",state="active"}': "60x10",
                                             'pg_stat_activity_count{instance="pg:9187",state="idle"}': "25x10",
                                             'pg_settings_max_connections{instance="pg:9187"}': "100x10"},
                   "10m", instance="pg:9187"),
            _silent("80 of 100 connections", {'pg_stat_activity_count{instance="pg:9187",state="active"}': "60x10",
                                              'pg_stat_activity_count{instance="pg:9187",state="idle"}': "20x10",
                                              'pg_settings_max_connections{instance="pg:9187"}': "100x10"}, "10m"),
        ),
    ),
)

ALERTS_BY_NAME: Mapping[str, Alert] = {a.name: a for a in ALERTS}


def _labels(alert: Alert, namespace: str) -> dict[str, str]:
    return {"severity": alert.severity, "namespace": namespace}


def _annotations(alert: Alert, runbook_url: str) -> dict[str, str]:
    return {"summary": alert.summary, "description": alert.description,
            "runbook_url": f"{runbook_url}#{alert.runbook_anchor}"}


@dataclass(frozen=True)
class RuleTiming:
    """The clock the rules run on. Public stacks run the table as written (the guide's windows and `for`
    durations, evaluated every minute). The local stack, whose alerts are drilled end to end in minutes, runs
    the same rows with every `for` and range window divided by `divisor` (`[5m]` -> `[1m]`, `for: 15m` ->
    `3m`) and evaluated every `interval`; thresholds (error ratios, the oracle's 300 s) are unchanged."""

    interval: str = EVALUATION_INTERVAL
    divisor: int = 1


LOCAL_RULE_TIMING = RuleTiming(interval="10s", divisor=5)


def rule_groups(namespace: str, runbook_url: str, alerts: tuple[Alert, ...] = ALERTS,
                timing: RuleTiming = RuleTiming()) -> list[dict]:
    """Prometheus rule groups, one per severity. Every selector of a per-stack metric is scoped to
    `namespace`; the `namespace` label routes the alerts through the namespace's AlertmanagerConfig
    (prometheus-operator matches alerts on it)."""
    return [
        {"name": f"tonsurance-{severity}", "interval": timing.interval, "rules": [
            {"alert": a.name, "expr": scaled_ranges(scoped(a.expr, namespace, unscoped_metrics()), timing.divisor),
             "for": scaled_duration(a.for_, timing.divisor), "labels": _labels(a, namespace),
             "annotations": _annotations(a, runbook_url)}
            for a in alerts if a.severity == severity
        ]}
        for severity in SEVERITIES
    ]


def case_name(alert: Alert, case: Case) -> str:
    return f"{alert.name}: {'fires' if case.fires else 'silent'}: {case.description}"


def rule_tests(rules_file: str, namespace: str, runbook_url: str,
               alerts: tuple[Alert, ...] = ALERTS) -> dict[str, dict]:
    """`promtool test rules` files, one per evaluation step, with one test per case of every alert:
    {file name: content}. Pass all of them to one `promtool test rules` run."""
    files: dict[str, dict] = {}
    for alert in alerts:
        for case in alert.cases:
            expected = [{"exp_labels": {**case.labels, **_labels(alert, namespace)},
                         "exp_annotations": _annotations(alert, runbook_url)}] if case.fires else []
            file = files.setdefault(f"tests-{case.step}.yaml", {
                "rule_files": [rules_file], "evaluation_interval": case.step, "tests": []})
            file["tests"].append({
                "name": case_name(alert, case),
                "interval": case.step,
                "input_series": [{"series": series_in_namespace(s, namespace, unscoped_metrics()), "values": v}
                                 for s, v in case.series.items()],
                "alert_rule_test": [{"eval_time": case.at, "alertname": alert.name, "exp_alerts": expected}],
            })
    return files
