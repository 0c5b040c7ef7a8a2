"""Gas and fees of each Tonsurance contract operation, measured on the real TVM (in-memory chain, mainnet config).

    .venv/bin/python bench/contract_costs.py

For each operation: the transactions it causes on contract accounts (the sender's own account and the
excess/premium recipients are left out), their gas, and their total fees (compute + storage + action,
including forwarding fees of the messages they send). The last column is the forwarding fee the sender's
wallet pays for the inbound message itself (StateInit and body, by config param 25), which for a deploy is
most of its cost.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pytoniq_core import Address, StateInit  # noqa: E402

from chain.fees import ForwardPrices  # noqa: E402
from chain.sandbox import Sandbox, TxRecord  # noqa: E402
from contracts.base import TON, CoverageType, Deployment  # noqa: E402
from contracts.multi_tranche_vault import TRANCHES, MultiTrancheVault, MultiTrancheVaultConfig, token_deployment  # noqa: E402
from contracts.policy_router import ROUTING_FEE, PolicyRouter, PolicyRouterConfig, shard_deployment  # noqa: E402
from contracts.pricing_oracle import PricingOracle, PricingOracleConfig  # noqa: E402

NOW = 1_760_000_000


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


def measure(operation: str, txs: list[TxRecord], state_init: StateInit | None = None) -> Cost:
    failed = [tx for tx in txs if tx.address not in ACTORS and not tx.success]
    if failed:
        raise RuntimeError(f"{operation}: transaction on {failed[0].address} failed with {failed[0].exit_code}")
    on_contracts = [tx for tx in txs if tx.address not in ACTORS]
    inbound = [txs[0].in_body] + ([state_init.serialize()] if state_init is not None else [])
    return Cost(operation, len(on_contracts), sum(tx.gas_used for tx in on_contracts),
                sum(tx.total_fees for tx in on_contracts), PRICES.fee([c for c in inbound if len(c.bits) or c.refs]))


def deploy(sandbox: Sandbox, operation: str, target: Deployment) -> Cost:
    txs = sandbox.send_internal(sender=DEPLOYER, to=target.address, value=TON // 2, state_init=target.state_init)
    return measure(operation, txs, target.state_init)


def run() -> list[Cost]:
    sandbox = Sandbox(now=NOW)
    for who in ACTORS:
        sandbox.fund(who, 1_000_000 * TON)
    costs: list[Cost] = []

    oracle = PricingOracle.from_config(PricingOracleConfig(admin=ADMIN, keepers=(KEEPER, actor("b2"), actor("b3"))))
    costs.append(deploy(sandbox, "deploy PricingOracle", oracle))
    update = PricingOracle.build_update_price_body(CoverageType.DEPEG, 12_345)
    costs.append(measure("oracle update_price (first for a type)",
                         sandbox.send_internal(sender=KEEPER, to=oracle.address, value=TON // 20, body=update)))
    costs.append(measure("oracle update_price (again)",
                         sandbox.send_internal(sender=KEEPER, to=oracle.address, value=TON // 20, body=update)))

    vault = MultiTrancheVault.from_config(MultiTrancheVaultConfig(admin=ADMIN, claims_processor=CLAIMS, oracle=oracle.address))
    costs.append(deploy(sandbox, "deploy MultiTrancheVault", vault))
    costs.append(deploy(sandbox, "deploy SureToken minter (one of six)", token_deployment(vault.address, TRANCHES[0])))
    deposit = MultiTrancheVault.build_deposit_body(1)
    costs.append(measure("deposit, first of a holder (deploys wallet)",
                         sandbox.send_internal(sender=USER, to=vault.address, value=10 * TON, body=deposit)))
    costs.append(measure("deposit, again",
                         sandbox.send_internal(sender=USER, to=vault.address, value=10 * TON, body=deposit)))
    costs.append(measure("deposit, minter not yet deployed",
                         sandbox.send_internal(sender=USER, to=vault.address, value=10 * TON,
                                               body=MultiTrancheVault.build_deposit_body(6))))

    router = PolicyRouter.from_config(PolicyRouterConfig(ADMIN, TREASURY, CLAIMS, shard_count=16))
    costs.append(deploy(sandbox, "deploy PolicyRouter", router))
    costs.append(deploy(sandbox, "deploy PolicyShard", shard_deployment(router.address, 1, 16)))
    create = PolicyRouter.build_create_policy_body(CoverageType.DEPEG, 100 * TON, 30)
    value = ROUTING_FEE + TON
    costs.append(measure("create policy, shard deployed",
                         sandbox.send_internal(sender=USER, to=router.address, value=value, body=create)))
    costs.append(measure("create policy, shard never deployed",
                         sandbox.send_internal(sender=USER, to=router.address, value=value, body=create)))
    return costs


def main() -> None:
    costs = run()
    header = f"{'operation':<46} {'txs':>3} {'gas':>7} {'fees (TON)':>11} {'inbound fwd (TON)':>18}"
    print(header)
    print("-" * len(header))
    for cost in costs:
        print(f"{cost.operation:<46} {cost.transactions:>3} {cost.gas:>7} {cost.fees / TON:>11.6f} {cost.inbound_forward_fee / TON:>18.6f}")


if __name__ == "__main__":
    main()
