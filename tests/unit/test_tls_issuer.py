"""The ClusterIssuer the ingresses name: created by the program where it installs cert-manager, an ACME account
from config solving HTTP-01 through the ingresses' class; its config refused when missing or malformed."""
from __future__ import annotations

import json

import pulumi
import pytest

from components.services.catalog import INGRESS_CLASS
from components.tls_issuer import TlsIssuerArgs, issuer_spec
from config import ConfigError
from config.services import LETSENCRYPT
from resource_types import HELM_RELEASE
from tests.monitoring.test_program import program  # noqa: F401 - the fixture
from tests.support import PUBLIC_SERVICES, parse, raw_config

ISSUER = "kubernetes:cert-manager.io/v1:ClusterIssuer"


@pytest.mark.parametrize("network", ["testnet", "mainnet"])
def test_public_stacks_create_the_issuer_their_ingresses_name(program, network):
    pulumi.runtime.test(lambda: program(network))()
    [issuer] = program.mocks.of_type(ISSUER)
    ingresses = program.mocks.of_type("kubernetes:networking.k8s.io/v1:Ingress")
    assert ingresses and {i.inputs["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] for i in ingresses} \
        == {issuer.inputs["metadata"]["name"]} == {"letsencrypt-prod"}
    acme = issuer.inputs["spec"]["acme"]
    assert acme["email"] == "ops@tonsurance.com" and acme["server"] == LETSENCRYPT
    assert acme["solvers"] == [{"http01": {"ingress": {"ingressClassName": INGRESS_CLASS}}}]
    assert {i.inputs["spec"]["ingressClassName"] for i in ingresses} == {INGRESS_CLASS}


def test_no_issuer_without_the_cert_manager_chart(program):
    pulumi.runtime.test(lambda: program("localnet"))()
    assert not program.mocks.of_type(ISSUER)


@pulumi.runtime.test
def test_the_issuer_waits_for_cert_manager(program):
    registered = program("mainnet")
    charts = {name for name, (typ, _) in registered.items() if typ == HELM_RELEASE}
    [options] = [opts for typ, opts in registered.values() if typ == ISSUER]
    assert charts and charts <= {r._name for r in options.depends_on or []}


def test_acme_email_is_required_where_the_program_installs_cert_manager():
    services = {k: v for k, v in PUBLIC_SERVICES.items() if k != "acmeEmail"}
    with pytest.raises(ConfigError, match="services.acmeEmail.*is required on testnet.*ClusterIssuer letsencrypt-prod"):
        parse(raw_config("testnet", services=json.dumps(services)))
    # an operator who brings cert-manager brings the issuer: no email needed
    cfg = parse(raw_config("testnet", services=json.dumps(services), platform=json.dumps({"certManager": False})))
    assert cfg.services.acme_email is None


@pytest.mark.parametrize("key, value, expected", [("acmeEmail", "ops at tonsurance", "email address"),
                                                  ("acmeServer", "http://acme.example/directory", "https://")])
def test_malformed_acme_settings_are_refused(key, value, expected):
    with pytest.raises(ConfigError, match=expected):
        parse(raw_config("mainnet", services=json.dumps({**PUBLIC_SERVICES, key: value})))


def test_the_spec_names_its_account_key_after_the_issuer():
    spec = issuer_spec(TlsIssuerArgs("letsencrypt-staging", "ops@example.org", "https://acme-staging-v02.api.letsencrypt.org/directory"))
    assert spec["acme"]["privateKeySecretRef"] == {"name": "letsencrypt-staging-account-key"}
