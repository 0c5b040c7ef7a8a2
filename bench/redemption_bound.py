"""How long cover bought up to the utilization cap can delay an LP's redemption, and what it costs, measured on
the real TVM (in-memory chain, mainnet config) with chain time advanced.

    .venv/bin/python bench/redemption_bound.py            # cover of 30, 90 and 365 days
    .venv/bin/python bench/redemption_bound.py --smoke    # 30 days only, for the test suite

For each duration D: an LP holds the vault's whole capital (1,000 TON, EQT); the attacker buys cover up to the
cap (80%) for D days at 2% a year, the LP burns everything (queued), the attacker then tries to buy more
(refused: the queued capital backs no new cover), and the LP withdraws when due. Printed: the LP's wait, the
attacker's cost, and what the LP got back above its deposit (the attacker's premium, as yield).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pytoniq_core import Address  # noqa: E402

from chain.sandbox import Sandbox  # noqa: E402
from contracts.base import TON, CoverageType, premium_due  # noqa: E402
from contracts.multi_tranche_vault import MultiTrancheVault, MultiTrancheVaultConfig  # noqa: E402
from contracts.policy_router import PolicyRouter, PolicyRouterConfig  # noqa: E402
from contracts.pricing_oracle import PricingOracle, PricingOracleConfig  # noqa: E402
from contracts.sure_token import SureTokenWallet  # noqa: E402

NOW = 1_760_000_000
DAY = 86400
PRICE = 20_000_000  # 2% a year
CAPITAL = 1000 * TON
EQT = 6
POLICY_REFUSED, POLICY_BOUGHT, REDEEMED = 0x1E5A02F1, 0x1E5A02F2, 0x1E5A02F4


def actor(tag: str) -> Address:
    return Address("0:" + tag * 32)


ADMIN, KEEPER, LP, ATTACKER = actor("a1"), actor("b1"), actor("c1"), actor("d1")


def ops(txs, to: Address) -> list[int]:
    return [m.body.begin_parse().load_uint(32) for tx in txs for m in tx.out_messages
            if m.dest == to and len(m.body.bits) >= 32]


def run(days: int) -> dict[str, float]:
    sandbox = Sandbox(now=NOW)
    for who in (ADMIN, KEEPER, LP, ATTACKER):
        sandbox.fund(who, 10**7 * TON)
    send = lambda sender, to, body, value: sandbox.send_internal(sender=sender, to=to, value=value, body=body)  # noqa: E731
    oracle = PricingOracle.from_config(PricingOracleConfig(admin=ADMIN))
    sandbox.send_internal(sender=ADMIN, to=oracle.address, value=TON, state_init=oracle.state_init)
    send(ADMIN, oracle.address, PricingOracle.build_add_keeper_body(KEEPER), TON // 10)
    vault_d = MultiTrancheVault.from_config(MultiTrancheVaultConfig(admin=ADMIN, claims_processor=ADMIN,
                                                                    oracle=oracle.address, treasury=ADMIN,
                                                                    shard_count=16))
    sandbox.send_internal(sender=ADMIN, to=vault_d.address, value=TON, state_init=vault_d.state_init)
    router_d = PolicyRouter.from_config(PolicyRouterConfig(ADMIN, vault_d.address, oracle.address, 16))
    sandbox.send_internal(sender=ADMIN, to=router_d.address, value=TON, state_init=router_d.state_init)
    vault, router, get = MultiTrancheVault(vault_d.address), PolicyRouter(router_d.address), sandbox.run_get_method
    fees = vault.get_fees(get)
    seq = iter(range(1, 10**6))

    def buy(coverage: int, duration: int) -> tuple[list, int]:
        send(KEEPER, oracle.address, PricingOracle.build_update_price_body(CoverageType.DEPEG, PRICE, next(seq)),
             TON // 10)
        premium = premium_due(coverage, PRICE, duration, vault.get_policy_rent(get, duration))
        body = PolicyRouter.build_create_policy_body(CoverageType.DEPEG, coverage, duration, premium)
        return send(ATTACKER, router.address, body, premium + fees.policy), premium

    send(LP, vault.address, MultiTrancheVault.build_deposit_body(EQT), CAPITAL + fees.deposit)
    txs, premium = buy(CAPITAL * 8000 // 10000, days)
    assert ops(txs, ATTACKER) == [POLICY_BOUGHT], "cover to the cap"
    minter = vault.get_tranche_token_address(get, EQT)
    wallet = SureTokenWallet(SureTokenWallet.address_of(LP, minter, 0))
    requested = sandbox.now
    send(LP, wallet.address, SureTokenWallet.build_burn_body(CAPITAL, LP), fees.redeem)
    queued = wallet.get_queued_redemption(get)
    assert queued.amount == CAPITAL
    extended, _ = buy(TON, 365)
    assert ops(extended, ATTACKER) == [POLICY_REFUSED], "no new cover on queued capital"
    sandbox.now = queued.due
    txs = send(LP, wallet.address, SureTokenWallet.build_withdraw_queued_body(), fees.redeem)
    assert REDEEMED in ops(txs, LP), "the LP is paid when due"
    body = [m.body.begin_parse() for tx in txs for m in tx.out_messages
            if m.dest == LP and m.body.begin_parse().load_uint(32) == REDEEMED][0]
    body.skip_bits(32 + 64 + 8)
    body.load_coins()  # tokens
    payout = body.load_coins()  # TON paid for them
    return {"days": days, "wait_days": (queued.due - requested) / DAY, "attacker_premium": premium,
            "lp_gain": payout - CAPITAL, "per_day": premium / days}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="30-day cover only (for the test suite)")
    args = parser.parse_args()
    print(f"LP capital {CAPITAL / TON:.0f} TON (the whole vault), cover to the 80% cap at 2% a year")
    print(f"{'cover (days)':>12} {'LP wait (days)':>15} {'attacker pays (TON)':>20} {'per day (TON)':>14} "
          f"{'LP gets above its deposit (TON)':>32}")
    for days in ((30,) if args.smoke else (30, 90, 365)):
        r = run(days)
        print(f"{r['days']:>12} {r['wait_days']:>15.2f} {r['attacker_premium'] / TON:>20.4f} {r['per_day'] / TON:>14.5f} "
              f"{r['lp_gain'] / TON:>32.4f}")
    print("bound: a queued redemption is due when the cover in force at the request ends (at most 366 days);")
    print("cover bought after the request cannot extend it (its capital is reserved: further cover refused).")


if __name__ == "__main__":
    main()
