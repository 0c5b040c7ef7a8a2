"""A `pulumi up` killed at any moment converges on the next plain `pulumi up`.

1. The cause, on the real API server: an object whose create was applied but never checkpointed (what a
   kill leaves) is re-created by the next run. Under the provider's random per-create field manager that
   apply conflicts on atomic lists the server defaulted (an ExternalSecret's `spec.data`, a StatefulSet's
   `volumeClaimTemplates`); under the program's pinned manager it is adopted and the run after is a no-op.
2. The whole local stack (cluster, PostgreSQL, localnet): `pulumi up` SIGKILLed with its plugins at chosen
   points (mid-contract-send, mid-backup, mid-migration, mid-create of a StatefulSet and of a Rollout still
   awaited, mid-canary of an update), each followed by a plain `pulumi up`: every run converges, the next up
   has nothing to do, each contract was deployed by exactly one message, the migrations ran once.
"""
from __future__ import annotations

import json
from contextlib import contextmanager

import psycopg
import pulumi
import pulumi_kubernetes as k8s
import pytest
from pulumi import automation as auto
from pytoniq_core import Address

from components.field_manager import FIELD_MANAGER, pin_field_manager
from database.migrations import ADVISORY_LOCK_KEY
from tests.e2e.convergence import (applied_migrations, contract_send_in_flight, duplicate_sends, journal_sends,
                                   kill_up_when, waiting_on_lock)
from tests.support import wait_until
from tests.e2e.harness import inline_stack
from tests.kube import get_object

pytestmark = pytest.mark.e2e


def quiet(_line: str) -> None:
    pass


def forget(stack: auto.Stack, urn_suffix: str) -> None:
    """Drop one resource from the stack's state, leaving its object on the server: what a kill after the
    provider's apply and before Pulumi's checkpoint leaves behind."""
    deployment = stack.export_stack()
    resources = deployment.deployment["resources"]
    deployment.deployment["resources"] = [r for r in resources if not r["urn"].endswith(urn_suffix)]
    assert len(deployment.deployment["resources"]) == len(resources) - 1
    stack.import_stack(deployment)


def objects_program(kube_cluster, kube_namespace, pinned):
    """An ExternalSecret and a StatefulSet with a claim template: atomic lists the API server defaults."""
    labels = {"app": "cache"}

    def program():
        if pinned():
            pulumi.runtime.register_stack_transformation(pin_field_manager)
        opts = pulumi.ResourceOptions(provider=k8s.Provider("cluster", kubeconfig=str(kube_cluster.kubeconfig)))
        meta = {"namespace": kube_namespace}
        data = [{"secretKey": "value", "remoteRef": {"key": "tonsurance/test/db-url"}}]  # pragma: allowlist secret
        k8s.apiextensions.CustomResource(
            "secret", api_version="external-secrets.io/v1", kind="ExternalSecret", opts=opts,
            metadata={**meta, "name": "db-url"},
            spec={"secretStoreRef": {"kind": "ClusterSecretStore", "name": "store"}, "target": {"name": "db-url"},
                  "data": data})
        k8s.apps.v1.StatefulSet("cache", metadata={**meta, "name": "cache"}, opts=opts, spec={
            "serviceName": "cache", "replicas": 1, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels},
                         "spec": {"containers": [{"name": "cache", "image": "redis:7.4.2"}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]})

    return program


@pytest.mark.parametrize("pinned", [True, False], ids=["pinned-manager", "random-manager"])
def test_an_object_whose_create_was_never_checkpointed(tmp_path, kube_cluster, kube_namespace, pinned):
    stack = inline_stack(tmp_path / "p", objects_program(kube_cluster, kube_namespace, lambda: pinned))
    stack.up(on_output=quiet)
    for suffix in ("::secret", "::cache"):
        forget(stack, suffix)
    assert get_object(kube_cluster, "externalsecret", "db-url", "-n", kube_namespace) is not None

    if not pinned:
        with pytest.raises(auto.CommandError) as info:
            stack.up(on_output=quiet)
        assert "conflict" in str(info.value).lower()
        return
    again = stack.up(on_output=quiet)
    assert again.summary.result == "succeeded"
    stack.up(expect_no_changes=True, on_output=quiet)
    live = get_object(kube_cluster, "statefulset", "cache", "-n", kube_namespace, "--show-managed-fields")
    assert {m["manager"] for m in live["metadata"]["managedFields"] if m["operation"] == "Apply"} == {FIELD_MANAGER}


def test_objects_of_a_stack_deployed_before_the_pin_take_the_pinned_manager(tmp_path, kube_cluster, kube_namespace):
    pinned = {"now": False}
    stack = inline_stack(tmp_path / "p", objects_program(kube_cluster, kube_namespace, lambda: pinned["now"]))
    stack.up(on_output=quiet)  # each object under the provider's random manager of its create
    before = managers(kube_cluster, "statefulset", "cache", kube_namespace)
    assert len(before) == 1 and before != {FIELD_MANAGER}

    pinned["now"] = True
    assert stack.up(on_output=quiet).summary.resource_changes.get("update") == 2
    for kind, name in (("statefulset", "cache"), ("externalsecret", "db-url")):
        assert managers(kube_cluster, kind, name, kube_namespace) == {FIELD_MANAGER}  # the old one relinquished
    stack.up(expect_no_changes=True, on_output=quiet)


ROLLOUTS = ("ocaml-backend", "api-v2", "websocket-v2")


@contextmanager
def nodes_cordoned(cluster):
    """No pod can be scheduled: every workload create stays in the provider's readiness await."""
    nodes = cluster.kubectl("get", "nodes", "-o", "name").stdout.split()
    for node in nodes:
        cluster.kubectl("cordon", node)
    try:
        yield
    finally:
        for node in nodes:
            cluster.kubectl("uncordon", node)


def managers(cluster, kind: str, name: str, namespace: str) -> set[str]:
    live = get_object(cluster, kind, name, "-n", namespace, "--show-managed-fields")
    return {m["manager"] for m in live["metadata"]["managedFields"] if m["operation"] == "Apply"}


def canary_in_progress(cluster, namespace: str, tag: str) -> bool:
    """api-v2's Rollout runs the canary of `tag`: past its first step, not yet at the last."""
    rollout = get_object(cluster, "rollout", "api-v2", "-n", namespace) or {}
    image = rollout.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [{}])[0].get("image", "")
    step = rollout.get("status", {}).get("currentStepIndex")
    return image.endswith(tag) and step is not None and 0 < step < len(rollout["spec"]["strategy"]["canary"]["steps"])


def test_up_killed_at_chosen_points_converges_on_the_next_up(local_stack, tmp_path):
    copy, cluster = local_stack, local_stack.cluster
    namespace, chain = copy.namespace, copy.localnet()

    # 1. A fresh deploy killed while the contracts' one message is in flight (it lands 300 s late), the
    #    migrations wait for their advisory lock (after the backup), and Redis' StatefulSet is created but
    #    awaited (no node takes pods): three resources mid-operation at once.
    chain.set_faults(delay_seconds=300)
    with psycopg.connect(copy.database_dsn(), autocommit=True) as holder, nodes_cordoned(cluster):
        holder.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        kill_up_when(copy, tmp_path / "fresh.log", lambda: (
            contract_send_in_flight(copy) and waiting_on_lock(copy, "advisory")
            and get_object(cluster, "statefulset", "redis", "-n", namespace) is not None),
            "contract send, migrations and StatefulSet create in flight")
    assert [s["status"] for s in journal_sends(copy)] in (["signed"], ["sent"])
    assert applied_migrations(copy) == []
    state = copy.stack.export_stack().deployment
    assert not [r for r in state["resources"] if r["urn"].endswith("::services-redis-statefulset")]

    chain.set_faults(delay_seconds=0)
    assert copy.stack.up(on_output=quiet).summary.result == "succeeded"
    chain.advance_time(301)  # the killed run's copy of the message comes due: the wallet must refuse it
    chain.account(Address(journal_sends(copy)[0]["wallet"]))
    assert duplicate_sends(copy) == []
    assert applied_migrations(copy) == [1, 2, 3, 4]
    assert managers(cluster, "statefulset", "redis", namespace) == {FIELD_MANAGER}
    copy.stack.up(expect_no_changes=True, on_output=quiet)

    # 2. An update killed while the backup before a new migration waits for a table lock and the Rollouts
    #    are mid-canary of new image tags.
    (copy.work_dir / "migrations" / "005_converge_probe.sql").write_text(
        "CREATE TABLE converge_probe (id integer PRIMARY KEY);\n")
    images = json.loads(copy.stack.get_config("tonsurance:images").value)
    for key, image in images.items():
        copy.set_config(f"tonsurance:images.{key}", image.replace(":1.0.0", ":1.1.0"), path=True)
    with psycopg.connect(copy.database_dsn()) as holder:
        holder.execute("LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE")  # until the block ends
        kill_up_when(copy, tmp_path / "update.log", lambda: (
            waiting_on_lock(copy, "relation") and canary_in_progress(cluster, namespace, ":1.1.0")),
            "backup and canary in flight")
    backups = copy.work_dir / ".state" / "backups"
    assert len(list(backups.glob("*.json"))) == 1 and applied_migrations(copy) == [1, 2, 3, 4]

    assert copy.stack.up(on_output=quiet).summary.result == "succeeded"
    assert applied_migrations(copy) == [1, 2, 3, 4, 5]
    assert len(list(backups.glob("*.json"))) == 2  # the deploy's and the update's, nothing half-written
    assert not list(backups.glob("*.partial"))
    def healthy(name: str) -> dict | None:
        rollout = get_object(cluster, "rollout", name, "-n", namespace)
        return rollout if rollout["status"].get("phase") == "Healthy" else None

    for name in ROLLOUTS:   # the up applied the new canaries; the controller steps them through their pauses
        rollout = wait_until(lambda: healthy(name), timeout=300, what=f"rollout {name} Healthy", interval=2)
        assert rollout["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.1.0")
    assert duplicate_sends(copy) == []
    copy.stack.up(expect_no_changes=True, on_output=quiet)
