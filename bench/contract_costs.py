"""Gas and fees of each Tonsurance contract operation, measured on the real TVM (in-memory chain, mainnet config).

    .venv/bin/python bench/contract_costs.py [--smoke]     # --smoke: the shard fill table at two sizes only

For each operation: the transactions it causes on contract accounts (the sender's own account and the
excess/premium recipients are left out), their gas, and their total fees (compute + storage + action,
including forwarding fees of the messages they send). The last column is the forwarding fee the sender's
wallet pays for the inbound message itself (StateInit and body, by config param 25), which for a deploy is
most of its cost.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pytoniq_core import Address, StateInit  # noqa: E402

from chain.fees import ForwardPrices  # noqa: E402
from chain.records import TxRecord  # noqa: E402
from chain.sandbox import Sandbox  # noqa: E402
from contracts.base import TON, CoverageType, Deployment, premium_due  # noqa: E402
from contracts.multi_tranche_vault import TRANCHES, MultiTrancheVault, MultiTrancheVaultConfig, token_deployment  # noqa: E402
from contracts.policy_router import PolicyRouter, PolicyRouterConfig, shard_deployment  # noqa: E402
from contracts.policy_shard import Policy, PolicyShard, PolicyShardConfig, distinct_policies, filled_data  # noqa: E402
from contracts.pricing_oracle import PricingOracle, PricingOracleConfig  # noqa: E402
from contracts.sure_token import SureTokenMinter, SureTokenWallet  # noqa: E402

NOW = 1_760_000_000
DAY = 86400
PRICE = 20_000_000  # 2% a year


def actor(tag: str) -> Address:
    return Address("0:" + tag * 32)


DEPLOYER, ADMIN, KEEPER, USER, TREASURY, CLAIMS = (actor(t) for t in ("0d", "a1", "b1", "c1", "e2", "e1"))
ACTORS = (DEPLOYER, ADMIN, KEEPER, USER, TREASURY, CLAIMS)


@dataclass(frozen=True)
class Cost:
    operation: str
    transactions: int
    gas: int
    fees: int  # nanotons
    inbound_forward_fee: int  # nanotons, paid by the sender's wallet


PRICES = ForwardPrices.basechain()


def measure(operation: str, txs: list[TxRecord], state_init: StateInit | None = None, refusal: int | None = None) -> Cost:
    """`refusal`: the exit code one contract must refuse with (a measured refusal path)."""
    failed = [tx for tx in txs if tx.address not in ACTORS and not tx.success]
    if [tx.exit_code for tx in failed] != ([refusal] if refusal is not None else []):
        raise RuntimeError(f"{operation}: transaction on {failed[0].address} failed with {failed[0].exit_code}")
    on_contracts = [tx for tx in txs if tx.address not in ACTORS]
    inbound = [txs[0].in_body] + ([state_init.serialize()] if state_init is not None else [])
    return Cost(operation, len(on_contracts), sum(tx.gas_used for tx in on_contracts),
                sum(tx.total_fees for tx in on_contracts), PRICES.fee([c for c in inbound if len(c.bits) or c.refs]))


def deploy(sandbox: Sandbox, operation: str, target: Deployment) -> Cost:
    txs = sandbox.send_internal(sender=DEPLOYER, to=target.address, value=TON // 2, state_init=target.state_init)
    return measure(operation, txs, target.state_init)


def send(sandbox: Sandbox, sender: Address, to: Address, body, value: int) -> list[TxRecord]:
    return sandbox.send_internal(sender=sender, to=to, value=value, body=body)


def run() -> list[Cost]:
    sandbox = Sandbox(now=NOW)
    for who in ACTORS:
        sandbox.fund(who, 1_000_000 * TON)
    costs: list[Cost] = []
    run_get = sandbox.run_get_method

    oracle = PricingOracle.from_config(PricingOracleConfig(admin=ADMIN))
    costs.append(deploy(sandbox, "deploy PricingOracle", oracle))
    for keeper in (KEEPER, actor("b2"), actor("b3")):
        added = measure("oracle add_keeper", send(sandbox, ADMIN, oracle.address,
                                                  PricingOracle.build_add_keeper_body(keeper), TON // 20))
    costs.append(added)
    costs.append(measure("oracle replace_keeper", send(sandbox, ADMIN, oracle.address,
                                                       PricingOracle.build_replace_keeper_body(actor("b3"), actor("b4")),
                                                       TON // 20)))
    for seq, label in ((1, "first for a type"), (2, "again")):
        update = PricingOracle.build_update_price_body(CoverageType.DEPEG, PRICE, seq)
        costs.append(measure(f"oracle update_price ({label})", send(sandbox, KEEPER, oracle.address, update, TON // 20)))

    vault_cfg = MultiTrancheVaultConfig(admin=ADMIN, claims_processor=CLAIMS, oracle=oracle.address, treasury=TREASURY,
                                        shard_count=16)
    vault = MultiTrancheVault.from_config(vault_cfg)
    costs.append(deploy(sandbox, "deploy MultiTrancheVault", vault))
    wrapper = MultiTrancheVault(vault.address)
    fees = wrapper.get_fees(run_get)
    costs.append(deploy(sandbox, "deploy SureToken minter (one of six)", token_deployment(vault.address, TRANCHES[0])))
    for tranche, label in ((1, "first of a holder (deploys wallet)"), (1, "again"), (6, "minter not yet deployed")):
        costs.append(measure(f"deposit, {label}", send(sandbox, USER, vault.address,
                                                       MultiTrancheVault.build_deposit_body(tranche), 100 * TON + fees.deposit)))

    router = PolicyRouter.from_config(PolicyRouterConfig(ADMIN, vault.address, oracle.address, shard_count=16))
    costs.append(deploy(sandbox, "deploy PolicyRouter", router))
    costs.append(deploy(sandbox, "deploy PolicyShard", shard_deployment(vault.address, 1, 16)))
    premium = premium_due(50 * TON, PRICE, 30, wrapper.get_policy_rent(run_get, 30))
    create = PolicyRouter.build_create_policy_body(CoverageType.DEPEG, 50 * TON, 30, premium)
    for label in ("shard deployed", "shard never deployed"):
        costs.append(measure(f"create policy, {label}", send(sandbox, USER, router.address, create, premium + fees.policy)))
    underpriced = PolicyRouter.build_create_policy_body(CoverageType.DEPEG, 50 * TON, 30, premium - 1)
    costs.append(measure("create policy, refused (underpriced)",
                         send(sandbox, USER, router.address, underpriced, premium + fees.policy)))
    costs.append(measure("pay_claim (waterfall)", send(sandbox, CLAIMS, vault.address,
                                                      MultiTrancheVault.build_pay_claim_body(1, 10 * TON), fees.claim)))
    costs.append(measure("pay_claim, refused by the shard (paid once)",
                         send(sandbox, CLAIMS, vault.address, MultiTrancheVault.build_pay_claim_body(1, TON), fees.claim),
                         refusal=419))

    minter = token_deployment(vault.address, TRANCHES[5]).address  # EQT: no lock
    wallet = SureTokenWallet.address_of(USER, minter, 0)
    costs.append(measure("redeem (holder burn -> minter -> vault payout)",
                         send(sandbox, USER, wallet, SureTokenWallet.build_burn_body(10 * TON, USER), fees.redeem)))
    # cover up to the cap, so that the next burn is queued; then withdrawn when due
    capital, sold = wrapper.get_total_capital(run_get), wrapper.get_total_coverage_sold(run_get)
    cover = capital * 8000 // 10000 - sold
    update = PricingOracle.build_update_price_body(CoverageType.DEPEG, PRICE, 3)
    send(sandbox, KEEPER, oracle.address, update, TON // 20)
    big = premium_due(cover, PRICE, 30, wrapper.get_policy_rent(run_get, 30))
    send(sandbox, USER, router.address, PolicyRouter.build_create_policy_body(CoverageType.DEPEG, cover, 30, big),
         big + fees.policy)
    costs.append(measure("redeem, queued (burn -> vault -> minter -> wallet)",
                         send(sandbox, USER, wallet, SureTokenWallet.build_burn_body(10 * TON, USER), fees.redeem)))
    sandbox.now = SureTokenWallet(wallet).get_queued_redemption(run_get).due
    costs.append(measure("withdraw_queued when due (wallet -> vault payout)",
                         send(sandbox, USER, wallet, SureTokenWallet.build_withdraw_queued_body(), fees.redeem)))
    costs.append(measure("jetton wallet withdraw_ton", send(sandbox, USER, wallet,
                                                           SureTokenWallet.build_withdraw_ton_body(), TON // 20)))
    shard = shard_deployment(vault.address, 1, 16).address
    costs.append(measure("prune_policies (2 ids named)",
                         send(sandbox, USER, shard, PolicyShard.build_prune_policies_body([1, 17]), TON // 20)))
    costs.append(measure("jetton transfer (deploys receiver wallet)",
                         send(sandbox, USER, wallet, SureTokenWallet.build_transfer_body(TON, TREASURY, USER), TON // 5)))
    costs.append(measure("TEP-89 provide_wallet_address",
                         send(sandbox, USER, minter, SureTokenMinter.build_provide_wallet_address_body(USER, True), TON // 20)))
    costs.append(measure("propose_admin", send(sandbox, ADMIN, vault.address,
                                              MultiTrancheVault.build_propose_admin_body(actor("a2")), TON // 20)))
    costs.append(measure("recover (vault surplus)", send(sandbox, ADMIN, vault.address,
                                                        MultiTrancheVault.build_recover_body(), TON // 20)))
    return costs


SHARD_FILLS = (0, 1_000, 4_000, 16_000 - 1)


def shard_fill(fills: tuple[int, ...] = SHARD_FILLS) -> list[tuple[int, int, int]]:
    """(live policies before, gas of store_policy, gas of claim) on one shard, with expired policies to prune."""
    rows = []
    vault = actor("f1")
    for fill in fills:
        sandbox = Sandbox(now=NOW)
        sandbox.fund(vault, 1_000 * TON)
        cfg = PolicyShardConfig(5, vault, 16)
        target = PolicyShard.from_config(cfg)
        sandbox.send_internal(sender=vault, to=target.address, value=TON, state_init=target.state_init)
        live = Policy(USER, CoverageType.DEPEG, TON, 1, NOW, NOW + 30 * DAY)
        policies = (distinct_policies(cfg, 2, USER, NOW - 2 * DAY, NOW - DAY)
                    | distinct_policies(cfg, fill, USER, NOW, NOW + 30 * DAY, first=2))
        sandbox.set_data(target.address, filled_data(cfg, policies))
        next_id = 5 + 16 * (fill + 2)
        store = send(sandbox, vault, target.address, PolicyShard.build_store_policy_body(next_id, live, 10**6),
                     TON // 10)
        claim = send(sandbox, vault, target.address, PolicyShard.build_claim_body(next_id, TON), TON // 10)
        assert store[0].success and claim[0].success
        rows.append((fill, store[0].gas_used, claim[0].gas_used))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="the shard fill table at two sizes only")
    smoke = parser.parse_args().smoke
    costs = run()
    header = f"{'operation':<48} {'txs':>3} {'gas':>7} {'fees (TON)':>11} {'inbound fwd (TON)':>18}"
    print(header)
    print("-" * len(header))
    for cost in costs:
        print(f"{cost.operation:<48} {cost.transactions:>3} {cost.gas:>7} {cost.fees / TON:>11.6f} {cost.inbound_forward_fee / TON:>18.6f}")
    print()
    print("PolicyShard gas as it fills (store_policy also prunes two expired policies)")
    print(f"{'live policies':>14} {'store_policy gas':>17} {'claim gas':>10}")
    for fill, store_gas, claim_gas in shard_fill(SHARD_FILLS[:2] if smoke else SHARD_FILLS):
        print(f"{fill:>14} {store_gas:>17} {claim_gas:>10}")


if __name__ == "__main__":
    main()
