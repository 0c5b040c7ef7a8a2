"""The PostgreSQL and Redis exporters of every stack (components/exporters.py) under Pulumi's mocks: pinned
images reading the stack's Secrets, a `metrics` Service that the program's ServiceMonitors scrape, a
NetworkPolicy opening only Prometheus in and the database or Redis out, and Redis admitting its exporter; the
local servers run the same exporters under the same job names."""

from __future__ import annotations

import pulumi
import pytest

from components.exporters import EXPORTERS, Exporters, ExportersArgs, exporter_scrape_targets
from components.monitoring import workload_scrape_targets
from components.services.catalog import DATABASE_URL, REDIS_URL, selector_labels
from config import check_image
from config.services import EXPORTER_IMAGES
from localcluster.servers import SERVERS
from resource_types import K8S_DEPLOYMENT as DEPLOYMENT
from tests.support import RecordingMocks, run_backend_services

SERVICE = "kubernetes:core/v1:Service"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


@pytest.fixture
def mocks(pulumi_mocks) -> RecordingMocks:
    recording = RecordingMocks()
    pulumi_mocks(recording)
    return recording


# As a mainnet stack names them: by digest (tonsurance:services.exporterImages).
MAINNET = {name: f"{image}@sha256:{'ab' * 32}" for name, image in EXPORTER_IMAGES.items()}


def build(mocks: RecordingMocks, redis_in_cluster: bool) -> None:
    @pulumi.runtime.test
    def program() -> None:
        Exporters("exporters", ExportersArgs(namespace="tonsurance", prometheus_namespace="monitoring", images=MAINNET,
                                             database_port=5432, redis_in_cluster=redis_in_cluster))
    program()


def test_every_exporter_is_a_pinned_deployment_reading_the_stacks_secret(mocks):
    build(mocks, redis_in_cluster=False)
    deployments = mocks.named(DEPLOYMENT)
    assert set(deployments) == {e.name for e in EXPORTERS} == {"postgres-exporter", "redis-exporter"}
    for spec in EXPORTERS:
        pod = deployments[spec.name]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        check_image(spec.name, container["image"], "mainnet")  # a version, never latest
        assert container["env"] == [{"name": spec.env, "valueFrom": {"secretKeyRef": {"name": spec.secret.name,
                                                                                       "key": "value"}}}]
        assert container["ports"] == [{"name": "metrics", "containerPort": spec.port}]
        assert container["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] != 0
        assert mocks.named(SERVICE)[spec.name]["spec"]["ports"] == [{"name": "metrics", "port": spec.port,
                                                                 "targetPort": "metrics"}]
    assert {e.name: e.secret for e in EXPORTERS} == {"postgres-exporter": DATABASE_URL, "redis-exporter": REDIS_URL}


@pytest.mark.parametrize("redis_in_cluster", [True, False])
def test_network_policy_admits_prometheus_and_reaches_only_its_server(mocks, redis_in_cluster):
    build(mocks, redis_in_cluster)
    policies = mocks.named(POLICY)
    for spec in EXPORTERS:
        policy = policies[spec.name]["spec"]
        assert policy["podSelector"] == {"matchLabels": selector_labels(spec.name)}
        (ingress,) = policy["ingress"]
        assert ingress["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
        assert ingress["ports"] == [{"port": "metrics", "protocol": "TCP"}]
        dns, target = policy["egress"]
        assert {p["port"] for p in dns["ports"]} == {53}
        if spec.name == "postgres-exporter":
            assert target == {"ports": [{"port": 5432, "protocol": "TCP"}]}
        elif redis_in_cluster:
            assert target["to"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "redis",
                                                                     "app.kubernetes.io/part-of": "tonsurance"}}}]
        else:
            assert target == {"ports": [{"port": 6379, "protocol": "TCP"}]}


def test_in_cluster_redis_admits_its_exporter(mocks):
    run_backend_services("localnet")
    (rule,) = mocks.named(POLICY)["redis"]["spec"]["ingress"]
    assert {"podSelector": {"matchLabels": selector_labels("redis-exporter")}} in rule["from"]


def test_exporters_are_scraped_by_service_monitors_under_the_local_servers_job_names():
    targets = {t.name: t for t in exporter_scrape_targets()}
    assert set(targets) == {e.name for e in EXPORTERS}
    assert not set(targets) & {t.name for t in workload_scrape_targets()}
    # prometheus-operator names the job after the Service; the local servers label their series the same.
    local = {s.name for s in SERVERS if s.name.endswith("-exporter")}
    assert local == set(targets)
