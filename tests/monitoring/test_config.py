"""`tonsurance:monitoring` and `tonsurance:platform`: defaults per network and every refusal names its key."""

import json

import pytest

from config import PLATFORM_CHARTS
from tests.support import error_for, parse, raw_config


def test_defaults():
    local = parse(raw_config("localnet"))
    assert local.monitoring.slack_channel == "#ops-urgent"
    assert local.monitoring.runbook_url == "docs/runbook.md"
    assert not any(local.platform.charts[c] for c in PLATFORM_CHARTS)  # local: charts never fetched
    for network in ("testnet", "mainnet"):
        assert all(parse(raw_config(network)).platform.charts[c] for c in PLATFORM_CHARTS)


def test_operator_switches_charts_off_and_sets_monitoring():
    cfg = parse(raw_config("mainnet", platform=json.dumps({"kubePrometheusStack": False, "certManager": False}),
                           monitoring=json.dumps({"slackChannel": "#tonsurance-alerts",
                                                  "runbookUrl": "https://git.example/ops/docs/runbook.md"})))
    assert {c for c in PLATFORM_CHARTS if cfg.platform.charts[c]} == {"ingressNginx", "argoRollouts",
                                                                         "externalSecrets"}
    assert cfg.monitoring.slack_channel == "#tonsurance-alerts"
    assert cfg.monitoring.runbook_url == "https://git.example/ops/docs/runbook.md"


@pytest.mark.parametrize("key, value, message", [
    ("platform", {"prometheus": True}, "config tonsurance:platform: has unknown keys prometheus"),
    ("platform", {"certManager": "yes"}, "config tonsurance:platform.certManager: must be true or false"),
    ("platform", ["certManager"], "config tonsurance:platform: must be a dict"),
    ("monitoring", {"slackChannel": "ops"}, "config tonsurance:monitoring.slackChannel: must be a Slack channel"),
    ("monitoring", {"runbookUrl": "docs/runbook.md#x"}, "config tonsurance:monitoring.runbookUrl: must be"),
    ("monitoring", {"webhook": "https://hooks.slack.com/x"}, "config tonsurance:monitoring: has unknown keys webhook"),
])
def test_bad_values_name_their_key(key, value, message):
    error = error_for(raw_config("testnet", **{key: json.dumps(value)}))
    assert str(error).startswith(message)


def test_a_webhook_given_as_channel_is_refused_without_echoing_it():
    """The webhook URL is a secret kept in Secrets Manager; pasting it into config must not echo it back."""
    error = error_for(raw_config("testnet", monitoring=json.dumps({"slackChannel": "https://hooks.slack.com/T0/B0/XyZ"})))
    assert "monitoring.slackChannel" in str(error) and "hooks.slack.com" not in str(error)
