"""The AlertmanagerConfig the program creates, translated to alertmanager.yml as prometheus-operator does it:
for testnet and mainnet (the whole program under Pulumi's mocks) `amtool check-config` accepts the real
configuration and `amtool config routes test` routes by severity as the guide says; a broken one is refused;
the local stack's translation keeps every route and sends every receiver to the sink."""

from __future__ import annotations

import runpy
import subprocess

import pulumi
import pytest
import yaml

from localcluster.kubeapi import KubeApi, KubeApiError
from localcluster.monitoring_config import AlertmanagerConfigError, alertmanager_config
from localcluster.monitoring_sync import MonitoringSync
from localcluster.servers import TOOLS_BIN
from monitoring.alerts import ALERTS
from tests.monitoring.conftest import ROOT
from tests.support import SECRETS, RecordingMocks, raw_config, ton_answer

AMTOOL = TOOLS_BIN / "amtool"
# Stand-ins for the Secrets' values (External Secrets fills them from Secrets Manager on a real cluster).
PLACEHOLDERS = {"slack-webhook-url": "https://hooks.slack.invalid/tonsurance-test",
                "pagerduty-routing-key": "tonsurance-test-routing-key"}


def placeholder(namespace: str, name: str, key: str) -> str:
    assert key == "value"
    return PLACEHOLDERS[name]


@pytest.fixture
def routing_of(pulumi_mocks, monkeypatch):
    """routing_of(network): the AlertmanagerConfig object `__main__.py` registers for that network."""
    monkeypatch.setattr("config.loader.stack_secrets_provider", lambda stack: "awskms://alias/tonsurance-test")
    monkeypatch.setenv("PULUMI_BACKEND_URL", "s3://tonsurance-pulumi-state")  # public stacks journal beside it

    def run(network: str) -> dict:
        mocks = RecordingMocks(ton_answer)  # shard batches answered like their provider
        pulumi_mocks(mocks)
        pulumi.runtime.set_all_config({f"tonsurance:{k}": v for k, v in raw_config(network).items()},
                                      [f"tonsurance:{k}" for k in SECRETS])
        pulumi.runtime.test(lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__"))()
        (routing,) = [r for r in mocks.registered if r.typ.endswith(":AlertmanagerConfig")]
        return {"metadata": routing.inputs["metadata"], "spec": routing.inputs["spec"]}

    yield run
    pulumi.runtime.set_all_config({}, [])


def amtool(*args: str) -> subprocess.CompletedProcess:
    if not AMTOOL.exists():
        pytest.fail(f"{AMTOOL} is missing: run scripts/bootstrap (its alertmanager step builds it)")
    return subprocess.run([str(AMTOOL), *args], capture_output=True, text=True, timeout=60)


def receivers_for(config_file, **labels: str) -> set[str]:
    out = amtool("config", "routes", "test", f"--config.file={config_file}", *(f"{k}={v}" for k, v in labels.items()))
    assert out.returncode == 0, out.stderr
    return set(out.stdout.strip().split(","))


@pytest.mark.parametrize("network", ["testnet", "mainnet"])
def test_amtool_accepts_the_public_stacks_configuration_and_routes_by_severity(routing_of, network, tmp_path):
    routing = routing_of(network)
    namespace, name = routing["metadata"]["namespace"], routing["metadata"]["name"]
    config = alertmanager_config([routing], secret_value=placeholder)
    file = tmp_path / "alertmanager.yml"
    file.write_text(yaml.safe_dump(config))
    check = amtool("check-config", str(file))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS" in check.stdout and " - 3 receivers" in check.stdout  # null, on-call, slack

    receivers = {r["name"]: r for r in config["receivers"]}
    assert receivers[f"{namespace}/{name}/slack"]["slack_configs"][0]["api_url"] == PLACEHOLDERS["slack-webhook-url"]
    assert receivers[f"{namespace}/{name}/on-call"]["pagerduty_configs"][0]["routing_key"] == \
        PLACEHOLDERS["pagerduty-routing-key"]
    # Critical pages the on-call and posts to Slack; high posts to Slack; another namespace's alert goes nowhere.
    assert receivers_for(file, namespace=namespace, severity="critical", alertname="X") == \
        {f"{namespace}/{name}/on-call", f"{namespace}/{name}/slack"}
    assert receivers_for(file, namespace=namespace, severity="high", alertname="X") == {f"{namespace}/{name}/slack"}
    assert receivers_for(file, namespace="other", severity="critical", alertname="X") == {"null"}


def test_amtool_routes_every_alert_of_the_table_by_its_severity(routing_of, tmp_path):
    """Each alert as Prometheus sends it (its rule's labels): the critical ones, the down alerts, BackupOverdue
    and ApiErrorRateHigh among them, page the on-call and post to Slack; the high ones post to Slack only."""
    routing = routing_of("mainnet")
    namespace, name = routing["metadata"]["namespace"], routing["metadata"]["name"]
    file = tmp_path / "alertmanager.yml"
    file.write_text(yaml.safe_dump(alertmanager_config([routing], secret_value=placeholder)))
    page, slack = f"{namespace}/{name}/on-call", f"{namespace}/{name}/slack"
    for alert in ALERTS:
        expected = {page, slack} if alert.severity == "critical" else {slack}
        labels = {"alertname": alert.name, "severity": alert.severity, "namespace": namespace, "job": "api-v2"}
        assert receivers_for(file, **labels) == expected, alert.name
    paged = {a.name for a in ALERTS if a.severity == "critical"}
    assert {"ApiErrorRateHigh", "BackupOverdue", "ClaimsProcessorDown", "ApiV2Down", "WebsocketV2Down",
            "PricingKeeperDown", "BridgeHealthKeeperDown"} <= paged


def test_amtool_refuses_a_broken_configuration(routing_of, tmp_path):
    config = alertmanager_config([routing_of("mainnet")], secret_value=placeholder)
    config["route"]["routes"][0]["routes"][0]["receiver"] = "nobody"  # a route to an undefined receiver
    file = tmp_path / "alertmanager.yml"
    file.write_text(yaml.safe_dump(config))
    check = amtool("check-config", str(file))
    assert check.returncode != 0
    assert 'undefined receiver "nobody"' in check.stdout + check.stderr


def test_the_local_translation_keeps_every_route_and_sends_every_receiver_to_the_sink(routing_of):
    routing = routing_of("localnet")
    public = alertmanager_config([routing], secret_value=placeholder)
    local = alertmanager_config([routing], local_webhook="http://127.0.0.1:9/alerts")
    assert local["route"] == public["route"]
    assert [r["name"] for r in local["receivers"]] == [r["name"] for r in public["receivers"]]
    for receiver in local["receivers"][1:]:
        assert list(receiver) == ["name", "webhook_configs"]
        assert receiver["webhook_configs"] == [{"url": "http://127.0.0.1:9/alerts", "send_resolved": True}]
    # The local stack's program batches for seconds, not minutes: drills see notifications and resolutions.
    assert (local["route"]["routes"][0]["group_wait"], local["route"]["routes"][0]["group_interval"]) == ("5s", "10s")


@pytest.mark.parametrize("spec, message", [
    ({"route": {"receiver": "r", "matchers": [{"name": "a", "value": "b", "matchType": "~"}]}, "receivers": [{"name": "r"}]},
     "spec.route: matchType '~'"),
    ({"route": {"receiver": "r", "groupBy": ["a"], "inhibit": True}, "receivers": [{"name": "r"}]},
     "route field 'inhibit' is not supported"),
    ({"route": {"receiver": "r"}, "receivers": [{"name": "r", "carrierPigeonConfigs": [{}]}]},
     "receiver r: carrierPigeonConfigs is not supported"),
])
def test_what_cannot_be_translated_is_named(spec, message):
    with pytest.raises(AlertmanagerConfigError) as info:
        alertmanager_config([{"metadata": {"namespace": "ns", "name": "routing"}, "spec": spec}], secret_value=placeholder)
    assert "AlertmanagerConfig ns/routing" in str(info.value) and message in str(info.value)


def test_the_api_client_refuses_a_server_that_is_not_loopback(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "current-context": "c", "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [{"name": "k", "cluster": {"server": "https://10.96.0.1:443"}}],
        "users": [{"name": "u", "user": {"token": "t"}}]}))
    with pytest.raises(KubeApiError) as info:
        KubeApi(kubeconfig)
    assert "https://10.96.0.1:443 is not a loopback https address" in str(info.value)


def test_the_sync_reports_a_cluster_that_is_not_there(tmp_path):
    sync = MonitoringSync(tmp_path / "no-kubeconfig", "ns", tmp_path / "monitoring", "http://127.0.0.1:9",
                          "http://127.0.0.1:9", "http://127.0.0.1:9", TOOLS_BIN)
    status = sync.sync_once()
    assert status["errors"] == [f"cannot read the cluster: {tmp_path / 'no-kubeconfig'} does not exist: "
                                "start the cluster (scripts/cluster start)"]
    assert (tmp_path / "monitoring" / "sync.json").exists()
