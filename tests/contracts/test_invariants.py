"""Property test on the real TVM: random sequences of deposits, policy sales, claims, redemptions and time
passing keep the vault solvent and every tranche's arithmetic exact.

After every step: the vault's TON balance covers the sum of the tranche capitals (capital already net of
paid claims) plus the money in flight; the tranche capitals add up to the total; each tranche's capital
moved exactly as the waterfall / yield / share-price model says for what the step did; the vault's share
count of a tranche equals its token supply; its queued shares equal what the holders' wallets hold queued
(queued redemptions are paid when withdrawn once due)."""
from __future__ import annotations

from hypothesis import HealthCheck, event, example, given, settings, strategies as st

from chain.sandbox import Sandbox
from contracts.base import TON, premium_due
from contracts.multi_tranche_vault import Op, MultiTrancheVault
from contracts.policy_router import PolicyRouter, PolicyRouterConfig
from tests.contracts.conftest import (
    ADMIN, CLAIMS_PROCESSOR, IDS, KEEPER_1, NOW, OTHER_USER, PRICE, STRANGER, USER, Chain, Protocol, book_loss, book_yield,
    deploy, deploy_oracle, vault_config,
)

DAY = 86400
HOLDERS = (USER, OTHER_USER)

deposit = st.tuples(st.just("deposit"), st.sampled_from(HOLDERS), st.sampled_from(IDS), st.integers(1, 200))
buy = st.tuples(st.just("buy"), st.integers(1, 40), st.integers(1, 120), st.booleans())
claim = st.tuples(st.just("claim"), st.integers(1, 4), st.integers(1, 60))
redeem = st.tuples(st.just("redeem"), st.sampled_from(HOLDERS), st.sampled_from(IDS), st.integers(1, 100))
withdraw = st.tuples(st.just("withdraw"), st.sampled_from(HOLDERS), st.sampled_from(IDS))
wait = st.tuples(st.just("wait"), st.integers(1, 100))
# every run starts with capital in the first-loss and last-loss tranches, so sales and claims happen
opening = st.tuples(st.tuples(st.just("deposit"), st.just(USER), st.just(6), st.integers(10, 100)),
                    st.tuples(st.just("deposit"), st.just(OTHER_USER), st.just(1), st.integers(10, 300)))
steps = st.builds(lambda first, rest: list(first) + rest, opening,
                  st.lists(st.one_of(deposit, buy, buy, claim, redeem, withdraw, wait), min_size=3, max_size=12))


def fresh_protocol() -> Protocol:
    sandbox = Sandbox(now=NOW)
    for actor in (ADMIN, KEEPER_1, USER, OTHER_USER, STRANGER, CLAIMS_PROCESSOR):
        sandbox.fund(actor, 10_000_000 * TON)
    chain = Chain(sandbox)
    oracle = deploy_oracle(chain, keepers=(KEEPER_1,))
    vault = MultiTrancheVault.from_config(vault_config(oracle.address))
    deploy(sandbox, vault)
    router = PolicyRouter.from_config(PolicyRouterConfig(ADMIN, vault.address, oracle.address, 16))
    deploy(sandbox, router)
    return Protocol(chain, oracle, MultiTrancheVault(vault.address), PolicyRouter(router.address))


def user_messages(txs, op: int) -> list:
    return [m for tx in txs for m in tx.out_messages if m.body.bits and m.body.begin_parse().load_uint(32) == op]


def check_invariants(protocol: Protocol, expected: dict[int, int]) -> None:
    vault, run = protocol.vault, protocol.run
    capitals = protocol.capitals()
    assert capitals == expected
    assert sum(capitals.values()) == vault.get_total_capital(run)
    assert protocol.chain.balance(vault.address) >= vault.get_total_capital(run) + vault.get_book(run).in_flight
    for tranche_id in IDS:
        minter = protocol.minter(tranche_id)
        supply = (minter.get_jetton_data(run).total_supply
                  if protocol.chain.sandbox.account(minter.address).status == "active" else 0)
        assert vault.get_tranche(run, tranche_id).shares == supply
        queued = [protocol.wallet(tranche_id, who) for who in HOLDERS]
        assert vault.get_queued_shares(run, tranche_id) == sum(
            w.get_queued_redemption(run).amount for w in queued
            if protocol.chain.sandbox.account(w.address).status == "active")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
# a redemption the coverage sold blocks: queued, then withdrawn once due (checked on every run)
@example([("deposit", USER, 6, 10), ("deposit", OTHER_USER, 1, 10), ("buy", 15, 30, False),
          ("redeem", USER, 6, 100), ("withdraw", USER, 6), ("wait", 31), ("withdraw", USER, 6)])
def test_vault_stays_solvent_and_exact(ops) -> None:
    protocol = fresh_protocol()
    chain, vault, run = protocol.chain, protocol.vault, protocol.run
    expected = {i: 0 for i in IDS}
    paid_total = 0
    for op in ops:
        if op[0] == "deposit":
            _, who, tranche_id, tons = op
            state = vault.get_tranche(run, tranche_id)
            txs = protocol.deposit(who, tranche_id, tons * TON)
            if txs[0].success:
                expected[tranche_id] += tons * TON
            else:
                assert state.capital == 0 and state.shares > 0, "only a wiped-out tranche refuses deposits"
        elif op[0] == "buy":
            _, tons, days, underpay = op
            protocol.publish()
            rent = protocol.rent(days)
            premium = premium_due(tons * TON, PRICE, days, rent) - (1 if underpay else 0)
            txs = protocol.buy(STRANGER, tons * TON, days, premium=premium)
            if user_messages(txs, Op.POLICY_BOUGHT):
                assert not underpay
                expected = book_yield(expected, premium - rent)  # the rent went to the shard
            else:
                assert user_messages(txs, Op.POLICY_REFUSED)
            event(f"policy {'sold' if user_messages(txs, Op.POLICY_BOUGHT) else 'refused'}")
        elif op[0] == "claim":
            _, policy_id, tons = op
            txs = protocol.claim(policy_id, tons * TON)
            [paid] = [m.body.begin_parse().skip_bits(32 + 64 + 64).load_coins()
                      for m in user_messages(txs, Op.CLAIM_PAID)] or [None]
            if paid is not None:
                expected, model_paid = book_loss(expected, tons * TON)
                assert paid == model_paid
                paid_total += paid
            event(f"claim {'paid' if paid is not None else 'refused'}")
        elif op[0] == "redeem":
            _, who, tranche_id, percent = op
            tokens = protocol.tokens(tranche_id, who) * percent // 100
            if tokens == 0:
                continue
            state = vault.get_tranche(run, tranche_id)
            txs = protocol.redeem(who, tranche_id, tokens)
            done = user_messages(txs, Op.REDEEMED)
            if done:
                pay = tokens * state.capital // state.shares
                assert done[0].body.begin_parse().skip_bits(32 + 64 + 8 + 0).load_coins() == tokens
                expected[tranche_id] -= pay
            queued = protocol.wallet(tranche_id, who).get_queued_redemption(run).amount if not done else 0
            event(f"redeem {'paid' if done else 'queued' if queued else 'refused'}")
        elif op[0] == "withdraw":  # a queued redemption, once due, is paid whatever was sold since
            _, who, tranche_id = op
            wallet = protocol.wallet(tranche_id, who)
            if chain.sandbox.account(wallet.address).status != "active":
                continue
            queued = wallet.get_queued_redemption(run)
            if queued.amount == 0 or queued.due > chain.sandbox.now:
                continue
            state = vault.get_tranche(run, tranche_id)
            txs = chain.send(who, wallet.address, wallet.build_withdraw_queued_body(), protocol.fees.redeem)
            [done] = user_messages(txs, Op.REDEEMED)
            expected[tranche_id] -= queued.amount * state.capital // state.shares
            assert wallet.get_queued_redemption(run).amount == 0
            event("queued redemption paid")
        else:
            chain.sandbox.now += op[1] * DAY
        check_invariants(protocol, expected)
    assert vault.get_book(run).paid_claims == paid_total
