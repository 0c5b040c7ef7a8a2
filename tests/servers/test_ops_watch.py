"""`ops watch` against the real local Prometheus and Alertmanager (the session's servers), real Rollouts reconciled
by Argo Rollouts on the session's cluster and an oracle on the real TVM: a clean watch passes; a firing alert, an
error rate over the canary gate and a stale oracle each end it with exit code 1 naming what; a Prometheus that does
not answer is a clear error. Each case has a namespace of its own: its series, alerts and Rollouts."""

from __future__ import annotations

import json
import math
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

from chain.client import ChainSettings
from chain.connect import connect
from components.services.rollout_analysis import GateTiming, gates
from localcluster import ports
from ops import verify, watch
from ops.checks import contracts_args
from tests.kube import new_namespace
from tests.ops.test_verify import keeper_updates_price
from tests.servers.conftest import MetricsTarget, apply, query, wait_for
from tests.support import parse, raw_config
from ton_deploy.contract import TonContractProvider, contract_inputs
from ton_deploy.plan import plan_contracts

# One-minute windows as the local stack measures; one request is enough traffic for these recorded series.
GATES = gates(max_error_rate=0.01, max_p99_ms=500, timing=GateTiming(60, 15, 4, 1))
REQUESTS_PER_SCRAPE = 100


class Traffic(dict):
    """A service's /metrics whose counters grow at each scrape: a steady request rate with `errors` 5xx per
    REQUESTS_PER_SCRAPE, every request under 100 ms."""

    def __init__(self, errors: int = 0):
        super().__init__()
        self.errors, self.scrapes = errors, 0

    def items(self):
        self.scrapes += 1
        n, errors = self.scrapes * REQUESTS_PER_SCRAPE, self.scrapes * self.errors
        return [('http_requests_total{status="200"}', n - errors), ('http_requests_total{status="500"}', errors),
                ('http_request_duration_seconds_bucket{le="0.1"}', n),
                ('http_request_duration_seconds_bucket{le="+Inf"}', n),
                ("http_request_duration_seconds_count", n)]


def rollout(name: str) -> dict:
    labels = {"app.kubernetes.io/name": name}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": name, "image": f"example.test/{name}:1"}]}},
                     "strategy": {"canary": {"steps": [{"setWeight": 100}]}}}}


class WatchedStack:
    """A namespace with the canaried services' Rollouts (Healthy) and their traffic scraped by Prometheus."""

    def __init__(self, servers, kube_cluster, errors: dict[str, int] | None = None):
        self.servers, self.kube_cluster = servers, kube_cluster
        self.namespace = new_namespace(kube_cluster, "watch")
        for name in watch.CANARIED:
            apply(kube_cluster, self.namespace, rollout(name))
        self.targets = {name: MetricsTarget() for name in watch.CANARIED}
        groups = []
        for name, target in self.targets.items():
            target.samples = Traffic((errors or {}).get(name, 0))
            groups.append({"targets": [target.address], "labels": {
                "namespace": self.namespace, "service": name, "job": name, "pod": f"{name}-0", "endpoint": "metrics"}})
        self.file = self.servers.standins_dir / f"{self.namespace}.json"
        self.file.with_suffix(".tmp").write_text(json.dumps(groups))
        self.file.with_suffix(".tmp").rename(self.file)
        self.monitoring = watch.Monitoring(servers.url("prometheus"), servers.url("alertmanager"), "the test")
        self.target = watch.Target(self.namespace, watch.CANARIED, GATES, str(kube_cluster.kubeconfig))
        wait_for(self._ready, f"Healthy Rollouts and gate data in {self.namespace}", timeout=300)

    def _ready(self) -> bool:
        phases = [r.get("status", {}).get("phase") for r in watch.rollouts(self.target).values()]
        if phases != ["Healthy"] * len(watch.CANARIED):
            return False
        for name in watch.CANARIED:
            result = query(self.servers, watch.render_args(GATES[0].query, {"service": name, "namespace": self.namespace}))
            if not result or math.isnan(float(result[0]["value"][1])):
                return False
        return True

    def close(self) -> None:
        self.file.unlink(missing_ok=True)
        for target in self.targets.values():
            target.close()
        self.kube_cluster.kubectl("delete", "namespace", self.namespace, "--wait=false", check=False)


@pytest.fixture(scope="module")
def oracle_chain(tmp_path_factory):
    """A localnet with the stack's oracle deployed and a keeper's price in it; (outputs, chain file)."""
    work = tmp_path_factory.mktemp("watch-oracle")
    cfg = parse(raw_config(localnetPath="chain.json"))
    address = TonContractProvider().create(contract_inputs(plan_contracts(contracts_args(cfg, work)).oracle)).outs["address"]
    outputs = {"pricing_oracle_address": address}
    with connect(ChainSettings("localnet", localnet_path=str(work / "chain.json"))) as client:
        keeper_updates_price(cfg, outputs, client)
    return outputs, work / "chain.json"


@pytest.fixture
def oracle(oracle_chain, tmp_path):
    """A private copy of the chain; yields (the watch's oracle check, the chain client)."""
    outputs, chain_file = oracle_chain
    copy = tmp_path / "chain.json"
    copy.write_bytes(chain_file.read_bytes())
    with connect(ChainSettings("localnet", localnet_path=str(copy))) as client:
        yield (lambda: verify.oracle_fresh(outputs, client)), client


@pytest.fixture(scope="module")
def clean_stack(servers, kube_cluster):
    stack = WatchedStack(servers, kube_cluster)
    yield stack
    stack.close()


def run_watch(stack: WatchedStack, oracle_check, capsys, minutes: float = 0.05, interval: float = 1,
              monitoring: watch.Monitoring | None = None) -> tuple[int, dict]:
    code = watch.watch(monitoring or stack.monitoring, stack.target, oracle_check, minutes, interval, as_json=True)
    captured = capsys.readouterr()
    table = json.loads(captured.out)  # only the table on stdout; the rounds on stderr
    assert "watch: round 1: " in captured.err or "watch: stopped after 1 round(s)" in captured.err
    return code, {c["name"]: c for c in table["checks"]}


def failed(checks: dict) -> set[str]:
    return {name for name, c in checks.items() if not c["ok"]}


def test_a_clean_watch_passes_every_round(clean_stack, oracle, capsys):
    code, checks = run_watch(clean_stack, oracle[0], capsys, minutes=0.05, interval=1)
    assert code == 0, checks
    assert set(checks) == {"alerts", "rollouts", "oracle freshness",
                           *(f"{g.metric} {s}" for g in GATES for s in watch.CANARIED)}
    assert checks["error-rate api-v2"]["detail"].startswith("0 of requests")
    assert "api-v2 Healthy" in checks["rollouts"]["detail"]


def test_without_an_alertmanager_the_alerts_come_from_prometheus(clean_stack, oracle, capsys):
    monitoring = watch.Monitoring(clean_stack.servers.url("prometheus"), None, "the test")
    code, checks = run_watch(clean_stack, oracle[0], capsys, minutes=0.01, monitoring=monitoring)
    assert code == 0 and checks["alerts"]["ok"], checks


def test_a_stale_oracle_stops_the_watch_naming_it(clean_stack, oracle, capsys):
    check, client = oracle
    client.advance_time(301)
    code, checks = run_watch(clean_stack, check, capsys)
    assert code == 1
    assert failed(checks) == {"oracle freshness"}
    assert "limit 300 s" in checks["oracle freshness"]["detail"]


def test_a_firing_alert_stops_the_watch_naming_it(servers, kube_cluster, oracle, capsys):
    stack = WatchedStack(servers, kube_cluster)
    try:
        now = datetime.now(timezone.utc)
        alert = [{"labels": {"alertname": "ApiV2Down", "severity": "critical", "namespace": stack.namespace},
                  "startsAt": now.isoformat(), "endsAt": (now + timedelta(minutes=10)).isoformat()}]
        request = urllib.request.Request(f"{servers.url('alertmanager')}/api/v2/alerts", json.dumps(alert).encode(),
                                         {"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=10).close()
        wait_for(lambda: watch.firing_alerts(stack.monitoring, stack.namespace), "the posted alert active")
        code, checks = run_watch(stack, oracle[0], capsys)
        assert code == 1
        assert failed(checks) == {"alerts"}
        assert "ApiV2Down (critical)" in checks["alerts"]["detail"]
        # Another namespace's alerts are not this stack's trouble.
        assert watch.alerts_quiet(stack.monitoring, stack.namespace + "-other")[0]
    finally:
        stack.close()


def test_an_error_rate_over_the_gate_stops_the_watch_naming_the_service(servers, kube_cluster, oracle, capsys):
    stack = WatchedStack(servers, kube_cluster, errors={"api-v2": 5})  # 5 % of requests, the gate is 1 %
    try:
        code, checks = run_watch(stack, oracle[0], capsys)
        assert code == 1
        assert failed(checks) == {"error-rate api-v2"}
        assert checks["error-rate api-v2"]["detail"] == "0.05 of requests (limit 0.01)"
    finally:
        stack.close()


def test_a_degraded_or_missing_rollout_fails_the_rollouts_check(clean_stack, kube_cluster):
    invalid = rollout("invalid")  # Argo refuses a canary analysis naming no AnalysisTemplate: InvalidSpec, Degraded
    invalid["spec"]["strategy"]["canary"]["steps"] = [{"analysis": {"templates": [{"templateName": "no-such"}]}}]
    apply(kube_cluster, clean_stack.namespace, invalid)
    try:
        target = watch.Target(clean_stack.namespace, (*watch.CANARIED, "invalid", "no-such-service"), GATES,
                              clean_stack.target.kubeconfig)
        wait_for(lambda: watch.rollouts(target)["invalid"].get("status", {}).get("phase") == "Degraded",
                 "Argo marking the invalid Rollout Degraded")
        ok, detail = watch.rollouts_healthy(target)
        assert not ok and "rollout no-such-service missing" in detail
        assert "invalid Degraded: " in detail and "no-such" in detail
        assert "api-v2" not in detail  # the healthy ones are not named as trouble
    finally:
        kube_cluster.kubectl("delete", "rollout", "invalid", "-n", clean_stack.namespace, check=False)


def test_an_unreachable_prometheus_is_a_clear_error(clean_stack, oracle):
    port = ports.free_port()
    monitoring = watch.Monitoring(f"http://127.0.0.1:{port}", None, "tonsurance:watchPrometheusUrl")
    with pytest.raises(watch.WatchError) as error:
        watch.watch(monitoring, clean_stack.target, oracle[0], 0.01, 1)
    message = str(error.value)
    assert f"127.0.0.1:{port}" in message and "tonsurance:watchPrometheusUrl" in message
    assert "--prometheus-url" in message
