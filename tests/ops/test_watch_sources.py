"""Where `ops watch` finds the stack's Prometheus and Alertmanager, and its command line as the workflow runs it
(the watch itself runs against the real servers in tests/servers/test_ops_watch.py)."""
from __future__ import annotations

import argparse
import json

import pytest

from config import ConfigError
from ops import watch
from ops.__main__ import build_parser
from tests.support import parse, raw_config


def args(**given) -> argparse.Namespace:
    return argparse.Namespace(**{"prometheus_url": None, "alertmanager_url": None, **given})


def test_the_workflows_command_line_parses():
    parsed = build_parser().parse_args(["watch", "--stack", "mainnet", "--minutes", "30"])
    assert parsed.module is watch and parsed.minutes == 30 and parsed.interval == 60


def test_local_reads_the_ports_scripts_servers_recorded(tmp_path):
    (tmp_path / "ports.json").write_text(json.dumps({"prometheus": 41001, "alertmanager": 41002}))
    monitoring = watch.stack_monitoring(parse(raw_config()), args(), tmp_path)
    assert (monitoring.prometheus_url, monitoring.alertmanager_url) == ("http://127.0.0.1:41001", "http://127.0.0.1:41002")


def test_local_without_recorded_ports_says_to_start_the_servers(tmp_path):
    with pytest.raises(watch.WatchError, match="scripts/servers start"):
        watch.stack_monitoring(parse(raw_config()), args(), tmp_path)
    assert not (tmp_path / "ports.json").exists()  # the watch records no port of its own


def test_public_stacks_default_to_the_canary_gates_prometheus(tmp_path):
    cfg = parse(raw_config("mainnet"))
    monitoring = watch.stack_monitoring(cfg, args(), tmp_path)
    assert monitoring.prometheus_url == cfg.services.rollout.prometheus_url
    assert monitoring.alertmanager_url is None and monitoring.origin == "tonsurance:services.prometheusUrl"


def test_watch_addresses_in_config_and_on_the_command_line_take_precedence(tmp_path):
    cfg = parse(raw_config("testnet", watchPrometheusUrl="https://prometheus.ops.example",
                           watchAlertmanagerUrl="https://alertmanager.ops.example"))
    monitoring = watch.stack_monitoring(cfg, args(), tmp_path)
    assert monitoring == watch.Monitoring("https://prometheus.ops.example", "https://alertmanager.ops.example",
                                          "tonsurance:watchPrometheusUrl")
    given = watch.stack_monitoring(cfg, args(prometheus_url="http://127.0.0.1:9090"), tmp_path)
    assert given.prometheus_url == "http://127.0.0.1:9090" and given.origin == "--prometheus-url"


@pytest.mark.parametrize("key", ["watchPrometheusUrl", "watchAlertmanagerUrl"])
def test_a_watch_address_must_be_an_http_url(key):
    with pytest.raises(ConfigError, match=key):
        parse(raw_config("testnet", **{key: "prometheus:9090"}))


def test_the_target_is_the_canaried_services_under_the_stacks_gates():
    cfg = parse(raw_config("mainnet"))
    target = watch.stack_target(cfg)
    assert target.namespace == "tonsurance-mainnet"
    assert set(target.services) == {"ocaml-backend", "api-v2", "websocket-v2"}
    assert [g.limit for g in target.gates] == [cfg.services.rollout.max_error_rate, cfg.services.rollout.max_p99_ms / 1000]
