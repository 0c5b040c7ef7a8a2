"""The whole program (`__main__.py`) under Pulumi's mocks: which platform charts each network installs, that
everything needing their CRDs (rules, routing, scrape targets, the services' Rollouts and ExternalSecrets)
waits for them, and that every Kubernetes object pins the program's one field manager (forced)."""

from __future__ import annotations

import runpy

import pulumi
import pytest

from components.field_manager import PINNED
from resource_types import HELM_RELEASE as RELEASE
from tests.monitoring.conftest import ROOT
from tests.support import SECRETS, RecordingMocks, raw_config, ton_answer

# Kinds that only exist once a chart installed their CRDs.
NEEDS_CHARTS = ("monitoring.coreos.com/v1:PrometheusRule", "monitoring.coreos.com/v1alpha1:AlertmanagerConfig",
                "monitoring.coreos.com/v1:ServiceMonitor", "argoproj.io/v1alpha1:Rollout",
                "external-secrets.io/v1:ExternalSecret")


@pytest.fixture
def program(pulumi_mocks, monkeypatch):
    """program(network, **config overrides) runs __main__.py under mocks and returns {name: (type, options)}
    of every resource it registers."""
    mocks = RecordingMocks(ton_answer)  # shard batches and AWS ARNs answered like their providers
    pulumi_mocks(mocks)
    # As if Pulumi.<stack>.yaml named a KMS secrets provider (config/ requires one on mainnet).
    monkeypatch.setattr("config.loader.stack_secrets_provider", lambda stack: "awskms://alias/tonsurance-test")
    # public stacks keep the send journal beside their state: the program needs to know the backend
    monkeypatch.setenv("PULUMI_BACKEND_URL", "s3://tonsurance-pulumi-state")
    registered: dict[str, tuple[str, pulumi.ResourceOptions]] = {}

    def run(network: str, **overrides) -> dict[str, tuple[str, pulumi.ResourceOptions]]:
        raw = raw_config(network, **overrides)
        pulumi.runtime.set_all_config({f"tonsurance:{k}": v for k, v in raw.items()},
                                      [f"tonsurance:{k}" for k in SECRETS])

        def record(args: pulumi.ResourceTransformationArgs):
            registered[args.name] = (args.type_, args.opts)
            return None

        pulumi.runtime.register_stack_transformation(record)
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        return registered

    run.mocks = mocks  # the inputs of every registration, as the engine received them
    yield run
    pulumi.runtime.set_all_config({}, [])


def releases(registered) -> set[str]:
    return {name for name, (typ, _) in registered.items() if typ == RELEASE}


def depends_on_names(opts: pulumi.ResourceOptions) -> set[str]:
    return {r._name for r in (opts.depends_on or [])}


@pulumi.runtime.test
def test_mainnet_installs_every_chart_before_what_needs_it(program):
    registered = program("mainnet")
    charts = releases(registered)
    assert len(charts) == 5
    # Every release carries the hooks that clear what a killed install or upgrade left (helm_recovery.py).
    assert all(registered[c][1].hooks.before_create and registered[c][1].hooks.before_update for c in charts)
    needing = {name: opts for name, (typ, opts) in registered.items() if typ.removeprefix("kubernetes:") in NEEDS_CHARTS}
    kinds = {registered[name][0].rsplit(":", 1)[1] for name in needing}
    assert kinds == {"PrometheusRule", "AlertmanagerConfig", "ServiceMonitor", "Rollout", "ExternalSecret"}
    for name, opts in needing.items():
        assert charts <= depends_on_names(opts), name


@pulumi.runtime.test
def test_local_installs_no_chart_and_nothing_waits(program):
    registered = program("localnet")
    assert not releases(registered)
    assert registered["monitoring-rules"][0] == "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
    assert not depends_on_names(registered["monitoring-rules"][1])


@pytest.mark.parametrize("network", ["localnet", "testnet", "mainnet"])
def test_every_kubernetes_object_pins_the_field_manager(program, network):
    pulumi.runtime.test(lambda: program(network))()  # returns once every registration is done
    objects = [(r.typ, r.name, r.inputs) for r in program.mocks.registered
               if r.typ.startswith("kubernetes:") and r.typ != RELEASE]
    kinds = {typ.rsplit(":", 1)[1] for typ, _, _ in objects}
    assert {"Namespace", "Deployment", "ConfigMap", "Rollout", "ExternalSecret", "PrometheusRule"} <= kinds
    unpinned = [name for _, name, inputs in objects
                if PINNED.items() - (inputs.get("metadata") or {}).get("annotations", {}).items()]
    assert not unpinned
    # Annotations the components set themselves are kept beside it.
    waits = [inputs["metadata"]["annotations"] for typ, _, inputs in objects if typ.endswith(":Rollout")]
    assert waits and all("pulumi.com/waitFor" in a for a in waits)
