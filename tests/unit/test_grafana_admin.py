"""The Secret the monitoring chart's Grafana reads (existingSecret `grafana-admin`) comes from Secrets Manager
through an ExternalSecret in the chart's namespace, by a store and an IAM role of its own that admit that
namespace and read that one secret; the local stack (no chart) has none of it."""
from __future__ import annotations

import json

import pulumi

from components.aws import TonsuranceAwsArgs, secret_set_policy
from components.platform_charts import CHARTS, KUBE_PROMETHEUS_STACK
from components.services.catalog import GRAFANA_ADMIN, GRAFANA_SET, secret_id
from tests.monitoring.test_program import program  # noqa: F401 - the fixture
from tests.support import parse, raw_config
from tests.unit.test_external_secrets_role import readable

EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"  # pragma: allowlist secret (a type name)
STORE = "kubernetes:external-secrets.io/v1:ClusterSecretStore"


def test_mainnet_makes_the_grafana_admin_secret_in_the_charts_namespace(program):
    pulumi.runtime.test(lambda: program("mainnet"))()
    grafana = next(c for c in CHARTS if c.key == KUBE_PROMETHEUS_STACK)
    admin = grafana.values["grafana"]["admin"]
    [external] = [r.inputs for r in program.mocks.of_type(EXTERNAL_SECRET)
                  if r.inputs["metadata"]["name"] == admin["existingSecret"] == GRAFANA_ADMIN]
    assert external["metadata"]["namespace"] == grafana.namespace == "monitoring"
    assert external["spec"]["data"] == [{"secretKey": "password",  # pragma: allowlist secret (key name; stack "stack")
                                         "remoteRef": {"key": secret_id("stack", GRAFANA_ADMIN)}}]
    assert set(external["spec"]["target"]["template"]["data"]) == {admin["userKey"], admin["passwordKey"]}
    stores = {r.inputs["metadata"]["name"]: r.inputs for r in program.mocks.of_type(STORE)}
    store = stores[external["spec"]["secretStoreRef"]["name"]]
    assert store["spec"]["conditions"] == [{"namespaces": ["monitoring"]}]  # only Grafana's namespace may use it
    others = [s for name, s in stores.items() if name != external["spec"]["secretStoreRef"]["name"]]
    assert others and all(s["spec"]["conditions"] == [{"namespaces": ["tonsurance-mainnet"]}] for s in others)


def test_only_the_grafana_role_reads_the_grafana_admin_and_it_reads_nothing_else():
    args = TonsuranceAwsArgs.from_stack_config(parse(raw_config("mainnet", namespace="tonsurance"), stack="mainnet"))
    assert args.secret_sets[GRAFANA_SET] == (GRAFANA_ADMIN,) and GRAFANA_ADMIN in args.secret_names
    for secret_set, names in args.secret_sets.items():
        assert readable(secret_set_policy(args, names), GRAFANA_ADMIN) == (secret_set == GRAFANA_SET)
    assert not readable(secret_set_policy(args, args.secret_sets[GRAFANA_SET]), "database-url")


def test_without_the_monitoring_chart_there_is_no_grafana_secret(program):
    pulumi.runtime.test(lambda: program("mainnet", platform=json.dumps({"kubePrometheusStack": False})))()
    assert not [r for r in program.mocks.of_type(EXTERNAL_SECRET) if r.inputs["metadata"]["name"] == GRAFANA_ADMIN]
    args = TonsuranceAwsArgs.from_stack_config(parse(raw_config("mainnet", platform=json.dumps(
        {"kubePrometheusStack": False}))))
    assert GRAFANA_SET not in args.secret_sets and GRAFANA_ADMIN not in args.secret_names
