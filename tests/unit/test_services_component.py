"""BackendServices under Pulumi's mocks, for each stack's config: canary shape, singletons, secrets by
reference only, the contract-addresses ConfigMap in every workload, NetworkPolicies, ingress."""
from __future__ import annotations

import json

import pytest

from components.services.backend_services import checksum
from components.services.catalog import SERVICES, SERVICES_BY_NAME, secret_id, secret_names, secret_sets
from components.services.rollout_analysis import ERROR_RATE, LATENCY_P99
from components.services.secrets import fake_value
from components.services.workload import CHECKSUM_ANNOTATION
from resource_types import ARGO_ANALYSIS_TEMPLATE as ANALYSIS, ARGO_ROLLOUT as ROLLOUT, K8S_DEPLOYMENT as DEPLOYMENT
from tests.support import (LOCAL_PROMETHEUS, SERVICE_CONTRACTS as CONTRACTS, RecordingMocks, argo_measurement, raw_config,
                           run_backend_services)

EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
STORE = "kubernetes:external-secrets.io/v1:ClusterSecretStore"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
STACKS = ("localnet", "testnet", "mainnet")


def pod_templates(mocks: RecordingMocks) -> dict[str, dict]:
    """Every workload's pod template, Rollouts and Deployments alike."""
    workloads = {**mocks.named(ROLLOUT), **mocks.named(DEPLOYMENT)}
    return {name: obj["spec"]["template"] for name, obj in workloads.items()}


def gate_limits(templates: dict[str, dict]) -> dict[str, float]:
    """Per gate, the lowest of the candidate values whose measurement Argo fails (the gate's limit): each value
    below it passes."""
    candidates = [n / 10_000 for n in range(1, 10_001)]   # 0.0001 .. 1.0
    limits = {}
    for name, template in templates.items():
        metric = template["spec"]["metrics"][0]
        verdicts = [(value, argo_measurement(metric, [value])) for value in candidates]
        limits[name] = next(value for value, phase in verdicts if phase == "Failed")
        assert all(phase == "Successful" for value, phase in verdicts if value < limits[name]), name
    return limits


def test_mainnet_canary_is_20_50_100_over_10_replicas_each_weight_held_by_both_gates(mocks):
    run_backend_services("mainnet")
    rollouts = mocks.named(ROLLOUT)
    assert set(rollouts) == {"ocaml-backend", "api-v2", "websocket-v2"}
    for name, rollout in rollouts.items():
        spec = rollout["spec"]
        assert spec["replicas"] == 10
        canary = spec["strategy"]["canary"]
        steps = canary["steps"]
        assert [list(step) for step in steps] == [["setWeight"], ["analysis"], ["setWeight"], ["analysis"], ["setWeight"]]
        for gate in (steps[1]["analysis"], steps[3]["analysis"]):
            assert [t["templateName"] for t in gate["templates"]] == [ERROR_RATE, LATENCY_P99]
        assert canary["maxUnavailable"] == 0
        assert spec["progressDeadlineAbort"] is True
        # pulumi up waits for both gated steps (5 measurements a minute apart each) plus its margin
        assert rollout["metadata"]["annotations"]["pulumi.com/timeoutSeconds"] == str(2 * 300 + 600)
    templates = mocks.named(ANALYSIS)
    assert set(templates) == {ERROR_RATE, LATENCY_P99}
    # The guide's gates by what they decide (tests/unit/test_rollout_analysis.py evaluates the queries too).
    assert gate_limits(templates) == {ERROR_RATE: 0.01, LATENCY_P99: 0.5}
    for template in templates.values():
        metric = template["spec"]["metrics"][0]
        assert metric["provider"]["prometheus"]["address"] == "http://prometheus-operated.monitoring.svc:9090"
        assert metric["failureLimit"] == 0


def test_tightened_gates_reach_the_templates(mocks):
    run_backend_services("mainnet", maxErrorRate=0.005, maxP99Ms=250, replicas=12)
    assert gate_limits(mocks.named(ANALYSIS)) == {ERROR_RATE: 0.005, LATENCY_P99: 0.25}
    assert {r["spec"]["replicas"] for r in mocks.named(ROLLOUT).values()} == {12}


def test_local_canary_is_gated_by_the_local_prometheus_with_one_minute_windows(mocks):
    run_backend_services("localnet")
    templates = mocks.named(ANALYSIS)
    assert set(templates) == {ERROR_RATE, LATENCY_P99}
    for template in templates.values():
        metric = template["spec"]["metrics"][0]
        assert (metric["interval"], metric["count"]) == ("15s", 4) and "[60s]" in metric["provider"]["prometheus"]["query"]
        assert metric["provider"]["prometheus"]["address"] == LOCAL_PROMETHEUS
    for rollout in mocks.named(ROLLOUT).values():
        assert rollout["spec"]["replicas"] == 2 and "analysis" in rollout["spec"]["strategy"]["canary"]["steps"][1]


def test_without_analysis_the_canary_pauses_and_zero_pause_drops_the_steps(mocks):
    run_backend_services("testnet", analysis=False, pauseSeconds=0)
    assert mocks.named(ANALYSIS) == {}
    for rollout in mocks.named(ROLLOUT).values():
        assert rollout["spec"]["strategy"]["canary"]["steps"] == [{"setWeight": 20}, {"setWeight": 50}, {"setWeight": 100}]


def test_without_analysis_each_weight_pauses(mocks):
    run_backend_services("localnet", analysis=False)
    for rollout in mocks.named(ROLLOUT).values():
        assert rollout["spec"]["strategy"]["canary"]["steps"][1] == {"pause": {"duration": "10s"}}


@pytest.mark.parametrize("network", STACKS)
def test_keepers_are_single_replica_recreate_deployments(mocks, network):
    run_backend_services(network)
    deployments = mocks.named(DEPLOYMENT)
    assert set(deployments) == {"pricing-keeper", "bridge-health-keeper"}
    for keeper in deployments.values():
        assert keeper["spec"]["replicas"] == 1 and keeper["spec"]["strategy"] == {"type": "Recreate"}
    assert not set(deployments) & set(mocks.named(ROLLOUT))
    budgets = {i["metadata"]["name"] for t, i in mocks.objects if t == "kubernetes:policy/v1:PodDisruptionBudget"}
    assert budgets == {"ocaml-backend", "api-v2", "websocket-v2"}


@pytest.mark.parametrize("network", STACKS)
def test_every_workload_reads_contract_addresses_and_rolls_when_they_change(mocks, network):
    run_backend_services(network)
    config_maps = {i["metadata"]["name"]: i for t, i in mocks.objects if t == "kubernetes:core/v1:ConfigMap"}
    assert config_maps["contract-addresses"]["data"] == CONTRACTS
    templates = pod_templates(mocks)
    assert set(templates) == {s.name for s in SERVICES}
    for template in templates.values():
        container = template["spec"]["containers"][0]
        assert {"configMapRef": {"name": "contract-addresses"}} in container["envFrom"]
        assert template["metadata"]["annotations"][CHECKSUM_ANNOTATION] == checksum(CONTRACTS)


def test_the_checksum_follows_the_addresses_not_their_order():
    changed = {**CONTRACTS, "PRICING_ORACLE_ADDRESS": "EQ-new-oracle"}
    assert checksum(dict(reversed(list(CONTRACTS.items())))) == checksum(CONTRACTS) != checksum(changed)


@pytest.mark.parametrize("network", STACKS)
def test_no_secret_value_in_any_workload_and_every_secret_has_an_external_secret(mocks, network):
    run_backend_services(network)
    made = {name: es["spec"]["target"]["name"] for name, es in mocks.named(EXTERNAL_SECRET).items()}
    assert all(name == target for name, target in made.items())
    for name, template in pod_templates(mocks).items():
        container = template["spec"]["containers"][0]
        plain = {e["name"]: e["value"] for e in container["env"] if "value" in e}
        # nothing else is a literal but libpq's TLS settings (tests/unit/test_database_tls_wiring.py)
        assert set(plain) - {"PGSSLMODE", "PGSSLROOTCERT"} == {"PORT", "METRICS_PORT"}
        refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e}
        assert refs == set(SERVICES_BY_NAME[name].secret_names)
        assert refs <= set(made), f"{name} reads a Secret no ExternalSecret makes"
        text = json.dumps(template)
        assert not any(fake_value(s) in text for s in made)
    for es in mocks.named(EXTERNAL_SECRET).values():  # ExternalSecrets name remote keys, never values
        assert all(d["remoteRef"]["key"].startswith(f"tonsurance/{network}/") for d in es["spec"]["data"])


def test_local_store_is_fake_with_in_cluster_redis(mocks):
    run_backend_services("localnet")
    stores = mocks.named(STORE)
    # One store per secret set, named after the namespace: unique per stack in a cluster.
    assert set(stores) == {f"tonsurance-localnet-{s}" for s in secret_sets(redis_in_cluster=True)}
    data = [d for store in stores.values() for d in store["spec"]["provider"]["fake"]["data"]]
    assert sorted(d["key"] for d in data) == sorted(secret_id("localnet", n) for n in secret_names(redis_in_cluster=True))
    assert all(store["spec"]["conditions"] == [{"namespaces": ["tonsurance-localnet"]}] for store in stores.values())
    redis_url = mocks.named(EXTERNAL_SECRET)["redis-url"]["spec"]
    assert redis_url["data"] == [{"secretKey": "password", "remoteRef": {"key": "tonsurance/localnet/redis-password"}}]
    assert redis_url["target"]["template"]["data"]["value"] == \
        "redis://:{{ .password | urlquery }}@redis.tonsurance-localnet.svc.cluster.local:6379/0"
    statefulsets = {i["metadata"]["name"]: i for t, i in mocks.objects if t == "kubernetes:apps/v1:StatefulSet"}
    redis = statefulsets["redis"]["spec"]
    claim = redis["volumeClaimTemplates"][0]["spec"]
    assert claim["resources"]["requests"] == {"storage": "1Gi"} and claim["storageClassName"] == ""
    volumes = [i for t, i in mocks.objects if t == "kubernetes:core/v1:PersistentVolume"]
    assert [v["spec"]["claimRef"] for v in volumes] == [{"namespace": "tonsurance-localnet", "name": "data-redis-0"}]
    assert redis["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Delete", "whenScaled": "Retain"}
    assert redis["template"]["spec"]["containers"][0]["env"] == [
        {"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "redis-password", "key": "value"}}}]
    assert "redis" in mocks.named(POLICY)


def test_mainnet_store_is_secrets_manager_and_redis_is_managed(mocks):
    run_backend_services("mainnet")
    assert len(mocks.named(STORE)) == len(secret_sets(redis_in_cluster=False))
    for store in mocks.named(STORE).values():
        assert store["spec"]["provider"] == {"aws": {"service": "SecretsManager", "region": "eu-central-1"}}
    assert set(mocks.named(EXTERNAL_SECRET)) == set(secret_names(redis_in_cluster=False))
    assert mocks.named(EXTERNAL_SECRET)["redis-url"]["spec"]["data"][0]["remoteRef"]["key"] == "tonsurance/mainnet/redis-url"
    assert not [t for t, _ in mocks.objects if t == "kubernetes:apps/v1:StatefulSet"]


@pytest.mark.parametrize("network", STACKS)
def test_default_deny_then_one_network_policy_per_workload(mocks, network):
    run_backend_services(network)
    policies = mocks.named(POLICY)
    deny = policies["default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert {s.name for s in SERVICES} <= set(policies)
    for spec in SERVICES:
        policy = policies[spec.name]["spec"]
        assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == spec.name
        assert policy["policyTypes"] == ["Ingress", "Egress"]


def _sources(policy: dict, port) -> list[dict]:
    return [peer for rule in policy.get("ingress", []) for peer in rule["from"]
            if any(p["port"] == port for p in rule["ports"])]


def test_network_policies_open_only_what_each_workload_needs(mocks):
    run_backend_services("mainnet", redis="in-cluster", redisImage="redis:7.4.1-alpine@sha256:" + "ab" * 32)
    # A cluster with a provisioner: the claim takes the default storage class, no volume is made by hand.
    (redis,) = [i for t, i in mocks.objects if t == "kubernetes:apps/v1:StatefulSet"]
    assert "storageClassName" not in redis["spec"]["volumeClaimTemplates"][0]["spec"]
    assert "persistentVolumeClaimRetentionPolicy" not in redis["spec"]  # Redis keeps its data on real clusters
    assert not [t for t, _ in mocks.objects if t == "kubernetes:core/v1:PersistentVolume"]
    policies = {n: p["spec"] for n, p in mocks.named(POLICY).items()}
    nginx = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    assert _sources(policies["api-v2"], "http") == [nginx]
    assert _sources(policies["websocket-v2"], "http") == [nginx]
    backend_callers = {p["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                       for p in _sources(policies["ocaml-backend"], "http")}
    assert backend_callers == {"pricing-keeper", "api-v2", "websocket-v2"}
    for keeper in ("pricing-keeper", "bridge-health-keeper"):  # nothing may call a keeper
        assert _sources(policies[keeper], "http") == []
    for name, policy in policies.items():
        if name in SERVICES_BY_NAME:
            assert _sources(policy, "metrics") == [
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    egress_ports = {name: {p["port"] for rule in policies[name]["egress"] for p in rule["ports"]}
                    for name in SERVICES_BY_NAME}
    assert egress_ports["websocket-v2"] == {53, 6379, "http"}  # DNS, Redis, the backend
    assert egress_ports["api-v2"] == {53, 5432, 6379, "http"}
    assert 5432 not in egress_ports["pricing-keeper"] and 443 in egress_ports["pricing-keeper"]
    assert 443 not in egress_ports["api-v2"]  # no internet for the API
    internet = [r for r in policies["ocaml-backend"]["egress"] if any(p["port"] == 443 for p in r["ports"])]
    assert internet[0]["to"][0]["ipBlock"]["except"] == ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                         "169.254.0.0/16"]
    assert policies["redis"]["egress"] == [] and {
        p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for p in _sources(policies["redis"], 6379)
    } == {"ocaml-backend", "api-v2", "websocket-v2", "redis-exporter"}  # the services that read redis-url, its exporter


def test_ingresses_serve_api_and_ws_with_tls_from_the_issuer_and_rate_limits(mocks):
    run_backend_services("mainnet", rateLimitRps=50)
    ingresses = mocks.named(INGRESS)
    assert set(ingresses) == {"api-v2", "websocket-v2"}
    for name, host in (("api-v2", "api.tonsurance.com"), ("websocket-v2", "ws.tonsurance.com")):
        ingress = ingresses[name]
        annotations = ingress["metadata"]["annotations"]
        assert annotations["cert-manager.io/cluster-issuer"] == "letsencrypt-prod"
        assert annotations["nginx.ingress.kubernetes.io/limit-rps"] == "50"
        assert ingress["spec"]["ingressClassName"] == "nginx"
        assert ingress["spec"]["tls"] == [{"hosts": [host], "secretName": f"{name}-tls"}]
        assert ingress["spec"]["rules"][0]["host"] == host
    assert ingresses["websocket-v2"]["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"
    assert "nginx.ingress.kubernetes.io/proxy-read-timeout" not in ingresses["api-v2"]["metadata"]["annotations"]
    assert all("pulumi.com/skipAwait" not in i["metadata"]["annotations"] for i in ingresses.values())


def test_local_ingresses_are_not_awaited_for_a_load_balancer_nobody_runs(mocks):
    run_backend_services("localnet")
    assert {i["metadata"]["annotations"]["pulumi.com/skipAwait"] for i in mocks.named(INGRESS).values()} == {"true"}


@pytest.mark.parametrize("network", STACKS)
def test_pods_run_restricted_with_probes_resources_and_spread(mocks, network):
    run_backend_services(network)
    for name, template in pod_templates(mocks).items():
        spec = SERVICES_BY_NAME[name]
        pod = template["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False and pod["serviceAccountName"] == name
        container = pod["containers"][0]
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
        assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": spec.port,
                                                                               "metrics": spec.metrics_port}
        size = spec.resources[network]
        assert container["resources"] == {"requests": {"cpu": size.cpu_request, "memory": size.memory_request},
                                           "limits": {"cpu": size.cpu_limit, "memory": size.memory_limit}}
        assert container["image"] == json.loads(raw_config(network)["images"])[spec.image_key]
        assert template["metadata"]["labels"]["app.kubernetes.io/version"] == "1.0.0"
        assert ("topologySpreadConstraints" in pod) == spec.replicated
