"""The local stack living: a copy of the `local` stack deployed into the session's cluster with its own
servers (Prometheus, Alertmanager, the alert sink, the monitoring sync, the exporters and the stand-in
controller, as `make up` runs them), then:

- `ops verify` passes every check, none skipped: the pricing keeper's real price, a test policy bought at it,
  the API health check and quote against an api-v2 stand-in;
- the canary drill: a good release is promoted through both gated steps, a bad one (5% errors; p99 over
  500 ms) is aborted at 20% with no human step while the stable pods keep serving, a quiet one is paused,
  neither promoted nor aborted; the AnalysisTemplates read back from the cluster are what Argo ran;
- the alert drill: every alert of monitoring/alerts.py is induced (or listed as not inducible, with the
  reason), fires on the real Prometheus, reaches the sink on its severity's route with its runbook link, and
  resolves when its condition ends; every dashboard panel's query returns data.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from pytoniq_core import Address

from chain.client import ChainSettings
from chain.connect import connect
from components.services.rollout_analysis import render_args
from contracts.base import TON
from contracts.multi_tranche_vault import TRANCHES, MultiTrancheVault
from contracts.policy_router import PolicyRouter
from contracts.pricing_oracle import PricingOracle
from localcluster import ports
from localcluster.alert_drill import BEFORE_DEPLOY, CANARY_SERVICE, INDUCTIONS, NOT_INDUCIBLE
from localcluster.alert_sink import read_notifications
from localcluster.drill import CASES, Drill, StackRun, report, run_cases
from localcluster.servers import LocalServers
from localcluster.standins.controller import Paths, read_status, set_override
from localcluster.kubeapi import KubeApi
from monitoring import dashboards
from monitoring.alerts import ALERTS_BY_NAME
from ops import verify
from ops.checks import stack_config
from tests.e2e.harness import ROOT, TOOLS, engine_env, stack_copy

pytestmark = pytest.mark.e2e
TEST_LP = Address("0:" + "7f" * 32)
BUYER = Address("0:" + "7e" * 32)


def wait_for(condition, what: str, timeout: float = 300, interval: float = 2.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError, KeyError):
            last = condition()
            if last:
                return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})", pytrace=False)


class Living:
    def __init__(self, copy, servers: LocalServers, kube: KubeApi):
        self.copy, self.servers, self.kube = copy, servers, kube
        self.namespace = copy.namespace
        self.paths = Paths(copy.work_dir / ".state")
        self.outputs: dict = {}  # the stack's outputs after its first up

    def query(self, expr: str) -> list[dict]:
        url = f"{self.servers.url('prometheus')}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=20) as answer:
            return json.load(answer)["data"]["result"]

    def chain(self):
        return connect(ChainSettings("localnet", localnet_path=str(self.copy.localnet_path)))

    def standins(self) -> list[dict]:
        return read_status(self.paths)["standins"]


@pytest.fixture(scope="module")
def living(kube_cluster):
    """`make up` in a copy of the checkout, on the session's cluster: PostgreSQL on the copy's recorded port,
    its servers (with the stand-in controller), then `pulumi up` with the canary gates on."""
    base = Path(tempfile.mkdtemp(prefix="tonsurance-living-"))
    base.chmod(0o755)  # the postgres user traverses it (pytest's tmp_path is private)
    copy = stack_copy(base / "project")
    copy.use_cluster(kube_cluster)
    copy.set_config("tonsurance:services.analysis", "true", path=True)
    state = copy.work_dir / ".state"
    postgres = state / "postgres"
    subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "start", str(postgres),
                    str(ports.recorded_port(state, "postgres")), "tonsurance"], check=True, timeout=120)
    for service, fault in BEFORE_DEPLOY:
        set_override(Paths(state), copy.namespace, service, fault)
    servers = LocalServers(state, kube_cluster.kubeconfig, copy.namespace)
    try:
        servers.start()
        copy.stack.up(on_output=lambda _line: None)
        living = Living(copy, servers, KubeApi(kube_cluster.kubeconfig))
        living.outputs = copy.outputs()  # read once: the canary drill's `pulumi up`s hold the stack meanwhile
        wait_for(lambda: {s["service"] for s in living.standins()} >= {"api-v2", "ocaml-backend", "pricing-keeper"},
                 "a stand-in for every workload")
        wait_for(lambda: living.query(f'pricing_oracle_last_update_timestamp{{namespace="{copy.namespace}"}} > 0'),
                 "the pricing keeper's first price on chain, as the backend reads it")
        yield living
    finally:
        servers.stop()
        with contextlib.suppress(Exception):
            copy.stack.destroy(on_output=lambda _line: None)
        subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "stop", str(postgres)], timeout=120)
        shutil.rmtree(base, ignore_errors=True)


def test_verify_passes_every_check_on_the_living_stack(living):
    with contextlib.chdir(living.copy.work_dir):
        cfg = stack_config(living.copy.stack)
    outputs = living.copy.outputs()
    checks = verify.verify(cfg, outputs, living.copy.work_dir)
    assert [(c.name, c.status) for c in checks] == [
        ("contracts", "PASS"), ("oracle freshness", "PASS"), ("sales", "PASS"), ("api", "PASS"),
        ("test policy", "PASS")], \
        [(c.name, c.status, c.detail) for c in checks]
    api = next(c for c in checks if c.name == "api")
    assert "premium quote total" in api.detail


@pytest.fixture(scope="module")
def canary_drill(living, tmp_path_factory):
    """The canary drill, started in the background: it releases websocket-v2, which no alert of the alert drill
    touches, so both drills run at once (the alert drill's test asks for this fixture, the canary test waits
    for the outcomes)."""
    env = {**os.environ, **engine_env(living.copy.work_dir)}
    logs = tmp_path_factory.mktemp("canary-drill")
    drill = Drill(StackRun(living.copy.work_dir, "local", env, str(TOOLS / "bin" / "pulumi")),
                  KubeApi(living.servers.kubeconfig),  # its own client: the drill's thread polls it
                  living.namespace, living.servers.url("prometheus"), living.paths.status, logs,
                  service=CANARY_SERVICE, say=lambda text: print(text, flush=True))
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        started = time.monotonic()
        future = pool.submit(run_cases, drill)
        yield future, started, logs
        future.cancel()


# --- the alert drill --------------------------------------------------------------------------------------------

def test_every_alert_is_induced_or_listed_with_its_reason():
    assert set(INDUCTIONS) | set(NOT_INDUCIBLE) == set(ALERTS_BY_NAME)
    assert not set(INDUCTIONS) & set(NOT_INDUCIBLE)
    assert all(reason for reason in NOT_INDUCIBLE.values())
    drills = (ROOT / "docs" / "drills.md").read_text()
    for name in ALERTS_BY_NAME:  # the docs say how each is induced, or why it cannot be
        assert f"`{name}`" in drills, name


def _vault_over_cap(living: Living, start: bool) -> None:
    outputs = living.outputs
    vault = MultiTrancheVault(Address(outputs["multi_tranche_vault_address"]))
    router = PolicyRouter(Address(outputs["policy_router_address"]))
    admin = Address(outputs["admin_address"])
    with living.chain() as chain:
        run = chain.run_get_method
        fees = vault.get_fees(run)
        if not start:  # an LP brings capital: utilization falls back under the cap
            capital = vault.get_total_capital(run)
            chain.send_internal(sender=TEST_LP, to=vault.address, value=capital + fees.deposit,
                                body=MultiTrancheVault.build_deposit_body(TRANCHES[-1].id))
            return
        chain.send_internal(sender=admin, to=vault.address, value=TON // 10,
                            body=MultiTrancheVault.build_set_params_body(9500, vault.get_params(run)[1]))
        if vault.get_total_capital(run) < 100 * TON:
            chain.send_internal(sender=TEST_LP, to=vault.address, value=100 * TON + fees.deposit,
                                body=MultiTrancheVault.build_deposit_body(TRANCHES[-1].id))
        from contracts.base import CoverageType, premium_due
        oracle = PricingOracle(Address(outputs["pricing_oracle_address"]))
        price = oracle.get_price(run, CoverageType.SMART_CONTRACT)
        coverage = int(vault.get_total_capital(run) * 0.85) - vault.get_total_coverage_sold(run)
        premium = premium_due(coverage, price.price, 1, router.get_policy_rent(run, 1))
        chain.send_internal(sender=BUYER, to=router.address, value=premium + router.get_policy_fee(run),
                            body=router.build_create_policy_body(CoverageType.SMART_CONTRACT, coverage, 1, premium))
        assert vault.get_total_coverage_sold(run) * 10_000 > vault.get_total_capital(run) * 8000


def _redis(living: Living, command: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", living.servers.port("redis")), timeout=10) as connection:
        connection.sendall(command)
        return connection.recv(1 << 16)


def _redis_used_fraction(living: Living) -> float:
    info = dict(line.split(":", 1) for line in _redis(living, b"INFO memory\r\n").decode().splitlines()
                if ":" in line)
    return int(info["used_memory"]) / int(info["maxmemory"])


def _redis_fill(living: Living, start: bool) -> None:
    """Fill the local Redis (maxmemory 64 MiB, noeviction) to over 90% in 256 KiB values."""
    if not start:
        assert _redis(living, b"FLUSHALL\r\n").startswith(b"+OK")
        return
    chunk = b"x" * (1 << 18)
    for i in range(400):
        if _redis_used_fraction(living) > 0.92:
            return
        key = f"drill:{i}".encode()
        answer = _redis(living, b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(chunk), chunk))
        if answer.startswith(b"-OOM"):
            break
        assert answer.startswith(b"+OK"), answer
    assert _redis_used_fraction(living) > 0.9


_held_connections: list = []


def _postgres_connections(living: Living, start: bool) -> None:
    import psycopg
    if not start:
        while _held_connections:
            _held_connections.pop().close()
        return
    dsn = f"host={living.copy.postgres_dir} port={ports.recorded_port(living.copy.work_dir / '.state', 'postgres')} " \
          "user=postgres dbname=postgres"
    with psycopg.connect(dsn) as probe:
        limit = int(probe.execute("SHOW max_connections").fetchone()[0])
    while len(_held_connections) < int(limit * 0.85):
        _held_connections.append(psycopg.connect(dsn))


ACTIONS = {"vault-over-cap": _vault_over_cap, "redis-fill": _redis_fill, "postgres-connections": _postgres_connections}


def _firing(living: Living, name: str) -> list[dict]:
    return living.query(f'ALERTS{{alertname="{name}",alertstate="firing",namespace="{living.namespace}"}}')


def _notifications(living: Living, name: str, status: str, labels=()) -> list[tuple[str, dict]]:
    """The sink's notifications of alert `name` in `status`, carrying `labels` (the induction's: an alert of the
    same name from the canary drill's release is not this induction's)."""
    found = []
    for record in read_notifications(living.servers.alerts_file):
        notification = record["notification"]
        for alert in notification.get("alerts", []):
            if alert["labels"].get("alertname") == name and alert.get("status") == status \
                    and alert["labels"].get("namespace") == living.namespace \
                    and all(alert["labels"].get(key) == value for key, value in labels):
                found.append((notification.get("receiver", ""), alert))
    return found


def _receivers(alert) -> set[str]:
    return {"on-call", "slack"} if alert.severity == "critical" else {"slack"}


def _induce(living: Living, inductions: dict, start: bool) -> None:
    for induction in inductions.values():
        for service, fault in induction.faults:
            set_override(living.paths, living.namespace, service, fault if start else None)
        if induction.action:
            ACTIONS[induction.action](living, start)


def _receivers_of(delivered) -> set[str]:
    return {receiver.rsplit("/", 1)[-1] for receiver, _ in delivered}


def _delivered_to_all(living: Living, name: str, induction, alert) -> list[tuple[str, dict]]:
    """The firing notifications of `name`, once every receiver its severity routes to has one (each receiver is
    notified on its own: a critical alert's on-call and slack routes); [] before."""
    found = _notifications(living, name, "firing", induction.labels)
    return found if _receivers_of(found) >= _receivers(alert) else []


def _drill_phase(living: Living, inductions: dict) -> None:
    started = time.monotonic()
    _induce(living, inductions, True)  # the faults set before the deploy are set already; setting them again is a no-op
    try:
        for name, induction in sorted(inductions.items(), key=lambda item: _for_seconds(ALERTS_BY_NAME[item[0]])):
            alert = ALERTS_BY_NAME[name]
            firing = wait_for(lambda: _firing(living, name), f"{name} firing ({induction.how})",
                              timeout=max(0, FIRING_DEADLINE - (time.monotonic() - started)) + 60, interval=5)
            for key, value in induction.labels:
                assert any(f["metric"].get(key) == value for f in firing), (name, firing)
            delivered = wait_for(lambda: _delivered_to_all(living, name, induction, alert),
                                 f"{name} in the sink on {sorted(_receivers(alert))}", timeout=120)
            assert _receivers_of(delivered) == _receivers(alert), (name, _receivers_of(delivered))
            for _receiver, sent in delivered:
                assert sent["labels"]["severity"] == alert.severity
                assert sent["annotations"]["runbook_url"].endswith(f"#{alert.runbook_anchor}")
    finally:  # a failed phase leaves no fault behind for the later tests of the module
        _induce(living, inductions, False)
    for name, induction in inductions.items():
        if induction.resolves:
            wait_for(lambda: _notifications(living, name, "resolved", induction.labels), f"{name} resolved",
                     timeout=600, interval=5)


# The slowest firing: OracleUpdateStale needs the oracle's last price 300 s old (a chain threshold, not scaled),
# plus the keeper's interval and the local `for`.
FIRING_DEADLINE = 480


def _for_seconds(alert) -> int:
    return int(alert.for_.rstrip("m")) * 60


def test_the_alert_drill_every_inducible_alert_fires_routes_and_resolves(living, canary_drill):
    """Runs while the canary drill releases websocket-v2 in the background (the canary_drill fixture); the
    websocket-v2 down alert (phase 3) once that drill has ended."""
    for phase in (1, 2, 3):
        if phase == 3:  # its outcome is test_the_canary_drill's to judge
            concurrent.futures.wait([canary_drill[0]], timeout=len(CASES) * 900)
        started = time.monotonic()
        _drill_phase(living, {n: i for n, i in INDUCTIONS.items() if i.phase == phase})
        print(f"alert drill phase {phase}: {time.monotonic() - started:.0f}s")


def test_the_canary_drill(canary_drill):
    future, started, logs = canary_drill
    outcomes = future.result(timeout=len(CASES) * 900)
    print(f"canary drill: {time.monotonic() - started:.0f}s for {len(outcomes)} releases")
    (logs / "timeline.txt").write_text("\n\n".join(report(o) for o in outcomes))
    results = {o.case: o for o in outcomes}
    assert [o.result for o in outcomes] == [expected for _c, _s, expected in CASES], \
        "\n\n".join(report(o) for o in outcomes)
    assert results["good release"].weight == 100
    for case in ("bad release: 5% errors", "bad release: p99 over 500 ms", "quiet release"):
        assert results[case].weight == 20, report(results[case])  # stopped at the first step
    for case in ("bad release: 5% errors", "bad release: p99 over 500 ms"):
        outcome = results[case]
        assert outcome.stable_probes > 0 and outcome.stable_probe_failures == 0  # the stable pods kept serving
        assert "Metric" in outcome.message and "Failed" in outcome.message, outcome.message
    assert results["bad release: 5% errors"].canary_errors > 0
    quiet = results["quiet release"]
    assert "Inconclusive" in "\n".join(quiet.timeline)
    print("\n".join(f"{o.case}: {o.result} {o.seconds_to_outcome:.1f}s from pulumi up, canary requests "
                    f"{o.canary_requests}, with errors {o.canary_errors}" for o in outcomes))


def test_the_analysis_templates_in_the_cluster_are_what_argo_ran(living):
    base = f"/apis/argoproj.io/v1alpha1/namespaces/{living.namespace}"
    templates = {t["metadata"]["name"]: t for t in living.kube.get(f"{base}/analysistemplates")["items"]}
    assert set(templates) == {"error-rate", "latency-p99"}
    runs = living.kube.get(f"{base}/analysisruns")["items"]
    compared = 0
    for run in runs:
        args = {a["name"]: a.get("value", "") for a in run["spec"].get("args", [])}
        for result in run.get("status", {}).get("metricResults", []):
            ran = (result.get("metadata") or {}).get("ResolvedPrometheusQuery")
            if not ran:
                continue
            template_query = templates[result["name"]]["spec"]["metrics"][0]["provider"]["prometheus"]["query"]
            assert ran == render_args(template_query, args)
            compared += 1
    if compared == 0:
        pytest.skip("no AnalysisRun has measured yet (run after the canary drill)")


def test_every_dashboard_panel_returns_data_from_the_live_prometheus(living):
    # Waits: the backend stand-ins the alert drill stopped report their chain figures after their first
    # chain read, a few scrapes after they answer again.
    deadline = time.monotonic() + 180
    while True:
        empty = [f"{board.title} / {panel.title}" for board in dashboards.DASHBOARDS for panel in board.panels
                 if not living.query(dashboards.expr(panel, living.namespace))]
        if not empty or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert not empty, empty
