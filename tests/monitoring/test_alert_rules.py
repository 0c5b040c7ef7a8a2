"""The alert table under Prometheus's own evaluator: `promtool check rules` and `promtool test rules` with the
synthetic series of every alert's cases, plus checks that keep the table honest (cases on both sides of
every threshold, a runbook section for every alert, only listed metrics)."""

import dataclasses
import re
from pathlib import Path

import pytest

from components import backup_schedule
from components.services.catalog import SERVICES
from monitoring import alerts
from monitoring.alerts import ALERTS, rule_groups, rule_tests, case_name
from monitoring.metrics import series_names
from monitoring.promql import selected_series
from tests.monitoring.conftest import ROOT, unscoped_selectors, write_yaml

NAMESPACE = "tonsurance-test"
RUNBOOK = "https://example.invalid/runbook.md"


def write_rules(directory: Path, table=ALERTS) -> list[Path]:
    """rules.yaml and the promtool test files for `table`; returns the test files."""
    write_yaml(directory / "rules.yaml", {"groups": rule_groups(NAMESPACE, RUNBOOK, table)})
    return [write_yaml(directory / name, content)
            for name, content in rule_tests("rules.yaml", NAMESPACE, RUNBOOK, table).items()]


def test_promtool_is_the_pinned_version(promtool):
    pinned = dict(line.split("=", 1) for line in (ROOT / "toolchain" / "prometheus" / "version.env").read_text()
                  .splitlines() if line and not line.startswith("#"))
    out = promtool("--version")
    assert f"version {pinned['PROMETHEUS_VERSION']}" in out.stdout


def test_rules_pass_promtool_check(promtool, tmp_path):
    write_rules(tmp_path)
    out = promtool("check", "rules", "--lint=all", "--lint-fatal", tmp_path / "rules.yaml")
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in out.stdout


def test_every_alert_case_passes_promtool(promtool, tmp_path):
    files = write_rules(tmp_path)
    out = promtool("test", "rules", *files, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("SUCCESS") == len(files) == 2


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a.name)
def test_every_alert_has_a_firing_and_a_silent_case(alert):
    assert any(c.fires for c in alert.cases), f"{alert.name} has no case where it fires"
    assert any(not c.fires for c in alert.cases), f"{alert.name} has no case where it stays silent"


def test_an_alert_without_cases_is_caught():
    bare = dataclasses.replace(ALERTS[0], name="NewAlert", cases=())
    with pytest.raises(AssertionError, match="NewAlert has no case where it fires"):
        test_every_alert_has_a_firing_and_a_silent_case(bare)


def test_every_case_becomes_one_promtool_test():
    tests = [t for f in rule_tests("rules.yaml", NAMESPACE, RUNBOOK).values() for t in f["tests"]]
    assert sorted(t["name"] for t in tests) == sorted(case_name(a, c) for a in ALERTS for c in a.cases)
    assert len({t["name"] for t in tests}) == len(tests)


@pytest.mark.parametrize("mutation, fires", [("vector(1)", False), ("vector(1) < 0", True)])
def test_promtool_catches_an_expression_that_ignores_its_input(promtool, tmp_path, mutation, fires):
    """With every expression replaced by one that always (or never) fires, every silent (or firing) case
    fails: each case really exercises its alert's expression."""
    mutated = tuple(dataclasses.replace(a, expr=mutation) for a in ALERTS)
    out = promtool("test", "rules", *write_rules(tmp_path, mutated), cwd=tmp_path)
    assert out.returncode != 0
    failed = set(re.findall(r"^\s+name: (.+),$", out.stdout + out.stderr, re.M))
    expected = {case_name(a, c) for a in ALERTS for c in a.cases if c.fires == fires}
    assert expected <= failed, sorted(expected - failed)


def test_guide_thresholds_are_in_the_expressions():
    by_name = alerts.ALERTS_BY_NAME
    assert "> 300" in by_name["OracleUpdateStale"].expr  # 5 minutes
    assert "> 0.8" in by_name["VaultInsolvencyRisk"].expr
    assert "> 0.5" in by_name["HighGasCosts"].expr and "avg_gas_cost_ton" in by_name["HighGasCosts"].expr
    assert "> 0.01" in by_name["ApiErrorRateHigh"].expr and by_name["ApiErrorRateHigh"].for_ == "5m"
    assert "> 0.5" in by_name["ApiLatencyP99High"].expr and "0.99" in by_name["ApiLatencyP99High"].expr
    assert "keeper_update_success_total" in by_name["KeeperUpdateFailures"].expr


def test_the_guides_critical_and_high_alerts_are_all_there():
    critical = {a.name for a in ALERTS if a.severity == "critical"}
    high = {a.name for a in ALERTS if a.severity == "high"}
    down = {alerts.down_alert_name(s.name) for s in SERVICES}
    # The guide's, plus issue 22's: a down alert per workload, backups, and the error rate paging.
    assert critical == {"OracleUpdateStale", "VaultInsolvencyRisk", "DatabaseConnectionPoolExhausted",
                        "CircuitBreakerTriggered", "BackupOverdue", "ApiErrorRateHigh"} | down
    assert high == {"BridgeHealthDegraded", "HighGasCosts", "HedgeExecutionDelays", "AbnormalClaimRate",
                    "KeeperUpdateFailures", "ApiLatencyP99High", "RedisMemoryHigh", "PostgresConnectionsHigh",
                    "BackupJobFailed"}


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_every_workload_of_the_services_table_has_a_critical_down_alert(service):
    (alert,) = [a for a in ALERTS if a.name == alerts.down_alert_name(service.name)]
    assert alert.severity == "critical"
    assert alert.expr == f'absent(up{{job="{service.name}"}} == 1)'
    assert alert.name == ("ClaimsProcessorDown" if service.name == "ocaml-backend" else
                          {"pricing-keeper": "PricingKeeperDown", "bridge-health-keeper": "BridgeHealthKeeperDown",
                           "api-v2": "ApiV2Down", "websocket-v2": "WebsocketV2Down"}[service.name])


def test_the_alerts_watch_the_programs_workloads_and_backup_cronjob_by_their_names():
    """monitoring/ keeps the names it watches (it imports nothing of components/): they are the program's."""
    assert list(alerts.DOWN_IMPACT) == [s.name for s in SERVICES]
    assert alerts.BACKUP_CRONJOB == backup_schedule.NAME
    assert backup_schedule.BACKUP_JOB_GRACE is alerts.BACKUP_JOB_GRACE  # the CronJob's deadline is the alert's allowance


def test_the_backup_alerts_follow_the_cronjob_and_never_restate_its_cadence():
    """The schedule is read from the CronJob through kube-state-metrics; only preflight's allowance is added."""
    overdue, failed = alerts.ALERTS_BY_NAME["BackupOverdue"], alerts.ALERTS_BY_NAME["BackupJobFailed"]
    assert f'cronjob="{backup_schedule.NAME}"' in overdue.expr
    assert f'job_name=~"{backup_schedule.NAME}-[0-9]+"' in failed.expr
    _, numbers = _windows_and_numbers(overdue.expr)
    assert numbers == [alerts.BACKUP_JOB_GRACE.total_seconds()]
    for cadence in backup_schedule.CADENCES.values():
        assert str(cadence.every_hours * 3600) not in overdue.expr


def test_the_monitoring_release_scrapes_kube_state_metrics():
    """The backup alerts read kube-state-metrics: the kube-prometheus-stack release must run and scrape it."""
    from components.platform_charts import CHARTS, KUBE_PROMETHEUS_STACK

    (chart,) = [c for c in CHARTS if c.key == KUBE_PROMETHEUS_STACK]
    assert chart.values["kubeStateMetrics"] == {"enabled": True}
    # Its ServiceMonitor keeps the objects' own namespace label, which the rules select the stack by.
    assert chart.values["kube-state-metrics"]["prometheus"]["monitor"]["honorLabels"] is True


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a.name)
def test_alert_uses_only_listed_metrics(alert):
    used = selected_series(alert.expr)
    assert used, alert.expr
    assert used <= series_names(), f"{alert.name} uses unlisted metrics {sorted(used - series_names())}"


def test_every_alert_has_a_runbook_section():
    runbook = (ROOT / "docs" / "runbook.md").read_text()
    headings = set(re.findall(r"^### (\S+)\s*$", runbook, re.M))
    missing = [a.name for a in ALERTS if a.name not in headings]
    assert not missing, f"docs/runbook.md has no '### <name>' section for {missing}"
    assert {a.runbook_anchor for a in ALERTS} == {a.name.lower() for a in ALERTS}


def test_rules_carry_severity_namespace_and_runbook_link():
    groups = rule_groups(NAMESPACE, RUNBOOK)
    rules = [r for g in groups for r in g["rules"]]
    assert [r["alert"] for r in rules] == [a.name for a in ALERTS if a.severity == "critical"] + [
        a.name for a in ALERTS if a.severity == "high"]
    for rule in rules:
        assert not unscoped_selectors(rule["expr"], NAMESPACE), rule["expr"]
        assert rule["labels"]["namespace"] == NAMESPACE
        assert rule["labels"]["severity"] in ("critical", "high")
        assert rule["annotations"]["runbook_url"] == f"{RUNBOOK}#{rule['alert'].lower()}"


def _windows_and_numbers(expr: str) -> tuple[list[float], list[float]]:
    """The range windows (seconds) and number literals of an expression, in the parser's order."""
    import promql_parser

    windows, numbers = [], []

    def visit(node):
        if isinstance(node, promql_parser.MatrixSelector):
            windows.append(node.range.total_seconds())
        elif isinstance(node, promql_parser.NumberLiteral):
            numbers.append(node.val)
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return windows, numbers


def _seconds(duration: str) -> float:
    import promql_parser

    return 0.0 if duration.strip("0") in ("s", "m", "h") else promql_parser.parse_duration(duration).total_seconds()


def test_public_stacks_run_the_table_as_written():
    rules = {r["alert"]: r for g in rule_groups(NAMESPACE, RUNBOOK) for r in g["rules"]}
    assert {g["interval"] for g in rule_groups(NAMESPACE, RUNBOOK)} == {alerts.EVALUATION_INTERVAL}
    for alert in ALERTS:
        assert rules[alert.name]["for"] == alert.for_
        assert _windows_and_numbers(rules[alert.name]["expr"]) == _windows_and_numbers(alert.expr)


def test_the_local_stack_runs_the_same_rows_on_a_faster_clock():
    """Every `for` and range window divided by the local divisor; thresholds and everything else the same."""
    timing = alerts.LOCAL_RULE_TIMING
    local = {r["alert"]: r for g in rule_groups(NAMESPACE, RUNBOOK, timing=timing) for r in g["rules"]}
    public = {r["alert"]: r for g in rule_groups(NAMESPACE, RUNBOOK) for r in g["rules"]}
    assert {g["interval"] for g in rule_groups(NAMESPACE, RUNBOOK, timing=timing)} == {timing.interval}
    assert timing.divisor > 1
    for alert in ALERTS:
        rule = local[alert.name]
        assert _seconds(rule["for"]) * timing.divisor == _seconds(alert.for_), alert.name
        windows, numbers = _windows_and_numbers(rule["expr"])
        public_windows, public_numbers = _windows_and_numbers(public[alert.name]["expr"])
        assert [w * timing.divisor for w in windows] == public_windows, alert.name
        assert numbers == public_numbers, alert.name  # thresholds are not time: unchanged
        assert {k: v for k, v in rule.items() if k not in ("for", "expr")} == \
               {k: v for k, v in public[alert.name].items() if k not in ("for", "expr")}


def test_local_rules_pass_promtool_check(promtool, tmp_path):
    write_yaml(tmp_path / "rules.yaml", {"groups": rule_groups(NAMESPACE, RUNBOOK, timing=alerts.LOCAL_RULE_TIMING)})
    out = promtool("check", "rules", "--lint=all", "--lint-fatal", tmp_path / "rules.yaml")
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in out.stdout
