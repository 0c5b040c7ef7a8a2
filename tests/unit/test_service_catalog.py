"""The workload table other components build on: complete, consistent with config, secret names per stack."""

import json

import pytest

from chain.client import NETWORKS
from components.services.catalog import SERVICES, SERVICES_BY_NAME, secret_id, secret_names, selector_labels
from config.types import IMAGE_KEYS
from tests.support import IMAGES, error_for, raw_config


def test_the_five_workloads_of_the_guide_each_with_an_image_config_requires():
    assert [s.name for s in SERVICES] == ["ocaml-backend", "pricing-keeper", "bridge-health-keeper", "api-v2",
                                         "websocket-v2"]
    assert sorted(s.image_key for s in SERVICES) == sorted(IMAGE_KEYS)   # one key each, every key used
    for service in SERVICES:
        images = {key: image for key, image in IMAGES.items() if key != service.image_key}
        assert f"missing: {service.image_key}" in str(error_for(raw_config(images=json.dumps(images))))


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_every_row_is_complete(service):
    assert set(service.resources) == set(NETWORKS)
    assert service.port != service.metrics_port
    assert set(service.calls) <= set(SERVICES_BY_NAME) - {service.name}
    assert len(set(service.secret_names)) == len(service.secrets)
    assert len({s.env for s in service.secrets}) == len(service.secrets)  # no env var set twice


def test_keepers_are_the_singletons_and_the_http_services_roll_out():
    assert {s.name for s in SERVICES if not s.replicated} == {"pricing-keeper", "bridge-health-keeper"}
    assert {s.public_host for s in SERVICES if s.public_host} == {"api", "ws"}


def test_secret_names_follow_the_redis_mode():
    in_cluster, managed = secret_names(redis_in_cluster=True), secret_names(redis_in_cluster=False)
    assert "redis-password" in in_cluster and "redis-url" not in in_cluster
    assert "redis-url" in managed and "redis-password" not in managed
    assert set(in_cluster) - {"redis-password"} == set(managed) - {"redis-url"} == {
        "database-url", "jwt-secret", "slack-webhook-url", "polymarket-api-key", "binance-api-key",
        "allianz-api-key", "pricing-keeper-mnemonic", "bridge-health-keeper-mnemonic", "pagerduty-routing-key"}
    assert secret_id("mainnet", "jwt-secret") == "tonsurance/mainnet/jwt-secret"


def test_selector_labels_name_the_workload():
    assert selector_labels("api-v2")["app.kubernetes.io/name"] == "api-v2"
