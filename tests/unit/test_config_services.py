"""The `tonsurance:services` section and the image rules: defaults per network, every refusal names its key."""

import json
import socket

import pytest

from config import ConfigError
from tests.support import IMAGES, LOCAL_PROMETHEUS, PUBLIC_SERVICES, error_for, parse, raw_config, read


def services(network: str, **changes) -> dict[str, str]:
    base = {} if network == "localnet" else dict(PUBLIC_SERVICES)
    base.update(changes)
    return raw_config(network, services=json.dumps({k: v for k, v in base.items() if v is not None}))


def test_local_defaults_gate_the_canary_with_short_windows_and_no_aws():
    svc = parse(raw_config()).services
    rollout = svc.rollout
    assert (rollout.replicas, rollout.pause_seconds, rollout.analysis) == (2, 10, True)
    assert (rollout.analysis_window_seconds, rollout.analysis_interval_seconds, rollout.min_requests) == (60, 15, 30)
    assert (svc.secret_store, svc.redis_in_cluster, svc.redis_storage) == ("fake", True, "1Gi")
    assert (svc.domain, svc.tls_issuer, svc.rate_limit_rps) == ("tonsurance.localhost", "tonsurance-local-ca", 20)


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A checkout directory whose .state/ports.json the program reads (the cwd of `pulumi up`)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".state").mkdir()
    return tmp_path


def test_local_prometheus_url_is_the_running_servers_recorded_port(checkout):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        (checkout / ".state" / "ports.json").write_text(json.dumps({"prometheus": port, "postgres": 1}))
        assert read(services("localnet")).services.rollout.prometheus_url == f"http://127.0.0.1:{port}"
    # The server stopped: the program refuses to gate against nothing, and says how to start it.
    with pytest.raises(ConfigError) as info:
        read(services("localnet"))
    err = info.value
    assert err.key == "tonsurance:services.prometheusUrl" and "make up" in str(err)


def test_local_prometheus_never_recorded_is_a_clear_error(checkout):
    assert parse(services("localnet")).services.rollout.prometheus_url is None  # parsing reads no file
    with pytest.raises(ConfigError) as info:
        read(services("localnet"))
    assert info.value.key == "tonsurance:services.prometheusUrl" and "no local Prometheus runs" in str(info.value)
    assert read(services("localnet", analysis=False)).services.rollout.prometheus_url is None


def test_mainnet_keeps_the_guides_five_minute_window():
    assert parse(raw_config("mainnet")).services.rollout.analysis_window_seconds == 300
    err = error_for(services("mainnet", analysisWindowSeconds=60))
    assert err.key == "tonsurance:services.analysisWindowSeconds" and "at least 300" in str(err)
    err = error_for(services("testnet", analysisWindowSeconds=60, analysisIntervalSeconds=120))
    assert err.key == "tonsurance:services.analysisIntervalSeconds"


def test_mainnet_defaults_are_the_guides_canary_and_gates():
    svc = parse(raw_config("mainnet")).services
    rollout = svc.rollout
    assert (rollout.replicas, rollout.pause_seconds, rollout.analysis) == (10, 300, True)
    assert (rollout.max_error_rate, rollout.max_p99_ms) == (0.01, 500)
    assert rollout.prometheus_url == "http://prometheus-operated.monitoring.svc:9090"
    assert (svc.secret_store, svc.aws_region, svc.redis_in_cluster) == ("aws", "eu-central-1", False)  # awsRegion
    assert (svc.ingress_namespace, svc.prometheus_namespace) == ("ingress-nginx", "monitoring")


def test_mainnet_may_tighten_the_gates():
    rollout = parse(services("mainnet", replicas=12, pauseSeconds=600, maxErrorRate=0.005, maxP99Ms=300)).services.rollout
    assert (rollout.replicas, rollout.pause_seconds, rollout.max_error_rate, rollout.max_p99_ms) == (12, 600, 0.005, 300)


def test_mainnet_accepts_each_gate_at_its_limit():
    """The refusals below are one step past these: 5 replicas (4 refused), a 300 s pause (299), an error rate of
    0.01 (0.0101) and a p99 of 500 ms (501) are themselves allowed."""
    rollout = parse(services("mainnet", replicas=5, pauseSeconds=300, maxErrorRate=0.01, maxP99Ms=500)).services.rollout
    assert (rollout.replicas, rollout.pause_seconds, rollout.max_error_rate, rollout.max_p99_ms) == (5, 300, 0.01, 500)


@pytest.mark.parametrize("key, value, expected", [
    ("analysis", False, "cannot be false on mainnet"),
    ("replicas", 4, "must be at least 5 on mainnet"),
    ("pauseSeconds", 299, "must be at least 300 on mainnet"),
    ("maxErrorRate", 0.0101, "must be at most 0.01 on mainnet"),
    ("maxP99Ms", 501, "must be at most 500 on mainnet"),
    ("secretStore", "fake", "cannot be fake on mainnet"),
])
def test_mainnet_refuses_looser_gates(key, value, expected):
    err = error_for(services("mainnet", **{key: value}))
    assert err.key == f"tonsurance:services.{key}" and expected in str(err)


@pytest.mark.parametrize("key, needed", [("domain", "public DNS domain"), ("tlsIssuer", "ClusterIssuer"),
                                         ("prometheusUrl", "Prometheus address")])
def test_public_networks_require_what_has_no_sensible_default(key, needed):
    err = error_for(services("testnet", **{key: None}))
    assert err.key == f"tonsurance:services.{key}" and "is required on testnet" in str(err) and needed in str(err)


def test_an_aws_store_needs_the_stacks_region():
    err = error_for(raw_config("testnet", awsRegion=None))
    assert err.key == "tonsurance:awsRegion" and "services.secretStore is aws" in str(err)
    err = error_for(services("localnet", secretStore="aws", prometheusUrl=LOCAL_PROMETHEUS))
    assert err.key == "tonsurance:awsRegion"
    with_region = {**services("localnet", secretStore="aws", prometheusUrl=LOCAL_PROMETHEUS),  # pragma: allowlist secret
                   "awsRegion": "eu-west-1"}
    assert parse(with_region).services.aws_region == "eu-west-1"


def test_testnet_may_switch_analysis_off_and_then_needs_no_prometheus():
    rollout = parse(services("testnet", analysis=False, prometheusUrl=None)).services.rollout
    assert rollout.analysis is False and rollout.prometheus_url is None


@pytest.mark.parametrize("key, value, expected", [
    ("replicas", "10", "must be a whole number"),
    ("replicas", True, "must be a whole number"),
    ("replicas", 0, "between 1 and 100"),
    ("pauseSeconds", 1.5, "must be a whole number"),
    ("pauseSeconds", -1, "between 0 and 86400"),
    ("maxErrorRate", "1%", "must be a number"),
    ("maxErrorRate", 0, "between 0.0001 and 0.5"),
    ("maxP99Ms", 5, "between 10 and 60000"),
    ("analysis", "yes", "must be true or false"),
    ("rateLimitRps", 0, "between 1 and 10000"),
    ("redis", "cluster", "must be in-cluster or external"),
    ("redisStorage", "10GB", "a size like 10Gi"),
    ("redisImage", "redis", "explicit tag or digest"),
    ("prometheusUrl", "prometheus:9090", "http(s):// URL"),
    ("domain", "https://tonsurance.com", "DNS name"),
    ("tlsIssuer", "Lets_Encrypt", "DNS-1123 label"),
    ("ingressNamespace", "", "DNS-1123 label"),
    ("secretStore", "vault", "must be aws or fake"),
])
def test_malformed_values_are_refused_naming_the_key(key, value, expected):
    err = error_for(services("testnet", **{key: value}))
    assert err.key == f"tonsurance:services.{key}" and expected in str(err)


def test_unknown_services_key_is_a_typo():
    err = error_for(services("localnet", replica=3))
    assert err.key == "tonsurance:services" and "unknown keys replica" in str(err)


@pytest.mark.parametrize("network", ["testnet", "mainnet"])
def test_latest_is_refused_on_public_networks_even_with_a_digest(network):
    for image in ("ghcr.io/tonsurance/api-v2:latest", "ghcr.io/tonsurance/api-v2:latest@sha256:" + "a" * 64):
        images = {**json.loads(raw_config(network)["images"]), "apiV2": image}
        err = error_for(raw_config(network, images=json.dumps(images)))
        assert err.key == "tonsurance:images.apiV2" and f"must pin a version on {network}" in str(err)
    err = error_for(services(network, redisImage="redis:latest"))
    assert err.key == "tonsurance:services.redisImage"


def test_images_may_be_pinned_by_digest_but_not_left_untagged():
    digest = "ghcr.io/tonsurance/api-v2@sha256:" + "0123456789abcdef" * 4
    assert parse(raw_config("testnet", images=json.dumps({**IMAGES, "apiV2": digest}))).kubernetes.images["apiV2"] == digest
    for bad in ("ghcr.io/tonsurance/api-v2", "ghcr.io/tonsurance/api-v2@sha256:short", "ghcr.io/tonsurance/api-v2:"):
        err = error_for(raw_config("testnet", images=json.dumps({**IMAGES, "apiV2": bad})))
        assert err.key == "tonsurance:images.apiV2" and "explicit tag or digest" in str(err)
    assert parse(raw_config("localnet", images=json.dumps({**IMAGES, "apiV2": "api-v2:latest"})))  # local may float
