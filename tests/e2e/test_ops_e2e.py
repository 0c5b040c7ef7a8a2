"""The ops commands around a real `up` of a throwaway copy of the local stack (real engine, localnet, PostgreSQL):

1. preflight estimates the cost of the fresh deploy; the up then pays within 5% of it (fees and total);
   preflight after the up reports 0 for the no-op update.
2. verify passes after the up and a price update sent by a keeper (the test plays one), and fails naming
   the checks once the price is older than 300 s (chain clock moved).
3. `ops record` writes the deployment record beside the stack's state, with the stack's addresses and the
   update's outcome. (Rollback: tests/e2e/test_rollback_e2e.py.)
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from pytoniq_core import Address

from chain.wallets import deployer_wallet_addresses
from contracts.base import CoverageType, TON
from contracts.pricing_oracle import PricingOracle
from ops import preflight, verify
from ops.checks import stack_config
from ops.stack import plain_outputs
from tests.e2e.harness import engine_env

pytestmark = pytest.mark.e2e

TON_TYPES = ("pulumi-python:dynamic/ton:Deployment", "pulumi-python:dynamic/ton:Contract",
             "pulumi-python:dynamic/ton:ShardBatch")


def paid_by_deployer(copy, mnemonic: str) -> tuple[int, int]:
    """(TON that left the deployer wallets, deploy values) of the ups so far: faucet top-ups minus what is left.
    The Deployment resource sends every contract; the per-contract resources adopt them (and would pay for
    any they had to deploy themselves)."""
    resources = [r for r in copy.stack.export_stack().deployment["resources"] if r["type"] in TON_TYPES]
    funded = sum(int(r["outputs"].get("faucet_funded") or 0) for r in resources)
    values = 0
    for r in resources:
        if r["type"] == TON_TYPES[0]:
            values += sum(int(r["inputs"]["contracts"][name]["deploy_value"]) for name in r["outputs"]["deployed"])
        elif r["type"] == TON_TYPES[1] and r["outputs"].get("deployed_by") == "message":
            values += int(r["inputs"]["deploy_value"])
        elif r["type"] == TON_TYPES[2]:
            values += int(r["inputs"]["deploy_value"]) * len(r["outputs"].get("deployed_ids") or [])
    chain = copy.localnet()
    left = sum(chain.account(a).balance for a in deployer_wallet_addresses(mnemonic).values())
    return funded - left, values


def run_ops(copy, command: str) -> subprocess.CompletedProcess:
    json_flag = ["--json"] if command in ("verify", "preflight") else []
    return subprocess.run([sys.executable, "-m", "ops", command, "--stack", copy.stack.name, *json_flag],
                          cwd=copy.work_dir, env={**os.environ, **engine_env(copy.work_dir)}, capture_output=True,
                          text=True, timeout=600)


def test_estimate_matches_fees_paid_noop_is_zero_verify_and_record(local_stack, monkeypatch):
    copy = local_stack
    # As `python -m ops` runs beside the engine: the same backend, so the same deployer journal.
    monkeypatch.setenv("PULUMI_BACKEND_URL", engine_env(copy.work_dir)["PULUMI_BACKEND_URL"])
    cfg = stack_config(copy.stack)
    chain = copy.localnet()
    ok, detail, before = preflight.deployer_balance(cfg, chain, copy.work_dir)
    assert ok and (before["contracts_to_deploy"], before["shards_to_deploy"]) == (9, 16)

    copy.stack.up(on_output=lambda _line: None)
    cost, values = paid_by_deployer(copy, cfg.ton.deployer_mnemonic.value)
    assert values == before["deploy_values_nanotons"]
    estimated, estimated_fees = before["estimated_cost_nanotons"], before["estimated_fees_nanotons"]
    print(f"estimated {estimated} (fees {estimated_fees}), paid {cost} (fees {cost - values}) nanotons")
    assert abs(estimated - cost) <= 0.05 * cost
    assert abs(estimated_fees - (cost - values)) <= 0.05 * (cost - values)

    ok, detail, after = preflight.deployer_balance(cfg, copy.localnet(), copy.work_dir)
    assert (after["contracts_to_deploy"], after["shards_to_deploy"], after["estimated_cost_nanotons"]) == (0, 0, 0)
    assert "estimated cost of this update 0.0000 TON" in detail

    outputs = plain_outputs(copy.stack)
    chain = copy.localnet()
    assert not verify.oracle_fresh(outputs, chain)[0]
    # keepers are set by the admin's messages; adding one twice changes nothing
    keeper, oracle_address = Address(outputs["keeper_addresses"][0]), Address(outputs["pricing_oracle_address"])
    chain.send_internal(sender=Address(outputs["admin_address"]), to=oracle_address, value=TON // 10,
                        body=PricingOracle.build_add_keeper_body(keeper))
    chain.send_internal(sender=keeper, to=oracle_address, value=TON // 10,
                        body=PricingOracle.build_update_price_body(CoverageType.DEPEG, 20_000_000, 1))
    checks = verify.verify(cfg, outputs, copy.work_dir)
    assert all(c.ok for c in checks), [(c.name, c.detail) for c in checks]

    chain.advance_time(301)
    failed = [c for c in verify.verify(cfg, outputs, copy.work_dir) if not c.ok]
    # A stale price fails freshness, and no test policy can be bought at it (the vault refuses stale prices).
    assert [c.name for c in failed] == ["oracle freshness", "test policy"] and "(limit 300 s)" in failed[0].detail
    assert "no coverage type has a fresh oracle price" in failed[1].detail

    # The same through the command line, as an operator or CI runs it (--json), from the project copy.
    verified = run_ops(copy, "verify")
    assert verified.returncode == 1
    report = json.loads(verified.stdout)
    assert [c["name"] for c in report["checks"] if not c["ok"]] == ["oracle freshness", "test policy"]
    checked = json.loads(run_ops(copy, "preflight").stdout)["checks"]
    balance = next(c for c in checked if c["name"] == "deployer balance")
    assert balance["ok"] and balance["figures"]["estimated_cost_nanotons"] == 0
    database = next(c for c in checked if c["name"] == "database")  # the local server, over its socket
    assert database["ok"] and database["detail"].endswith("answers SELECT 1 without TLS (local)")
    git = next(c for c in checked if c["name"] == "git")
    assert not git["ok"]  # the copy is no git checkout: preflight says so instead of passing

    recorded = run_ops(copy, "record")
    location = recorded.stdout.splitlines()[0].removeprefix("deployment record: ")
    assert location.startswith(str(copy.work_dir / ".state" / "pulumi" / ".tonsurance" / "records" / "local-"))
    record = json.loads(open(location).read())
    history = copy.stack.history(show_secrets=False)
    assert record["update"]["result"] == "succeeded" and len(history) == 1
    assert record["update"]["started_at"] == history[0].start_time.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert record["contracts"]["policy_router"] == outputs["policy_router_address"]
    assert record["contracts"]["policy_shard"] == outputs["policy_shard_addresses"]
    assert record["database"]["backup_id"] == outputs["database_backup_id"]
    assert cfg.ton.deployer_mnemonic.value.split()[0] not in json.dumps(record).split('"')
    assert not (copy.work_dir / "deployments").exists()
