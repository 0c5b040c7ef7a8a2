"""A skipped check says SKIP and why; on mainnet it fails unless waived, and the waiver's reason is in the
report (table and --json). verify's API address defaults to the stack's public API host."""
from __future__ import annotations

import json

import pytest

from ops import verify
from ops.__main__ import build_parser
from ops.checks import Check, Skipped, hold_skips, report, run_check
from tests.support import parse, raw_config


def skipping() -> tuple[bool, str]:
    raise Skipped("a test policy on mainnet costs real TON")


def checks() -> list[Check]:
    return [run_check("contracts", lambda: (True, "all active")), run_check("test policy", skipping)]


def test_a_skipped_check_prints_skip_with_its_reason_and_passes_off_mainnet(capsys):
    held = hold_skips(checks(), strict=False, waivers={})
    assert report("verify of stack testnet", held, as_json=False) == 0
    assert "SKIP  test policy  a test policy on mainnet costs real TON" in capsys.readouterr().out


def test_on_mainnet_a_skipped_check_fails_and_says_how_to_waive_it(capsys):
    held = hold_skips(checks(), strict=True, waivers={})
    assert report("verify of stack mainnet", held, as_json=False) == 1
    out = capsys.readouterr().out
    assert "FAIL  test policy  skipped: a test policy on mainnet costs real TON" in out
    assert "--waive 'test policy' --reason" in out


def test_a_waiver_passes_the_skip_and_is_recorded_in_the_output(capsys):
    held = hold_skips(checks(), strict=True, waivers={"test policy": "bought by hand from the ops wallet"})
    assert report("verify of stack mainnet", held, as_json=True) == 0
    recorded = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert recorded["test policy"]["status"] == "WAIVED"
    assert recorded["test policy"]["waived"] == "bought by hand from the ops wallet"
    assert recorded["contracts"]["status"] == "PASS" and recorded["contracts"]["waived"] is None


def test_a_waiver_does_not_hide_a_failure_and_must_name_a_check():
    failing = [run_check("api", lambda: (False, "/health answered 503"))]
    assert not hold_skips(failing, strict=True, waivers={"api": "no reason"})[0].ok
    with pytest.raises(ValueError, match="--waive names no check: tset policy"):
        hold_skips(checks(), strict=True, waivers={"tset policy": "typo"})


def test_waive_needs_a_reason(capsys):
    args = build_parser().parse_args(["verify", "--stack", "mainnet", "--waive", "test policy"])
    assert verify.run(args) == 2  # before the stack is opened
    assert "--waive needs --reason" in capsys.readouterr().out


def test_the_api_defaults_to_the_public_api_host(tmp_path):
    mainnet = parse(raw_config("mainnet"))
    assert verify.api_url(mainnet, tmp_path) == f"https://api.{mainnet.services.domain}"
    testnet = parse(raw_config("testnet", apiUrl="https://api.staging.example"))
    assert verify.api_url(testnet, tmp_path) == "https://api.staging.example"
    with pytest.raises(Skipped, match="no api-v2 stand-in runs"):   # localnet: no ingress serves api.<domain>
        verify.api_url(parse(raw_config()), tmp_path)
    assert verify.api_url(parse(raw_config(apiUrl="http://127.0.0.1:8080")), tmp_path) == "http://127.0.0.1:8080"
