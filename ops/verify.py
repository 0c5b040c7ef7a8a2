"""Post-deployment verification (the guide's "Post-Deployment Verification") against the chain.

    python -m ops verify --stack mainnet [--json]

- contracts: each contract's getters against the stack outputs: one admin (the configured multisig),
  the vault's oracle and six tranches with the token addresses it derives, the router's vault, oracle and
  shard count, and every shard address the vault and the router derive; every contract and shard active
- oracle freshness: the oracle's last price update is under 300 s old (chain time)
- sales: whether the vault is paused, reported as such (not a failure: the mainnet vault is deployed paused and
  its first multisig order is the unpause; the pause is also the incident response)
- api: GET <API>/health and a premium quote answer; the API is tonsurance:apiUrl, by default
  https://api.<services.domain>; on the local stack, where no ingress serves it, the checkout's api-v2
  stand-in (localcluster/standins), else SKIP
- test policy (localnet): a policy bought through the router at the oracle's price is found in the shard it
  routes to (a faucet-backed test LP deposits first when the vault lacks capacity); skipped elsewhere
A skipped check prints SKIP with its reason. On mainnet a skipped check fails unless waived:
`--waive 'test policy' --reason 'bought by hand from the ops wallet'` (the reason is in the output).
Exit code 0 only when every check passes.
"""
from __future__ import annotations

import argparse
import json
import urllib.request
from pathlib import Path
from typing import Any

from pytoniq_core import Address

from chain.connect import connect
from config import StackConfig
from contracts.base import CoverageType, premium_due
from contracts.multi_tranche_vault import TRANCHES, MultiTrancheVault
from contracts.policy_router import MIN_COVERAGE, PolicyRouter
from contracts.policy_shard import PolicyShard
from contracts.pricing_oracle import MAX_STALENESS, PricingOracle
from ops.checks import Check, Skipped, contracts_args, hold_skips, report, run_check, stack_config
from ops.stack import ROOT, open_stack, plain_outputs

TEST_POLICY_HOLDER = Address("0:" + "7e" * 32)  # localnet only: the faucet-backed buyer of the test policy
TEST_LP = Address("0:" + "7f" * 32)             # localnet only: deposits when the vault lacks capacity
TEST_LP_TRANCHE = TRANCHES[-1].id                # EQT: no lock
QUOTE_PATH = "/premium/swing-quote?coverage_type=1&chain_id=0&stablecoin_id=0&coverage_amount=10000000000&duration_days=30"


def _same(a: Address | None, b: str) -> bool:
    return a is not None and a == Address(b)


def contracts_match(outputs: dict[str, Any], client) -> tuple[bool, str]:
    run = client.run_get_method
    problems = []
    oracle = PricingOracle(Address(outputs["pricing_oracle_address"]))
    vault = MultiTrancheVault(Address(outputs["multi_tranche_vault_address"]))
    router = PolicyRouter(Address(outputs["policy_router_address"]))
    shards = outputs["policy_shard_addresses"]
    for name, address in [("oracle", oracle.address), ("vault", vault.address), ("router", router.address),
                          *[(f"shard {i}", Address(s)) for i, s in enumerate(shards)],
                          *[(f"token {t}", Address(a)) for t, a in outputs["sure_token_addresses"].items()]]:
        status = client.account(address).status
        if status != "active":
            problems.append(f"{name} {address.to_str(is_user_friendly=False)} is {status}")
    if problems:
        return False, "; ".join(problems[:5])
    admin = outputs["admin_address"]
    for name, wrapper in (("oracle", oracle), ("vault", vault), ("router", router)):
        if not _same(wrapper.get_admin(run), admin):
            problems.append(f"{name} admin is {wrapper.get_admin(run)}, the stack says {admin}")
    if vault.get_oracle(run) != oracle.address:
        problems.append("the vault's oracle is not the stack's oracle")
    if router.get_vault(run) != vault.address or router.get_oracle(run) != oracle.address:
        problems.append("the router's vault or oracle is not the stack's")
    if vault.get_tranche_count(run) != len(TRANCHES):
        problems.append(f"the vault has {vault.get_tranche_count(run)} tranches, expected {len(TRANCHES)}")
    for tranche in TRANCHES:
        name = tranche.symbol.removeprefix("SURE-")
        if not _same(vault.get_tranche_token_address(run, tranche.id), outputs["sure_token_addresses"][name]):
            problems.append(f"the vault derives another {tranche.symbol} token address than the stack's")
    counts = {"router": router.get_shard_count(run), "vault": vault.get_params(run)[2]}
    for name, count in counts.items():
        if count != outputs["shard_count"] or count != len(shards):
            problems.append(f"the {name} has {count} shards; the stack says {outputs['shard_count']} "
                            f"with {len(shards)} addresses")
    for name, wrapper in (("vault", vault), ("router", router)):
        wrong = [i for i, s in enumerate(shards) if not _same(wrapper.get_shard_address(run, i), s)]
        if wrong:
            problems.append(f"the {name} derives other addresses for shard(s) {wrong[:10]}")
    return not problems, "; ".join(problems) or (
        f"oracle, vault, {len(TRANCHES)} tokens, router and {len(shards)} shards active; one admin {admin}; "
        "derived token and shard addresses match")


def oracle_fresh(outputs: dict[str, Any], client) -> tuple[bool, str]:
    oracle = PricingOracle(Address(outputs["pricing_oracle_address"]))
    last = oracle.get_last_update(client.run_get_method)
    if last == 0:
        return False, "the oracle has never received a price update"
    age = client.now() - last
    return age < MAX_STALENESS, f"last price update {age} s ago (limit {MAX_STALENESS} s)"


def sales_state(cfg: StackConfig, outputs: dict[str, Any], client) -> tuple[bool, str, dict]:
    """The vault's pause is the protocol's one: reported, never a failure (paused is an admin's decision)."""
    paused = MultiTrancheVault(Address(outputs["multi_tranche_vault_address"])).is_paused(client.run_get_method)
    if not paused:
        return True, "vault open: deposits and policy sales are accepted", {"vault_paused": False}
    return True, ("vault PAUSED: deposits and policy sales are refused until the multisig unpauses it. After the "
                  "first deploy this is expected (the vault deploys paused on mainnet): the first order is "
                  f"`python -m ops multisig new --stack {cfg.stack} unpause --key-file <signer key>`, then signers "
                  "approve it (docs/ops.md, multisig)"), {"vault_paused": True}


def api_url(cfg: StackConfig, work_dir: Path) -> str | None:
    """tonsurance:apiUrl; else on the local stack an api-v2 stand-in of the checkout, elsewhere the API's public
    host (api.<domain>, components/services/catalog.py)."""
    from components.services.catalog import SERVICES_BY_NAME

    if cfg.ops.api_url:
        return cfg.ops.api_url
    if cfg.ton.network != "localnet":
        return f"https://{SERVICES_BY_NAME['api-v2'].public_host}.{cfg.services.domain}"
    from localcluster.standins.controller import Paths, service_url
    found = service_url(Paths(work_dir / ".state"), "api-v2", cfg.kubernetes.namespace)
    if found is None:
        raise Skipped("no tonsurance:apiUrl configured and no api-v2 stand-in runs for this checkout "
                      "(`make up` starts them)")
    return found


def api_healthy(api_url: str | None) -> tuple[bool, str]:
    if api_url is None:
        raise Skipped("no API to ask: set tonsurance:apiUrl")
    base = api_url.rstrip("/")
    with urllib.request.urlopen(f"{base}/health", timeout=10) as answer:
        if answer.status != 200:
            return False, f"{base}/health answered {answer.status}"
    with urllib.request.urlopen(base + QUOTE_PATH, timeout=10) as answer:
        quote = json.loads(answer.read())
    if not isinstance(quote, dict) or not isinstance(quote.get("total_premium"), int) or quote["total_premium"] <= 0:
        return False, f"the premium quote has no positive total_premium: {quote!r}"[:200]
    return True, f"/health 200; premium quote total {quote['total_premium']} nanotons"


def policy_round_trip(cfg: StackConfig, outputs: dict[str, Any], client) -> tuple[bool, str]:
    if cfg.ton.network != "localnet":
        raise Skipped(f"a test policy on {cfg.ton.network} costs real TON: buy one from a wallet")
    run = client.run_get_method
    oracle = PricingOracle(Address(outputs["pricing_oracle_address"]))
    vault = MultiTrancheVault(Address(outputs["multi_tranche_vault_address"]))
    router = PolicyRouter(Address(outputs["policy_router_address"]))
    now = client.now()
    prices = {t: oracle.get_price(run, t) for t in CoverageType}
    fresh = [t for t, p in prices.items() if p.price > 0 and now - p.updated_at < oracle.get_max_staleness(run)]
    if not fresh:
        return False, "no coverage type has a fresh oracle price to buy a test policy at"
    coverage_type, coverage, days = fresh[0], MIN_COVERAGE, 1
    fees = vault.get_fees(run)
    cap_bps = vault.get_params(run)[0]
    capacity = vault.get_total_capital(run) * cap_bps // 10_000 - vault.get_total_coverage_sold(run)
    if capacity < coverage:
        client.send_internal(sender=TEST_LP, to=vault.address, value=2 * coverage + fees.deposit,
                             body=MultiTrancheVault.build_deposit_body(TEST_LP_TRANCHE))
    policy_id = vault.get_book(run).next_policy_id
    premium = premium_due(coverage, prices[coverage_type].price, days, router.get_policy_rent(run, days))
    client.send_internal(sender=TEST_POLICY_HOLDER, to=router.address, value=premium + router.get_policy_fee(run),
                         body=router.build_create_policy_body(coverage_type, coverage, days, premium))
    shard_id = router.get_shard_for_policy(run, policy_id)
    shard = PolicyShard(Address(outputs["policy_shard_addresses"][shard_id]))
    stored = shard.get_policy(run, policy_id) if client.account(shard.address).status == "active" else None
    if stored is None or stored.holder != TEST_POLICY_HOLDER:
        return False, f"test policy {policy_id} was not found in shard {shard_id}"
    return True, f"test policy {policy_id} bought through the router and found in shard {shard_id}"


def verify(cfg: StackConfig, outputs: dict[str, Any], work_dir: Path = ROOT) -> list[Check]:
    with connect(contracts_args(cfg, work_dir).deployer.chain) as client:
        return [
            run_check("contracts", lambda: contracts_match(outputs, client)),
            run_check("oracle freshness", lambda: oracle_fresh(outputs, client)),
            run_check("sales", lambda: sales_state(cfg, outputs, client)),
            run_check("api", lambda: api_healthy(api_url(cfg, work_dir))),
            run_check("test policy", lambda: policy_round_trip(cfg, outputs, client)),
        ]


# ---- the command -----------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the checks as JSON (for CI)")
    parser.add_argument("--waive", action="append", default=[], metavar="CHECK",
                        help="accept that CHECK is skipped (mainnet fails a skipped check otherwise); repeatable")
    parser.add_argument("--reason", help="why the waived checks may be skipped (required with --waive; recorded)")


def run(args: argparse.Namespace) -> int:
    if args.waive and not (args.reason or "").strip():
        print("ops verify: --waive needs --reason '<why the check may be skipped>' (it is recorded in the output)")
        return 2
    stack = open_stack(args.stack)
    cfg = stack_config(stack)
    try:
        checks = hold_skips(verify(cfg, plain_outputs(stack)), cfg.is_mainnet, dict.fromkeys(args.waive, args.reason))
    except ValueError as error:
        print(f"ops verify: {error}")
        return 2
    return report(f"verify of stack {args.stack}", checks, args.json)
