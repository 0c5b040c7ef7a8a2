"""The backend services through the real engine on a throwaway copy of the `local` stack (rendered manifests).

up renders every object; the ConfigMap equals the contracts' keeper_config output and every workload carries
its checksum; no secret value is in any manifest; a changed oracle address changes the ConfigMap and the pod
template of every workload that reads it; a second up changes nothing.
"""
from __future__ import annotations

import json
from collections import defaultdict

import pytest

from components.service_catalog import SERVICES, secret_names
from components.services import checksum
from components.service_workload import CHECKSUM_ANNOTATION
from tests.e2e.harness import StackCopy

pytestmark = pytest.mark.e2e


def by_kind(stack: StackCopy) -> dict[str, dict[str, dict]]:
    objects: dict[str, dict[str, dict]] = defaultdict(dict)
    for obj in stack.rendered_objects():
        objects[obj["kind"]][obj["metadata"]["name"]] = obj
    return objects


def workload_templates(objects) -> dict[str, dict]:
    return {name: o["spec"]["template"] for kind in ("Rollout", "Deployment") for name, o in objects[kind].items()}


def test_services_render_from_the_contract_outputs_and_roll_on_a_new_oracle(local_stack):
    stack = local_stack
    stack.stack.up(on_output=lambda _line: None)
    out = stack.outputs()
    objects = by_kind(stack)

    assert objects["ConfigMap"]["contract-addresses"]["data"] == out["keeper_config"]
    templates = workload_templates(objects)
    assert set(templates) == {s.name for s in SERVICES}
    first = checksum(out["keeper_config"])
    assert {t["metadata"]["annotations"][CHECKSUM_ANNOTATION] for t in templates.values()} == {first}
    assert set(objects["Rollout"]) == {"ocaml-backend", "api-v2", "websocket-v2"}
    assert {n: (d["spec"]["replicas"], d["spec"]["strategy"]["type"]) for n, d in objects["Deployment"].items()} == {
        "pricing-keeper": (1, "Recreate"), "bridge-health-keeper": (1, "Recreate")}
    assert "AnalysisTemplate" not in objects  # local has no Prometheus: analysis is off, said so in the README
    assert set(objects["ExternalSecret"]) == set(secret_names(redis_in_cluster=True)) | {"redis-url"}
    assert set(objects["ClusterSecretStore"]) == {"tonsurance-local"}
    assert set(objects["NetworkPolicy"]) == {"default-deny", "redis", *(s.name for s in SERVICES)}
    assert {i["spec"]["rules"][0]["host"] for i in objects["Ingress"].values()} == {
        "api.tonsurance.localhost", "ws.tonsurance.localhost"}
    assert "Secret" not in objects  # values come from the store, never from the program
    assert out["service_images"]["api-v2"] == stack.stack.get_config("tonsurance:images.apiV2", path=True).value

    mnemonic = stack.stack.get_config("tonsurance:deployerMnemonic").value
    manifests = "".join(p.read_text() for p in stack.manifests_dir.rglob("*.yaml"))
    assert " ".join(mnemonic.split()[:3]) not in manifests
    assert "throwaway-local-" in json.dumps(objects["ClusterSecretStore"])
    assert "throwaway-local-" not in json.dumps({k: v for k, v in objects.items() if k != "ClusterSecretStore"})

    # One keeper fewer is new oracle init data, hence a new oracle address (and vault, tokens).
    keepers = out["keeper_addresses"]
    stack.set_config("tonsurance:keeperAddresses", json.dumps(keepers[:1]))
    stack.stack.up(on_output=lambda _line: None)
    changed = stack.outputs()
    assert changed["pricing_oracle_address"] != out["pricing_oracle_address"]
    objects = by_kind(stack)
    assert objects["ConfigMap"]["contract-addresses"]["data"] == changed["keeper_config"]
    second = checksum(changed["keeper_config"])
    assert second != first
    assert {t["metadata"]["annotations"][CHECKSUM_ANNOTATION] for t in workload_templates(objects).values()} == {second}

    stack.stack.up(expect_no_changes=True, on_output=lambda _line: None)
