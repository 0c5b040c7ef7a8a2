"""Every rule of the policy pack (policy/rules.py) on resources as the engine hands them over: the contract
inputs come from the real plan (plan_contracts + contract_inputs), so the admin rule runs the real code
and init data on the TVM. The pack itself runs through the real engine in tests/e2e/test_policy_pack.py."""
from __future__ import annotations

import copy
from dataclasses import replace

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy
from pytoniq_core.crypto.keys import mnemonic_new

from chain.wallets import deployer_wallet_addresses
from policy import rules
from policy.rules import Resource
from resource_types import (
    ARGO_ROLLOUT, K8S_DEPLOYMENT, K8S_SECRET, S3_BUCKET_ENCRYPTION, S3_BUCKET_PUBLIC_ACCESS_BLOCK, SQL_MIGRATIONS,
    TON_CONTRACT, TON_DEPLOYMENT, TON_SHARD_BATCH,
)
from tests.support import contracts_args
from ton_deploy.contract import contract_inputs
from ton_deploy.deployment import deployment_inputs
from ton_deploy.plan import plan_contracts
from ton_deploy.shard_batch import batch_inputs

MNEMONIC = " ".join(mnemonic_new(24))
ADMIN = "0:" + "a1" * 32


def ton_resources(network="localnet", admin=ADMIN, protect=False, mnemonic=MNEMONIC) -> list[Resource]:
    plan = plan_contracts(contracts_args(network, admin=admin, keepers=("0:" + "b1" * 32,), mnemonic=mnemonic))
    contracts = {"oracle": plan.oracle, "vault": plan.vault, "router": plan.router,
                 **{f"token-{t}": a for t, a in plan.tokens.items()}}
    found = [Resource(TON_CONTRACT, name, f"urn:{name}", contract_inputs(a), protect) for name, a in contracts.items()]
    found += [Resource(TON_SHARD_BATCH, f"batch{i}", f"urn:batch{i}", batch_inputs(b), protect)
              for i, b in enumerate(plan.batches)]
    found.append(Resource(TON_DEPLOYMENT, "deployment", "urn:deployment", deployment_inputs(plan.deployment), protect))
    return found


def check(rule, resources) -> list[tuple[str, str]]:
    return list(rule(resources))


# ---- contracts --------------------------------------------------------------------------------------

def test_mainnet_contracts_must_be_protected():
    violations = check(rules.contracts_protected, ton_resources("mainnet"))
    assert {urn for urn, _ in violations} == {f"urn:{n}" for n in ("oracle", "vault", "router", "batch0", "deployment")} | {
        f"urn:token-{t}" for t in ("BTC", "SNR", "MEZZ", "JNR", "JNR+", "EQT")}
    assert "is not protected" in violations[0][1]
    assert check(rules.contracts_protected, ton_resources("mainnet", protect=True)) == []
    assert check(rules.contracts_protected, ton_resources("localnet")) == []  # protect is a mainnet rule


@pytest.mark.parametrize("wallet", ["wallet_v4r2", "highload_wallet_v3"])
def test_admin_equal_to_a_deployer_wallet_is_refused(wallet):
    deployer = deployer_wallet_addresses(MNEMONIC)[wallet].to_str(is_user_friendly=False)
    violations = check(rules.contract_admins, ton_resources(admin=deployer))
    assert sorted(urn for urn, _ in violations) == ["urn:deployment"] * 3 + ["urn:oracle", "urn:router", "urn:vault"]
    # Resources without an admin (a workload, here listed first) are passed over, not the end of the search.
    assert check(rules.contract_admins, [workload()] + ton_resources(admin=deployer)) == violations
    assert all(f"is the deployer's {wallet} address" in message for _, message in violations)
    assert all(MNEMONIC.split()[0] not in message.split() for _, message in violations)


def test_multisig_admin_passes_and_is_read_from_the_deployed_code():
    resources = ton_resources()
    assert check(rules.contract_admins, resources) == []
    assert {admin for r in resources for admin in rules.deployed_admins(r).values()} == {ADMIN}
    [deployment] = [r for r in resources if r.type == TON_DEPLOYMENT]
    assert sorted(rules.deployed_admins(deployment)) == [f"{kind} {name} in deployment" for kind, name in (
        ("MultiTrancheVault", "multi-tranche-vault"), ("PolicyRouter", "policy-router"),
        ("PricingOracle", "pricing-oracle"))]


def test_contracts_disagreeing_on_their_admin_are_reported():
    resources = ton_resources()
    other = next(r for r in ton_resources(admin="0:" + "e1" * 32) if r.get("kind") == "PolicyRouter")
    resources = [other if r.get("kind") == "PolicyRouter" else r for r in resources]
    violations = check(rules.contract_admins, resources)
    assert {urn for urn, _ in violations} == {"urn:oracle", "urn:vault", "urn:router", "urn:deployment"}
    assert all("contracts disagree on their admin" in m for _, m in violations)


def test_every_mainnet_rule_fires_on_the_deployment_that_sends_every_contract():
    """The TonDeployment alone carries the network, needs protection and names each contract's admin."""
    [deployment] = [r for r in ton_resources("mainnet") if r.type == TON_DEPLOYMENT]
    assert rules.stack_network([deployment]) == "mainnet"
    assert [urn for urn, _ in check(rules.contracts_protected, [deployment])] == ["urn:deployment"]
    assert check(rules.contracts_protected, [replace(deployment, protect=True)]) == []
    assert [urn for urn, _ in check(rules.canary_on_mainnet, [deployment, workload(replicas=3)])] == ["urn:backend"]
    deployer = deployer_wallet_addresses(MNEMONIC)["highload_wallet_v3"].to_str(is_user_friendly=False)
    [by_deployer] = [r for r in ton_resources("mainnet", admin=deployer) if r.type == TON_DEPLOYMENT]
    violations = check(rules.contract_admins, [by_deployer])
    assert [urn for urn, _ in violations] == ["urn:deployment"] * 3
    assert all("is the deployer's highload_wallet_v3 address" in message for _, message in violations)
    mainnet_rules = {rule.name for rule in rules.RULES if rule.check in (rules.contracts_protected,
                                                                         rules.canary_on_mainnet)}
    assert mainnet_rules == {"ton-contracts-protected", "canary-on-mainnet"}


# ---- workloads ---------------------------------------------------------------------------------------

def good_container(**changes) -> dict:
    container = {
        "name": "backend", "image": "ghcr.io/tonsurance/backend:1.4.2",
        "livenessProbe": {"httpGet": {"path": "/health", "port": 8080}},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        "securityContext": {"runAsNonRoot": True},
    }
    container.update(changes)
    return {k: v for k, v in container.items() if v is not None}


def workload(kind=K8S_DEPLOYMENT, replicas=1, pod_security=None, name="backend", **container) -> Resource:
    pod = {"containers": [good_container(**container)]}
    if pod_security is not None:
        pod["securityContext"] = pod_security
    spec = {"replicas": replicas, "template": {"spec": pod}}
    if kind == "kubernetes:batch/v1:CronJob":
        spec = {"jobTemplate": {"spec": {"template": {"spec": pod}}}}
    return Resource(kind, name, f"urn:{name}", {"spec": spec})


@pytest.mark.parametrize("image, ok", [
    ("ghcr.io/tonsurance/backend:1.4.2", True),
    ("ghcr.io/tonsurance/backend@sha256:" + "0f" * 32, True),
    ("ghcr.io/tonsurance/backend:latest", False),
    ("ghcr.io/tonsurance/backend", False),
])
def test_images_pinned(image, ok):
    violations = check(rules.images_pinned, [workload(image=image)])
    assert (violations == []) == ok
    if not ok:
        assert violations[0][0] == "urn:backend" and "container 'backend' image must" in violations[0][1]


def test_a_tag_without_digest_is_refused_on_mainnet():
    """Finding 6 of issue 27: a tag can be pushed again with other contents; mainnet runs images by digest."""
    tagged, pinned = "ghcr.io/tonsurance/backend:1.4.2", "ghcr.io/tonsurance/backend:1.4.2@sha256:" + "0f" * 32
    [(urn, message)] = check(rules.images_pinned, [*ton_resources("mainnet"), workload(image=tagged)])
    assert urn == "urn:backend" and "must name the image by digest on mainnet" in message
    assert check(rules.images_pinned, [*ton_resources("mainnet"), workload(image=pinned)]) == []
    assert check(rules.images_pinned, [*ton_resources("testnet"), workload(image=tagged)]) == []


def test_cronjob_images_are_checked_too():
    cron = workload("kubernetes:batch/v1:CronJob", name="backup", image="postgres:latest")
    assert "must pin a version" in check(rules.images_pinned, [cron])[0][1]


@pytest.mark.parametrize("change, missing", [
    ({"livenessProbe": None}, "livenessProbe"),
    ({"readinessProbe": None}, "readinessProbe"),
    ({"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}, "resources.requests"),
    ({"resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1"}}}, "resources.limits"),
    ({"securityContext": None}, "runAsNonRoot"),
    ({"securityContext": {"runAsUser": 0}}, "runAsNonRoot"),
])
def test_workloads_hardened(change, missing):
    violations = check(rules.workloads_hardened, [workload(**change)])
    assert len(violations) == 1 and missing in violations[0][1]


def test_pod_level_non_root_counts_unless_a_container_forces_root():
    assert check(rules.workloads_hardened, [workload(pod_security={"runAsNonRoot": True}, securityContext=None)]) == []
    forced = workload(pod_security={"runAsNonRoot": True}, securityContext={"runAsUser": 0})
    assert "runAsNonRoot" in check(rules.workloads_hardened, [forced])[0][1]


def test_jobs_need_no_probes_but_limits():
    job = workload("kubernetes:batch/v1:CronJob", livenessProbe=None, readinessProbe=None)
    assert check(rules.workloads_hardened, [job]) == []
    job = workload("kubernetes:batch/v1:CronJob", resources=None)
    assert "resources.requests" in check(rules.workloads_hardened, [job])[0][1]


def test_literal_kubernetes_secret_refused():
    literal = Resource(K8S_SECRET, "db", "urn:db", {"stringData": {"password": "x"}})
    empty = Resource(K8S_SECRET, "tls", "urn:tls", {"type": "kubernetes.io/tls"})
    assert [urn for urn, _ in check(rules.no_literal_secrets, [literal, empty])] == ["urn:db"]


def test_canary_on_mainnet_only():
    deployment = workload(replicas=3)
    keeper = workload(replicas=1, name="pricing-keeper")
    assert check(rules.canary_on_mainnet, ton_resources("localnet") + [deployment]) == []
    violations = check(rules.canary_on_mainnet, ton_resources("mainnet") + [deployment, keeper])
    assert [urn for urn, _ in violations] == ["urn:backend"] and "Argo Rollout canary" in violations[0][1]

    def rollout(weights):
        steps = [{"setWeight": w} for w in weights] + [{"pause": {"duration": "5m"}}]
        return Resource(ARGO_ROLLOUT, "api", "urn:api", {"spec": {"strategy": {"canary": {"steps": steps}}}})
    assert check(rules.canary_on_mainnet, ton_resources("mainnet") + [rollout([20, 50, 100])]) == []
    assert "weights 20 and 50" in check(rules.canary_on_mainnet, ton_resources("mainnet") + [rollout([100])])[0][1]


# ---- database and backups ----------------------------------------------------------------------------

def at_preview(props: dict) -> object:
    """Props as the policy SDK hands them over at preview: reading a computed (unknown) value raises."""
    return unknown_checking_proxy(props)


COMPUTED = UNKNOWN_STRING_VALUE


def test_migrations_need_a_backup():
    without = Resource(SQL_MIGRATIONS, "m", "urn:m", {"backup_id": None, "dsn": "x"})
    computed = Resource(SQL_MIGRATIONS, "m2", "urn:m2", at_preview({"backup_id": COMPUTED}))
    done = Resource(SQL_MIGRATIONS, "m3", "urn:m3", {"backup_id": "20261129-abc"})
    assert [urn for urn, _ in check(rules.migrations_after_backup, [without, computed, done])] == ["urn:m"]


def bucket_stack(encryption=True, flags=True, acl=None) -> list[Resource]:
    bucket = Resource("aws:s3/bucket:Bucket", "backups", "urn:bucket", {"acl": acl} if acl else {})
    found = [bucket]
    if encryption:
        found.append(Resource(S3_BUCKET_ENCRYPTION[0], "sse", "urn:sse", {"rules": [{}]},
                              dependencies=frozenset({"urn:bucket"})))
    found.append(Resource(S3_BUCKET_PUBLIC_ACCESS_BLOCK, "pab", "urn:pab",
                          at_preview({f: flags for f in rules.PUBLIC_ACCESS_FLAGS} | {"bucket": COMPUTED}),
                          dependencies=frozenset({"urn:bucket"})))
    return found


def test_backup_bucket_encrypted_and_private():
    assert check(rules.backup_buckets_private, bucket_stack()) == []
    assert "no server-side encryption" in check(rules.backup_buckets_private, bucket_stack(encryption=False))[0][1]
    assert "public access block" in check(rules.backup_buckets_private, bucket_stack(flags=False))[0][1]
    assert "not private" in check(rules.backup_buckets_private, bucket_stack(acl="public-read"))[0][1]


def test_every_rule_has_a_unique_name_and_the_table_is_what_the_pack_loads():
    names = [r.name for r in rules.RULES]
    assert len(set(names)) == len(names) == 8
    ok = copy.deepcopy(ton_resources("mainnet", protect=True))
    assert [v for r in rules.RULES for v in r.check(ok)] == []


def test_admin_rule_reads_a_referenced_mnemonic_from_secrets_manager(monkeypatch):
    """Mainnet resources carry only a Secrets Manager reference; the rule reads the words as the provider does."""
    from moto.server import ThreadedMotoServer
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_ENDPOINT_URL": f"http://{host}:{port}"}.items():
            monkeypatch.setenv(key, value)
        import urllib.request
        urllib.request.urlopen(urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST"))
        import boto3
        boto3.client("secretsmanager", region_name="eu-central-1").create_secret(Name="deployer", SecretString=MNEMONIC)
        deployer = deployer_wallet_addresses(MNEMONIC)["wallet_v4r2"].to_str(is_user_friendly=False)
        referenced = [Resource(r.type, r.name, r.urn, {**r.props, "deployer_mnemonic": None,
                                                      "deployer_mnemonic_ref": {"secret_id": "deployer",  # pragma: allowlist secret
                                                                                "region": "eu-central-1"}})
                      for r in ton_resources(admin=deployer)]
        assert sorted(urn for urn, _ in check(rules.contract_admins, referenced)) == ["urn:deployment"] * 3 + [
            "urn:oracle", "urn:router", "urn:vault"]
    finally:
        server.stop()
