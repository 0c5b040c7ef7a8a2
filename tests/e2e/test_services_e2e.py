"""The backend services through the real engine on a throwaway copy of the `local` stack.

On the local Kubernetes cluster (real API server and Argo Rollouts controller, pods simulated by KWOK): every
object is accepted, the Rollouts reach Healthy and the keepers' Deployments are ready, the ConfigMap equals the
contracts' keeper_config output and every pod carries its checksum, a changed oracle address rolls every pod
that reads it, and a second up changes nothing. Rendered to YAML instead (`tonsurance:renderManifestsTo`, the
GitOps option), the same points are checked on the rendered objects. Either way no Secret object is made and no
word pair of the deployer mnemonic reaches a manifest.
"""
from __future__ import annotations

import json
import os
import time
from collections import defaultdict

import pytest
from pytoniq_core.crypto.keys import mnemonic_new

from components.exporters import EXPORTERS
from config.services import EXPORTER_IMAGES
from components.services.backend_services import checksum
from components.services.catalog import SERVICES, secret_names, secret_sets
from components.services.secrets import store_name
from components.services.workload import CHECKSUM_ANNOTATION
from chain.wallets import WalletKey, WalletV4R2
from resource_types import ARGO_ROLLOUT, K8S_CONFIG_MAP, K8S_SECRET
from tests.e2e.harness import StackCopy
from tests.kube import get_object, namespace_objects
from tests.support import mnemonic_leaks

pytestmark = pytest.mark.e2e
ROLLOUTS = [s.name for s in SERVICES if s.replicated]
KEEPERS = [s.name for s in SERVICES if not s.replicated]


def quiet(_line: str) -> None:
    pass


def by_kind(stack: StackCopy) -> dict[str, dict[str, dict]]:
    objects: dict[str, dict[str, dict]] = defaultdict(dict)
    for obj in stack.rendered_objects():
        objects[obj["kind"]][obj["metadata"]["name"]] = obj
    return objects


def new_local_admin(stack: StackCopy) -> None:
    """A new admin that is a wallet whose words the stack holds (tonsurance:adminMnemonic, a secret), so the
    oracle's keepers are set by its messages and the stack converges (without the words they stay pending)."""
    words = " ".join(mnemonic_new(24))
    admin = WalletV4R2(None, WalletKey.from_mnemonic(words), os.devnull).address
    stack.set_config("tonsurance:adminMnemonic", words, secret=True)
    stack.set_config("tonsurance:adminAddress", admin.to_str(is_test_only=True))


def workload_templates(objects) -> dict[str, dict]:
    """The five services' pod templates (not the exporters')."""
    return {name: o["spec"]["template"] for kind in ("Rollout", "Deployment") for name, o in objects[kind].items()
            if name not in {e.name for e in EXPORTERS}}


def test_services_render_from_the_contract_outputs_and_roll_on_a_new_oracle(local_stack):
    stack = local_stack
    stack.stack.remove_config("tonsurance:kubeconfig")   # the GitOps option: the provider writes YAML
    stack.set_config("tonsurance:renderManifestsTo", ".state/manifests/local")
    stack.stack.up(on_output=lambda _line: None)
    out = stack.outputs()
    objects = by_kind(stack)

    assert objects["ConfigMap"]["contract-addresses"]["data"] == out["keeper_config"]
    templates = workload_templates(objects)
    assert set(templates) == {s.name for s in SERVICES}
    first = checksum(out["keeper_config"])
    assert {t["metadata"]["annotations"][CHECKSUM_ANNOTATION] for t in templates.values()} == {first}
    assert set(objects["Rollout"]) == {"ocaml-backend", "api-v2", "websocket-v2"}
    keepers = {n: d for n, d in objects["Deployment"].items() if n not in {e.name for e in EXPORTERS}}
    assert {n: (d["spec"]["replicas"], d["spec"]["strategy"]["type"]) for n, d in keepers.items()} == {
        "pricing-keeper": (1, "Recreate"), "bridge-health-keeper": (1, "Recreate")}
    assert {n: objects["Deployment"][n]["spec"]["template"]["spec"]["containers"][0]["image"] for n in
            {e.name for e in EXPORTERS}} == EXPORTER_IMAGES   # the defaults (tonsurance:services.exporterImages)
    assert "AnalysisTemplate" not in objects  # local has no Prometheus: analysis is off, said so in the README
    assert set(objects["ExternalSecret"]) == set(secret_names(redis_in_cluster=True)) | {"redis-url"}
    # one store per secret set, named after the stack's namespace
    assert set(objects["ClusterSecretStore"]) == {store_name(stack.namespace, n) for n in secret_sets(True)}
    assert set(objects["NetworkPolicy"]) == {"default-deny", "redis", *(s.name for s in SERVICES), *(e.name for e in EXPORTERS)}
    assert {i["spec"]["rules"][0]["host"] for i in objects["Ingress"].values()} == {
        "api.tonsurance.localhost", "ws.tonsurance.localhost"}
    assert "Secret" not in objects  # values come from the store, never from the program
    assert out["service_images"]["api-v2"] == stack.stack.get_config("tonsurance:images.apiV2", path=True).value

    mnemonic = stack.stack.get_config("tonsurance:deployerMnemonic").value
    manifests = "".join(p.read_text() for p in stack.manifests_dir.rglob("*.yaml"))
    assert "contract-addresses" in manifests and mnemonic_leaks(manifests, mnemonic) == []
    assert "throwaway-local-" in json.dumps(objects["ClusterSecretStore"])
    assert "throwaway-local-" not in json.dumps({k: v for k, v in objects.items() if k != "ClusterSecretStore"})

    # A new admin is new oracle init data, hence a new oracle address (and vault, tokens). (Keepers are not in
    # the oracle's init data: a keeper change keeps every address.)
    new_local_admin(stack)
    stack.stack.up(on_output=lambda _line: None)
    changed = stack.outputs()
    assert changed["pricing_oracle_address"] != out["pricing_oracle_address"]
    objects = by_kind(stack)
    assert objects["ConfigMap"]["contract-addresses"]["data"] == changed["keeper_config"]
    second = checksum(changed["keeper_config"])
    assert second != first
    assert {t["metadata"]["annotations"][CHECKSUM_ANNOTATION] for t in workload_templates(objects).values()} == {second}

    stack.stack.up(expect_no_changes=True, on_output=lambda _line: None)


def pod_checksums(cluster, namespace: str) -> dict[str, set[str]]:
    """Workload name -> the contract-addresses checksums its live (not terminating) pods carry."""
    pods = get_object(cluster, "pods", "-n", namespace)["items"]
    found: dict[str, set[str]] = {}
    for pod in pods:
        if pod["metadata"].get("deletionTimestamp"):
            continue
        name = pod["metadata"]["labels"].get("app.kubernetes.io/name")
        found.setdefault(name, set()).add(pod["metadata"].get("annotations", {}).get(CHECKSUM_ANNOTATION))
    return found


def settled(cluster, namespace: str, expected: str, timeout: float = 120) -> dict[str, set[str]]:
    """Wait until every workload's live pods carry `expected` only (old pods may still be terminating)."""
    deadline = time.monotonic() + timeout
    while True:
        found = pod_checksums(cluster, namespace)
        if all(found.get(s.name) == {expected} for s in SERVICES) or time.monotonic() > deadline:
            return found
        time.sleep(2)


def test_services_on_the_cluster_roll_on_a_new_oracle_and_converge(local_stack):
    stack, cluster, namespace = local_stack, local_stack.cluster, local_stack.namespace

    def get(*args):
        return get_object(cluster, *args, "-n", namespace)

    stack.stack.up(on_output=quiet)
    out = stack.outputs()
    assert get("configmap", "contract-addresses")["data"] == out["keeper_config"]
    for name in ROLLOUTS:  # Pulumi waited for Healthy; the controller agrees
        rollout = get("rollouts.argoproj.io", name)
        assert rollout["status"]["phase"] == "Healthy", rollout["status"]
        assert rollout["status"]["readyReplicas"] == rollout["spec"]["replicas"] == 2
    for name in KEEPERS:
        deployment = get("deployment", name)
        assert deployment["status"]["readyReplicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    assert get("statefulset", "redis")["status"]["readyReplicas"] == 1
    assert get("pvc", "data-redis-0")["status"]["phase"] == "Bound"
    first = checksum(out["keeper_config"])
    assert pod_checksums(cluster, namespace) == {**{s.name: {first} for s in SERVICES}, "redis": {None},
                                                 **{e.name: {None} for e in EXPORTERS}}

    # What the stack applied (its Kubernetes objects in the state, secrets shown) and what the namespace holds:
    # no Secret object (values come from the store), and no word pair of the deployer mnemonic anywhere.
    mnemonic = stack.stack.get_config("tonsurance:deployerMnemonic").value
    applied = [r for r in stack.stack.export_stack().deployment["resources"] if r["type"].startswith("kubernetes:")]
    assert {K8S_CONFIG_MAP, ARGO_ROLLOUT} <= {r["type"] for r in applied} and K8S_SECRET not in {r["type"] for r in applied}
    live = namespace_objects(cluster, namespace)
    assert "ConfigMap" in {o["kind"] for o in live} and "Secret" not in {o["kind"] for o in live}
    assert mnemonic_leaks(json.dumps(applied) + json.dumps(live), mnemonic) == []

    # The custom resources the local cluster has no controller for are stored as sent.
    external = {i["metadata"]["name"] for i in get("externalsecrets.external-secrets.io")["items"]}
    assert external == set(secret_names(redis_in_cluster=True)) | {"redis-url"}
    for secret_set in secret_sets(True):   # one store per secret set, each limited to this stack's namespace
        store = get_object(cluster, "clustersecretstores.external-secrets.io", store_name(namespace, secret_set))
        assert store["spec"]["conditions"] == [{"namespaces": [namespace]}]
    policies = {i["metadata"]["name"] for i in get("networkpolicies")["items"]}
    assert policies == {"default-deny", "redis", *(s.name for s in SERVICES), *(e.name for e in EXPORTERS)}
    assert {i["spec"]["rules"][0]["host"] for i in get("ingresses")["items"]} == {
        "api.tonsurance.localhost", "ws.tonsurance.localhost"}

    # A new admin is new oracle init data, hence a new oracle address (a keeper change keeps every address).
    new_local_admin(stack)
    stack.stack.up(on_output=quiet)
    changed = stack.outputs()
    assert changed["pricing_oracle_address"] != out["pricing_oracle_address"]
    assert get("configmap", "contract-addresses")["data"] == changed["keeper_config"]
    second = checksum(changed["keeper_config"])
    assert second != first
    assert settled(cluster, namespace, second) == {**{s.name: {second} for s in SERVICES}, "redis": {None},
                                                   **{e.name: {None} for e in EXPORTERS}}
    for name in ROLLOUTS:
        assert get("rollouts.argoproj.io", name)["status"]["phase"] == "Healthy"

    stack.stack.up(expect_no_changes=True, on_output=quiet)
