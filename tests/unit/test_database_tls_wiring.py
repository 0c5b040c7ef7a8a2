"""What the pods that read DATABASE_URL get on a stack whose database takes verified TLS (testnet, mainnet):
PGSSLMODE and PGSSLROOTCERT, and the `database-ca` ConfigMap (the config's CA bundle) mounted read-only; the
same for the PostgreSQL exporter and the backup CronJob; nothing on the local stack. Under Pulumi's mocks."""
from __future__ import annotations

from pathlib import Path

import pulumi
import pytest

from components.backup_schedule import BackupScheduleArgs, backup_manifests
from components.exporters import Exporters, ExportersArgs
from components.services.catalog import DATABASE_URL, SERVICES_BY_NAME
from components.services.database_tls import CA_DIR, CA_KEY, CA_PATH, DATABASE_CA, DatabaseTls
from config.services import EXPORTER_IMAGES
from resource_types import ARGO_ROLLOUT as ROLLOUT, K8S_DEPLOYMENT as DEPLOYMENT
from tests.support import RecordingMocks, database_ca, parse, raw_config, run_backend_services

CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
TLS_ENV = {"PGSSLMODE": "verify-full", "PGSSLROOTCERT": CA_PATH}


def tls_of(pod: dict) -> tuple[dict, list, list]:
    """(PGSSL* variables, database-ca volumes, database-ca mounts) of a pod spec with one container."""
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"] if e["name"].startswith("PGSSL")}
    volumes = [v for v in pod["volumes"] if v.get("configMap", {}).get("name") == DATABASE_CA]
    mounts = [m for m in container["volumeMounts"] if m["mountPath"] == CA_DIR]
    return env, volumes, mounts


@pytest.mark.parametrize("network", ["testnet", "mainnet"])
def test_every_reader_of_database_url_verifies_the_server_with_the_stacks_ca(mocks, network):
    run_backend_services(network)
    assert mocks.named(CONFIG_MAP)[DATABASE_CA]["data"] == {CA_KEY: Path(database_ca()).read_text()}
    workloads = {**mocks.named(ROLLOUT), **mocks.named(DEPLOYMENT)}
    readers = {name for name, spec in SERVICES_BY_NAME.items() if DATABASE_URL in spec.secrets}
    assert readers and readers != set(workloads)  # some read it, some (websocket-v2) do not
    for name, workload in workloads.items():
        env, volumes, mounts = tls_of(workload["spec"]["template"]["spec"])
        if name in readers:
            assert env == TLS_ENV, name
            assert volumes == [{"name": "database-ca", "configMap": {"name": DATABASE_CA,
                                                                     "items": [{"key": CA_KEY, "path": CA_KEY}]}}]
            assert mounts == [{"name": "database-ca", "mountPath": CA_DIR, "readOnly": True}]
        else:
            assert (env, volumes, mounts) == ({}, [], []), name


def test_the_local_stack_gets_no_tls_settings(mocks):
    run_backend_services("localnet")
    assert DATABASE_CA not in mocks.named(CONFIG_MAP)
    for workload in {**mocks.named(ROLLOUT), **mocks.named(DEPLOYMENT)}.values():
        assert tls_of(workload["spec"]["template"]["spec"]) == ({}, [], [])


def test_the_postgres_exporter_verifies_the_server_and_the_redis_exporter_is_unchanged(pulumi_mocks):
    mocks = RecordingMocks()
    pulumi_mocks(mocks)
    tls = DatabaseTls.from_config(parse(raw_config("mainnet")).database)

    @pulumi.runtime.test
    def program() -> None:
        Exporters("exporters", ExportersArgs(namespace="tonsurance", prometheus_namespace="monitoring",
                                             images=EXPORTER_IMAGES, database_port=5432, redis_in_cluster=False,
                                             database_tls=tls))
    program()
    deployments = mocks.named(DEPLOYMENT)
    env, volumes, mounts = tls_of(deployments["postgres-exporter"]["spec"]["template"]["spec"])
    assert env == TLS_ENV and len(volumes) == len(mounts) == 1
    assert tls_of(deployments["redis-exporter"]["spec"]["template"]["spec"]) == ({}, [], [])


@pytest.mark.parametrize("network", ["testnet", "mainnet"])
def test_the_backup_job_verifies_the_server(network):
    args = BackupScheduleArgs.from_stack_config(parse(raw_config(network), stack=network), "role", "key")
    pod = backup_manifests(args, "role", "key")["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    env, volumes, mounts = tls_of(pod)
    assert env == TLS_ENV and volumes[0]["configMap"]["name"] == DATABASE_CA and mounts[0]["readOnly"]


def test_a_mode_without_a_ca_sets_only_the_mode():
    tls = DatabaseTls.from_config(parse(raw_config(database='{"host": "db", "name": "t", "user": "u", '
                                                            '"sslMode": "require"}')).database)
    assert (tls.env(), tls.volumes(), tls.mounts()) == ([{"name": "PGSSLMODE", "value": "require"}], [], [])
    assert DatabaseTls.from_config(parse(raw_config()).database) is None
