"""verify against a stack deployed on localnet by the providers' own create (the real TVM), a keeper played
by the test, and a local HTTP server standing in for the API. Faults: a frozen contract, an old price, a
wrong output, an API that fails."""
from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from pytoniq_core import Address

from chain.client import ChainSettings
from chain.connect import connect
from chain.sandbox import FAUCET_ADDRESS
from contracts.base import TON, CoverageType
from contracts.multi_tranche_vault import MultiTrancheVault
from contracts.pricing_oracle import PricingOracle
from ops import verify
from ops.checks import contracts_args
from tests.support import parse, raw_config
from ton_deploy.contract import TonContractProvider, contract_inputs
from ton_deploy.plan import plan_contracts
from ton_deploy.shard_batch import ShardBatchProvider, batch_inputs

FREEZE_SECONDS = 920_000_000  # storage fees then exceed a shard's balance plus the freeze limit


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """A localnet with the whole plan deployed, and the stack outputs the program would export."""
    work = tmp_path_factory.mktemp("verify")
    cfg = parse(raw_config(localnetPath="chain.json"))
    plan = plan_contracts(contracts_args(cfg, work))
    created = {name: TonContractProvider().create(contract_inputs(args)).outs["address"]
               for name, args in [("oracle", plan.oracle), ("vault", plan.vault), ("router", plan.router),
                                  *[(t, a) for t, a in plan.tokens.items()]]}
    shards = {}
    for batch in plan.batches:
        shards.update(ShardBatchProvider().create(batch_inputs(batch)).outs["shards"])
    outputs = {
        "admin_address": cfg.ton.admin_address, "pricing_oracle_address": created["oracle"],
        "multi_tranche_vault_address": created["vault"], "policy_router_address": created["router"],
        "sure_token_addresses": {t: created[t] for t in plan.tokens},
        "policy_shard_addresses": [shards[str(i)] for i in range(cfg.ton.shard_count)],
        "shard_count": cfg.ton.shard_count,
    }
    return cfg, outputs, work


@pytest.fixture
def chain(deployed, tmp_path):
    """A private copy of the deployed chain for each test (faults stay in the test)."""
    cfg, outputs, work = deployed
    copy = tmp_path / "chain.json"
    copy.write_bytes((work / "chain.json").read_bytes())
    with connect(ChainSettings("localnet", localnet_path=str(copy))) as client:
        yield client


def keeper_updates_price(cfg, outputs, client) -> None:
    """The admin makes the configured keeper a keeper (keepers are set by message, not at deployment; adding
    one twice changes nothing), and the keeper publishes a price within the oracle's bounds."""
    oracle, keeper = Address(outputs["pricing_oracle_address"]), Address(cfg.ton.keeper_addresses[0])
    client.send_internal(sender=Address(cfg.ton.admin_address), to=oracle, value=TON // 10,
                         body=PricingOracle.build_add_keeper_body(keeper))
    client.send_internal(sender=keeper, to=oracle, value=TON // 10,
                         body=PricingOracle.build_update_price_body(CoverageType.DEPEG, 20_000_000, 1))


def checks_by_name(cfg, outputs, client, api_url=None):
    """name -> (ok, detail) of each check as verify runs it (a skip passes here: localnet)."""
    checks = {"contracts": lambda: verify.contracts_match(outputs, client),
              "oracle": lambda: verify.oracle_fresh(outputs, client), "api": lambda: verify.api_healthy(api_url),
              "policy": lambda: verify.policy_round_trip(cfg, outputs, client)}
    return {name: (c.ok, c.detail) for name, c in ((n, verify.run_check(n, f)) for n, f in checks.items())}


def test_verify_passes_after_deploy_and_a_keeper_price_update(deployed, chain):
    cfg, outputs, _ = deployed
    assert verify.oracle_fresh(outputs, chain) == (False, "the oracle has never received a price update")
    keeper_updates_price(cfg, outputs, chain)
    results = checks_by_name(cfg, outputs, chain)
    assert all(ok for ok, _ in results.values()), results
    assert "16 shards active" in results["contracts"][1]
    assert "found in shard" in results["policy"][1]


def test_a_paused_vault_is_reported_as_such(deployed, chain):
    cfg, outputs, _ = deployed
    assert verify.sales_state(cfg, outputs, chain) == (
        True, "vault open: deposits and policy sales are accepted", {"vault_paused": False})
    chain.send_internal(sender=Address(cfg.ton.admin_address), to=Address(outputs["multi_tranche_vault_address"]),
                        value=TON // 10, body=MultiTrancheVault.build_pause_body())
    ok, detail, figures = verify.sales_state(cfg, outputs, chain)
    assert ok and figures == {"vault_paused": True}
    assert detail.startswith("vault PAUSED: deposits and policy sales are refused")
    assert f"python -m ops multisig new --stack {cfg.stack} unpause --key-file" in detail


def test_old_price_fails_oracle_freshness(deployed, chain):
    cfg, outputs, _ = deployed
    keeper_updates_price(cfg, outputs, chain)
    chain.advance_time(301)
    ok, detail = verify.oracle_fresh(outputs, chain)
    assert not ok and "(limit 300 s)" in detail and "last price update 30" in detail


def test_frozen_contract_fails_contracts(deployed, chain):
    cfg, outputs, _ = deployed
    shard = Address(outputs["policy_shard_addresses"][5])
    chain.advance_time(FREEZE_SECONDS)
    chain.send_internal(sender=FAUCET_ADDRESS, to=shard, value=1, bounce=True)  # its storage phase runs now
    ok, detail = verify.contracts_match(outputs, chain)
    assert not ok and f"shard 5 {shard.to_str(is_user_friendly=False)} is " in detail
    assert chain.account(shard).status != "active"


def test_outputs_that_disagree_with_the_chain_fail(deployed, chain):
    cfg, outputs, _ = deployed
    swapped = dict(outputs, policy_shard_addresses=[outputs["policy_shard_addresses"][1],
                                                    outputs["policy_shard_addresses"][0],
                                                    *outputs["policy_shard_addresses"][2:]])
    ok, detail = verify.contracts_match(swapped, chain)
    assert not ok and "derives other addresses for shard(s) [0, 1]" in detail
    ok, detail = verify.contracts_match(dict(outputs, admin_address="0:" + "99" * 32), chain)
    assert not ok and "oracle admin is" in detail


class _Api(BaseHTTPRequestHandler):
    health = 200
    premium = 17558000000

    def do_GET(self):  # noqa: N802 - http.server's name
        status, body = (self.health, b"ok") if self.path == "/health" else (200, json.dumps(
            {"total_premium": self.premium}).encode())
        self.send_response(status)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


@pytest.fixture
def api():
    _Api.health, _Api.premium = 200, 17558000000
    server = HTTPServer(("127.0.0.1", 0), _Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", _Api
    server.shutdown()


def test_api_health_and_quote(api):
    url, handler = api
    assert verify.api_healthy(url) == (True, "/health 200; premium quote total 17558000000 nanotons")
    handler.premium = 0
    assert verify.api_healthy(url)[0] is False
    handler.health = 503
    check = verify.run_check("api", lambda: verify.api_healthy(url))
    assert not check.ok and "503" in check.detail
    skipped = verify.run_check("api", lambda: verify.api_healthy(None))
    assert skipped.ok and skipped.skipped and skipped.status == "SKIP" and "tonsurance:apiUrl" in skipped.detail


def test_the_test_policy_is_skipped_off_localnet_with_its_reason(deployed, chain):
    cfg, outputs, _ = deployed
    testnet = parse(raw_config("testnet"))
    check = verify.run_check("test policy", lambda: verify.policy_round_trip(testnet, outputs, chain))
    assert check.skipped and check.detail == "a test policy on testnet costs real TON: buy one from a wallet"



def test_a_skipped_check_prints_skip_with_its_reason_never_pass(capsys):
    checks = [verify.Check("contracts", True, "all active"), verify.Check("api", True, "no URL", skipped=True)]
    assert verify.report("verify", checks, as_json=False) == 0
    out = capsys.readouterr().out
    assert "  SKIP  api        no URL" in out and "PASS  api" not in out and "(1 skipped)" in out
    assert verify.report("verify", checks, as_json=True) == 0
    assert [c["status"] for c in json.loads(capsys.readouterr().out)["checks"]] == ["PASS", "SKIP"]


def test_the_local_api_check_calls_a_running_api_stand_in_of_the_checkout(api, tmp_path):
    url, _ = api
    cfg = parse(raw_config())
    assert verify.run_check("api", lambda: verify.api_healthy(verify.api_url(cfg, tmp_path))).skipped
    status = tmp_path / ".state" / "standins-controller" / "status.json"
    status.parent.mkdir(parents=True)
    status.write_text(json.dumps({"namespace": cfg.kubernetes.namespace, "pid": os.getpid(), "standins": [
        {"service": "websocket-v2", "pid": os.getpid(), "http": "http://127.0.0.1:1"},
        {"service": "api-v2", "pid": os.getpid(), "http": url}]}))
    assert verify.api_url(cfg, tmp_path) == url
    assert verify.api_healthy(verify.api_url(cfg, tmp_path))[0]
