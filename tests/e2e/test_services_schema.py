"""Every object BackendServices makes, for every stack's config, through the real API server's strict
validation (`kubectl create --dry-run=server --validate=strict`): built-in kinds against the server's own
schemas and the custom resources (Argo Rollouts, External Secrets) against their CRDs' schemas, where an
unknown or misspelt field is an error rather than silently pruned."""

from __future__ import annotations

import json

import pytest

from tests.support import RecordingMocks, run_backend_services

pytestmark = pytest.mark.e2e


@pytest.fixture
def cluster_namespace(request):
    """The session cluster and a fresh namespace in it (fixtures of tests/conftest.py, from the cluster issue)."""
    try:
        cluster = request.getfixturevalue("kube_cluster")
    except pytest.FixtureLookupError:
        pytest.skip("no local Kubernetes cluster fixture in this checkout (tests/conftest.py kube_cluster)")
    return cluster, request.getfixturevalue("kube_namespace")


def integral(node):
    """Mocks carry every number as a float; the server wants integers where the schema says so."""
    if isinstance(node, float) and node.is_integer():
        return int(node)
    if isinstance(node, dict):
        return {k: integral(v) for k, v in node.items()}
    if isinstance(node, list):
        return [integral(v) for v in node]
    return node


def objects_of(network: str, namespace: str, pulumi_mocks, **config) -> list[dict]:
    mocks = RecordingMocks()
    pulumi_mocks(mocks)
    run_backend_services(network, **config)
    objects = []
    for typ, inputs in mocks.objects:
        if not typ.startswith("kubernetes:"):
            continue  # component resources
        text = json.dumps(integral(inputs)).replace(f'"tonsurance-{network}', f'"{namespace}')
        objects.append(json.loads(text))
    return objects


@pytest.mark.parametrize("network, config", [
    ("localnet", {}),
    ("testnet", {"redis": "in-cluster"}),
    ("mainnet", {}),
])
def test_every_object_of_every_stack_passes_strict_server_validation(network, config, cluster_namespace, pulumi_mocks):
    kube_cluster, kube_namespace = cluster_namespace
    objects = objects_of(network, kube_namespace, pulumi_mocks, **config)
    kinds = {o["kind"] for o in objects}
    assert {"Rollout", "Deployment", "ExternalSecret", "ClusterSecretStore", "NetworkPolicy", "Ingress"} <= kinds
    if network != "localnet":
        assert "AnalysisTemplate" in kinds
    result = kube_cluster.kubectl("create", "--dry-run=server", "--validate=strict", "-o", "name", "-f", "-",
                                  input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}),
                                  check=False)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.split()) == len(objects)


def test_strict_validation_refuses_a_misspelt_custom_resource_field(cluster_namespace, pulumi_mocks):
    kube_cluster, kube_namespace = cluster_namespace
    objects = objects_of("mainnet", kube_namespace, pulumi_mocks)
    rollout = next(o for o in objects if o["kind"] == "Rollout")
    rollout["spec"]["strategy"]["canary"]["stepz"] = rollout["spec"]["strategy"]["canary"].pop("steps")
    result = kube_cluster.kubectl("create", "--dry-run=server", "--validate=strict", "-f", "-",
                                  input=json.dumps(rollout), check=False)
    assert result.returncode != 0 and "stepz" in result.stderr
