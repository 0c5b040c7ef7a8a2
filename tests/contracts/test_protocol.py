"""The money lifecycle end to end on the real TVM (oracle, vault, router, SURE tokens, shards): deposits,
priced and backed policy sales, claims with the loss waterfall, redemptions; and each attack of the audit
failing with storage and balances unchanged."""
from __future__ import annotations

import pytest

from contracts.base import GAS_BUDGETS, TON, CoverageType, ExitCode, premium_due
from contracts.multi_tranche_vault import Book, MultiTrancheVault, Op
from contracts.policy_shard import MAX_POLICIES, Policy, PolicyShardConfig, filled_data
from contracts.pricing_oracle import MAX_STALENESS, PricingOracle
from contracts.sure_token import Op as TokenOp, QueuedRedemption
from tests.contracts.conftest import (
    ADMIN, CLAIMS_PROCESSOR, IDS, NOW, OTHER_USER, PRICE, STRANGER, TREASURY, USER, Chain, Protocol, all_succeeded,
    book_loss, book_yield, received, tx_on,
)

DAY = 86400
def refusal_reason(txs, holder) -> int:
    [refusal] = [m for tx in txs for m in tx.out_messages if m.dest == holder]
    body = refusal.body.begin_parse()
    assert body.load_uint(32) == Op.POLICY_REFUSED
    body.skip_bits(64)
    return body.load_uint(16)


def snapshot(protocol: Protocol) -> dict[str, object]:
    chain = protocol.chain
    return {name: (chain.data_hash(c.address), chain.balance(c.address))
            for name, c in (("oracle", protocol.oracle), ("vault", protocol.vault), ("router", protocol.router))}


# ---- the lifecycle -------------------------------------------------------------------------------

def test_deposit_premium_claim_waterfall_redemption(protocol: Protocol) -> None:
    chain, vault, run = protocol.chain, protocol.vault, protocol.run
    for who, tranche, amount in ((USER, 1, 100 * TON), (USER, 3, 50 * TON), (OTHER_USER, 6, 20 * TON),
                                 (OTHER_USER, 5, 30 * TON)):
        protocol.deposit(who, tranche, amount)
    capitals = {i: 0 for i in IDS} | {1: 100 * TON, 3: 50 * TON, 6: 20 * TON, 5: 30 * TON}
    assert protocol.capitals() == capitals

    # a policy priced from the oracle: premium = coverage x 2% a year
    protocol.publish(PRICE)
    rent = protocol.rent(365)
    premium = premium_due(100 * TON, PRICE, 365, rent)
    assert premium == 2 * TON + rent and 0 < rent < TON // 500, "2% a year, and a year of the shard's rent"
    vault_before = chain.balance(vault.address)
    txs = protocol.buy(STRANGER, 100 * TON, 365)
    assert all(tx.success for tx in txs if tx.address != STRANGER)
    capitals = book_yield(capitals, premium - rent)
    assert protocol.capitals() == capitals
    assert chain.balance(vault.address) == vault_before + premium - rent, "the vault keeps the premium, exactly"
    assert vault.get_total_coverage_sold(run) == 100 * TON
    assert vault.get_book(run) == Book(2, 5, 0, 0)
    shard = protocol.shard_of(1)
    assert shard.get_policy(run, 1) == Policy(STRANGER, CoverageType.DEPEG, 100 * TON, premium, NOW, NOW + 365 * DAY)
    bought = [m for tx in txs for m in tx.out_messages if m.dest == STRANGER]
    assert len(bought) == 1 and bought[0].body.begin_parse().load_uint(32) == Op.POLICY_BOUGHT

    # a claim of 60 TON: EQT (20), JNR+ (30) lose everything, MEZZ the rest; BTC untouched
    txs = protocol.claim(1, 60 * TON)
    capitals, paid = book_loss(capitals, 60 * TON)
    assert paid == 60 * TON
    assert protocol.capitals() == capitals
    assert capitals[6] == capitals[5] == 0 and capitals[1] > 100 * TON and 0 < capitals[3] < 50 * TON
    assert 60 * TON < received(txs, STRANGER) < 60 * TON + protocol.fees.claim
    assert vault.get_total_coverage_sold(run) == 0, "a paid policy no longer needs backing"
    assert vault.get_book(run).paid_claims == 60 * TON
    assert shard.get_policy(run, 1) is None
    assert chain.balance(vault.address) >= vault.get_total_capital(run)

    # redemptions after each lock, at the tranche's share price
    chain.sandbox.now = NOW + 30 * DAY
    mezz = protocol.tokens(3, USER)
    txs = protocol.redeem(USER, 3, mezz)
    assert 0 < capitals[3] <= received(txs, USER) < capitals[3] + protocol.fees.redeem
    assert vault.get_tranche(run, 3).capital == 0 and vault.get_tranche(run, 3).shares == 0
    assert protocol.minter(3).get_jetton_data(run).total_supply == 0

    chain.sandbox.now = NOW + 90 * DAY
    half = protocol.tokens(1, USER) // 2
    txs = protocol.redeem(USER, 1, half)
    expected = half * capitals[1] // (100 * TON)
    assert expected <= received(txs, USER) < expected + protocol.fees.redeem
    assert vault.get_tranche(run, 1).capital == capitals[1] - expected
    assert chain.balance(vault.address) >= vault.get_total_capital(run)


def test_treasury_share_of_the_premium(protocol: Protocol) -> None:
    chain = protocol.chain
    chain.assert_accepted(ADMIN, protocol.vault.address, MultiTrancheVault.build_set_params_body(8000, 1000))
    protocol.deposit(USER, 1, 100 * TON)
    protocol.publish()
    rent = protocol.rent(365)
    premium = premium_due(50 * TON, PRICE, 365, rent)
    txs = protocol.buy(STRANGER, 50 * TON, 365)
    share = (premium - rent) // 10
    assert [m.value for tx in txs for m in tx.out_messages if m.dest == TREASURY] == [share]
    assert protocol.capitals()[1] == 100 * TON + premium - rent - share


def test_expired_coverage_frees_capacity(protocol: Protocol) -> None:
    protocol.deposit(USER, 4, 100 * TON)
    protocol.publish()
    protocol.buy(STRANGER, 80 * TON, 1)
    capital = protocol.vault.get_total_capital(protocol.run)  # 100 TON and the premium
    assert protocol.vault.get_utilization_bps(protocol.run) == 80 * TON * 10000 // capital == 7999
    assert refusal_reason(protocol.buy(STRANGER, TON, 1), STRANGER) == ExitCode.OVER_CAPACITY
    protocol.chain.sandbox.now = NOW + 2 * DAY
    protocol.publish()
    assert protocol.vault.get_total_coverage_sold(protocol.run) == 0
    protocol.buy(STRANGER, 80 * TON, 1)
    assert protocol.vault.get_total_coverage_sold(protocol.run) == 80 * TON


def test_every_hop_stays_within_the_gas_its_fee_pays_for(protocol: Protocol) -> None:
    """Fees are priced from gas budgets per hop (common.fc); a hop above its budget could run out of value."""
    chain = protocol.chain
    kinds = {protocol.oracle.address: "PricingOracle", protocol.vault.address: "MultiTrancheVault",
             protocol.router.address: "PolicyRouter"}
    for tranche in IDS:
        kinds[protocol.minter(tranche).address] = "SureTokenMinter"
        kinds[protocol.wallet(tranche, USER).address] = "SureTokenWallet"
    for shard_id in range(16):
        kinds[protocol.vault.get_shard_address(protocol.run, shard_id)] = "PolicyShard"
    flows = [protocol.deposit(USER, 6, 100 * TON), protocol.deposit(USER, 1, 100 * TON)]
    protocol.publish()
    flows += [protocol.buy(STRANGER, 50 * TON, 30), protocol.buy(STRANGER, 50 * TON, 30, premium=1),
              protocol.claim(1, 5 * TON), protocol.claim(1, TON), protocol.redeem(USER, 6, TON)]
    chain.sandbox.now = NOW + 90 * DAY
    protocol.publish()
    flows += [protocol.buy(STRANGER, 160 * TON, 365), protocol.buy(STRANGER, 100 * TON, 365),
              protocol.redeem(USER, 1, protocol.tokens(1, USER))]
    wallet = protocol.wallet(1, USER)
    queued = wallet.get_queued_redemption(protocol.run)
    assert queued.amount > 0, "the last burn was queued (the capital backs the year-long policy)"
    chain.sandbox.now = queued.due
    flows.append(chain.send(USER, wallet.address, wallet.build_withdraw_queued_body(), protocol.fees.redeem))
    measured = [(kinds[tx.address], tx.gas_used) for txs in flows for tx in txs if tx.address in kinds]
    assert {kind for kind, _ in measured} == set(GAS_BUDGETS)
    over = [(kind, gas) for kind, gas in measured if gas > GAS_BUDGETS[kind]]
    assert not over


# ---- attacks: refused, nothing changes -----------------------------------------------------------

@pytest.mark.parametrize("case", ["underpriced", "over_capacity", "stale", "never_published", "paused"])
def test_refused_policy_refunds_everything_and_changes_nothing(protocol: Protocol, case: str) -> None:
    chain = protocol.chain
    protocol.deposit(USER, 1, 100 * TON)
    coverage, premium, reason = 10 * TON, None, None
    if case != "never_published":
        protocol.publish()
    if case == "underpriced":
        premium, reason = protocol.premium(coverage, 30) - 1, ExitCode.UNDERPRICED
    elif case == "over_capacity":
        coverage, reason = 80 * TON + 1, ExitCode.OVER_CAPACITY
    elif case == "stale":
        chain.sandbox.now = NOW + MAX_STALENESS + 1
        reason = ExitCode.STALE_PRICE
    elif case == "never_published":
        reason = ExitCode.STALE_PRICE
    else:
        chain.assert_accepted(ADMIN, protocol.vault.address, MultiTrancheVault.build_pause_body())
        reason = ExitCode.PAUSED
    before = snapshot(protocol)
    value = (protocol.premium(coverage, 30) if premium is None else premium) + protocol.fees.policy
    txs = protocol.buy(STRANGER, coverage, 30, premium=premium)
    assert refusal_reason(txs, STRANGER) == reason
    after = snapshot(protocol)
    rent = 10_000 if case == "stale" else 0  # 301 s passed: storage rent, nothing else
    for name, (data_hash, balance) in before.items():
        assert after[name][0] == data_hash, f"{name}: storage unchanged"
        assert balance - rent <= after[name][1] <= balance, f"{name}: balance unchanged"
    assert value - protocol.fees.policy < received(txs, STRANGER) < value
    assert protocol.chain.sandbox.account(protocol.shard_of(1).address).status == "nonexist"


def test_one_pause_stops_every_sale_whatever_path_the_quote_takes(protocol: Protocol) -> None:
    """Issue 20, finding 3: a quote sent straight to the oracle sold a policy while the router was paused. The
    vault's pause is the one pause: every sale ends at the vault, which refuses it (423) and refunds the buyer,
    whether the quote came through the router or straight from the oracle; storages and balances unchanged."""
    from pytoniq_core import begin_cell
    chain, vault = protocol.chain, protocol.vault
    protocol.deposit(USER, 1, 100 * TON)
    protocol.publish()
    chain.assert_accepted(ADMIN, vault.address, MultiTrancheVault.build_pause_body())
    premium = protocol.premium(10 * TON, 30)
    request = (begin_cell().store_address(STRANGER).store_uint(CoverageType.DEPEG, 8).store_coins(10 * TON)
               .store_uint(30, 16).store_coins(premium).end_cell())
    direct = PricingOracle.build_quote_body(CoverageType.DEPEG, vault.address, request)
    value = premium + protocol.fees.policy
    for path in ("router", "oracle"):
        before = snapshot(protocol)
        txs = (protocol.buy(STRANGER, 10 * TON, 30) if path == "router"
               else chain.send(STRANGER, protocol.oracle.address, direct, value))
        assert refusal_reason(txs, STRANGER) == ExitCode.PAUSED, path
        assert snapshot(protocol) == before, f"{path}: storages and balances unchanged"
        assert value - protocol.fees.policy < received(txs, STRANGER) < value
        assert vault.get_book(protocol.run).next_policy_id == 1 and vault.get_total_coverage_sold(protocol.run) == 0
    chain.assert_accepted(ADMIN, vault.address, MultiTrancheVault.build_unpause_body())
    for txs in (protocol.buy(STRANGER, 10 * TON, 30), chain.send(STRANGER, protocol.oracle.address, direct, value)):
        assert [m for tx in txs for m in tx.out_messages if m.dest == STRANGER][0].body.begin_parse().load_uint(32) \
            == Op.POLICY_BOUGHT
    assert vault.get_book(protocol.run).next_policy_id == 3


def test_premium_is_refunded_when_the_shard_does_not_store_the_policy(protocol: Protocol) -> None:
    """The audit's attack: a premium kept for a policy the (full) shard refused."""
    chain, vault = protocol.chain, protocol.vault
    protocol.deposit(USER, 1, 100 * TON)
    protocol.publish()
    shard = protocol.shard_of(1)
    protocol.buy(STRANGER, 10 * TON, 30)  # deploys shard 1 with policy 1
    live = Policy(USER, CoverageType.DEPEG, TON, 1, NOW, NOW + 365 * DAY).to_cell()
    cfg = PolicyShardConfig(1, vault.address, 16)
    chain.sandbox.set_data(shard.address, filled_data(cfg, {1 + 16 * (1000 + i): live for i in range(MAX_POLICIES)}))
    for _ in range(15):
        protocol.buy(STRANGER, TON, 30)  # policies 2..16 go to the other shards
    capital, coverage = vault.get_total_capital(protocol.run), vault.get_total_coverage_sold(protocol.run)
    balance = chain.balance(vault.address)

    premium = protocol.premium(10 * TON, 30)
    value = premium + protocol.fees.policy
    txs = protocol.buy(OTHER_USER, 10 * TON, 30)  # policy 17 -> shard 1, full
    assert tx_on(txs, shard.address).exit_code == ExitCode.SHARD_FULL
    assert refusal_reason(txs, OTHER_USER) == ExitCode.SHARD_FULL
    assert value - protocol.fees.policy + premium < received(txs, OTHER_USER) + premium < value + premium
    assert received(txs, OTHER_USER) > premium, "the premium comes back with the unused fee"
    assert chain.balance(vault.address) == balance
    assert (vault.get_total_capital(protocol.run), vault.get_total_coverage_sold(protocol.run)) == (capital, coverage)
    assert vault.get_book(protocol.run).in_flight == 0 and vault.get_pending_policy(protocol.run, 17) is None


def test_a_quote_forged_through_the_oracle_is_checked_like_any_sale(protocol: Protocol) -> None:
    """Anyone may ask the oracle for a quote with any payload: the vault checks what the payload claims
    against the value it carries and the oracle's own stamp."""
    from pytoniq_core import begin_cell
    chain = protocol.chain
    protocol.deposit(USER, 1, 100 * TON)
    protocol.publish()
    before = snapshot(protocol)
    claims_premium = begin_cell().store_address(STRANGER).store_uint(CoverageType.DEPEG, 8).store_coins(50 * TON) \
        .store_uint(365, 16).store_coins(TON).end_cell()  # says 1 TON of premium, attaches less
    txs = chain.send(STRANGER, protocol.oracle.address,
                     PricingOracle.build_quote_body(CoverageType.DEPEG, protocol.vault.address, claims_premium), TON // 2)
    assert refusal_reason(txs, STRANGER) == ExitCode.INSUFFICIENT_VALUE
    other_type = begin_cell().store_address(STRANGER).store_uint(CoverageType.BRIDGE_HACK, 8).store_coins(50 * TON) \
        .store_uint(365, 16).store_coins(TON).end_cell()  # stamped as DEPEG, asks for BRIDGE_HACK (no price)
    txs = chain.send(STRANGER, protocol.oracle.address,
                     PricingOracle.build_quote_body(CoverageType.DEPEG, protocol.vault.address, other_type), 2 * TON)
    assert refusal_reason(txs, STRANGER) == ExitCode.BAD_COVERAGE_TYPE
    assert snapshot(protocol) == before


def test_claims_are_paid_once_for_stored_unexpired_policies_up_to_coverage(protocol: Protocol) -> None:
    chain, vault = protocol.chain, protocol.vault
    protocol.deposit(USER, 1, 100 * TON)
    protocol.publish()
    protocol.buy(STRANGER, 10 * TON, 30)
    protocol.buy(STRANGER, 10 * TON, 30)

    def unchanged_after(txs_factory, rent: int = 0) -> None:
        data_hash, balance = chain.data_hash(vault.address), chain.balance(vault.address)
        txs = txs_factory()
        assert chain.data_hash(vault.address) == data_hash
        assert balance - rent <= chain.balance(vault.address) <= balance
        assert 0 < received(txs, CLAIMS_PROCESSOR) < protocol.fees.claim, "the claims processor's value comes back"

    unchanged_after(lambda: protocol.claim(1, 10 * TON + 1))  # over its coverage
    unchanged_after(lambda: protocol.claim(99, TON))  # never sold
    chain.assert_refused(STRANGER, vault.address, MultiTrancheVault.build_pay_claim_body(1, TON), ExitCode.UNAUTHORIZED,
                         value=protocol.fees.claim)
    chain.assert_refused(ADMIN, vault.address, MultiTrancheVault.build_pay_claim_body(1, TON), ExitCode.UNAUTHORIZED,
                         value=protocol.fees.claim)
    chain.assert_refused(CLAIMS_PROCESSOR, vault.address, MultiTrancheVault.build_pay_claim_body(1, TON),
                         ExitCode.INSUFFICIENT_VALUE, value=protocol.fees.claim - 1)

    txs = protocol.claim(1, 4 * TON)
    assert 4 * TON < received(txs, STRANGER)
    unchanged_after(lambda: protocol.claim(1, TON))  # paid once
    chain.sandbox.now = NOW + 30 * DAY
    unchanged_after(lambda: protocol.claim(2, TON), rent=TON // 50)  # expired (30 days of storage rent)
    assert vault.get_book(protocol.run).paid_claims == 4 * TON


def test_redemption_waits_for_the_lock_then_is_paid_at_once_or_queued_until_due(protocol: Protocol) -> None:
    chain, vault, run = protocol.chain, protocol.vault, protocol.run
    protocol.deposit(USER, 3, 100 * TON)  # MEZZ: 30-day lock
    tokens = protocol.tokens(3, USER)
    wallet = protocol.wallet(3, USER)
    chain.assert_refused(USER, wallet.address, wallet.build_burn_body(tokens, USER), ExitCode.LOCKED,
                         value=protocol.fees.redeem)

    protocol.publish()
    protocol.buy(STRANGER, 60 * TON, 365)  # 60 TON of coverage needs 75 TON of capital at 80%
    policy_end = NOW + 365 * DAY
    chain.sandbox.now = NOW + 30 * DAY
    protocol.publish()
    capital = vault.get_tranche(run, 3).capital
    part = tokens // 5  # 20% of the capital: what stays still backs the coverage at 80%: paid at once
    txs = protocol.redeem(USER, 3, part)
    paid = part * capital // tokens
    assert paid <= received(txs, USER) < paid + protocol.fees.redeem
    capital -= paid

    # the rest cannot be paid while it backs the coverage sold: queued, due when that coverage has ended
    rest = tokens - part
    due = (policy_end // DAY + 1) * DAY
    assert vault.get_queue_due_time(run) == due
    txs = protocol.redeem(USER, 3, rest)
    assert all_succeeded(txs, (USER,)) and received(txs, USER) < protocol.fees.redeem
    assert protocol.tokens(3, USER) == 0 and wallet.get_queued_redemption(run) == QueuedRedemption(rest, due)
    assert vault.get_queued_shares(run, 3) == rest and vault.get_reserved_capital(run) == capital
    state = vault.get_tranche(run, 3)
    assert (state.capital, state.shares) == (capital, rest), "still in the tranche: it backs the coverage"
    assert protocol.minter(3).get_jetton_data(run).total_supply == rest == state.shares
    # no new policy may use the queued capital
    assert refusal_reason(protocol.buy(STRANGER, TON, 1), STRANGER) == ExitCode.OVER_CAPACITY
    # not before it is due: refused, nothing changes
    chain.assert_refused(USER, wallet.address, wallet.build_withdraw_queued_body(), ExitCode.NOT_DUE,
                         value=protocol.fees.redeem)
    chain.sandbox.now = due - 1
    chain.assert_refused(USER, wallet.address, wallet.build_withdraw_queued_body(), ExitCode.NOT_DUE,
                         value=protocol.fees.redeem)
    chain.assert_refused(STRANGER, wallet.address, wallet.build_withdraw_queued_body(), ExitCode.UNAUTHORIZED,
                         value=protocol.fees.redeem)
    chain.sandbox.now = due
    capital = vault.get_tranche(run, 3).capital
    txs = chain.send(USER, wallet.address, wallet.build_withdraw_queued_body(), protocol.fees.redeem)
    assert capital <= received(txs, USER) < capital + protocol.fees.redeem
    assert wallet.get_queued_redemption(run).amount == 0 and vault.get_queued_shares(run, 3) == 0
    assert vault.get_tranche(run, 3).capital == vault.get_tranche(run, 3).shares == 0
    assert protocol.minter(3).get_jetton_data(run).total_supply == 0
    # nothing queued any more
    chain.assert_refused(USER, wallet.address, wallet.build_withdraw_queued_body(), ExitCode.INSUFFICIENT_BALANCE,
                         value=protocol.fees.redeem)


def test_deposit_whose_wallet_refuses_the_mint_is_refunded(chain: Chain, oracle: PricingOracle) -> None:
    """The wallet bounces the minter's internal_transfer; the minter tells the vault (mint_failed), which
    refunds the deposit: nothing is kept, no tokens exist."""
    from contracts.base import deployment, load_artifact
    from contracts.multi_tranche_vault import init_data
    from tests.contracts.conftest import deploy, vault_config, with_ref
    real = init_data(vault_config(oracle.address))
    codes = with_ref(real.refs[3], 1, load_artifact("PolicyShard").code)  # a "wallet" refusing everything
    target = deployment(load_artifact("MultiTrancheVault").code, with_ref(real, 3, codes))
    deploy(chain.sandbox, target)
    vault = MultiTrancheVault(target.address)
    before = chain.balance(vault.address)
    value = 10 * TON + vault.get_fees(chain.run).deposit
    txs = chain.send(USER, vault.address, vault.build_deposit_body(4), value)
    minter = vault.get_tranche_token_address(chain.run, 4)
    failed = [tx for tx in txs if tx.address == vault.address
              and tx.in_body.begin_parse().load_uint(32) == TokenOp.MINT_FAILED]
    assert len(failed) == 1 and failed[0].success and failed[0].in_sender == minter
    refund = received(txs, USER)
    assert value - TON // 10 < refund < value
    assert vault.get_tranche(chain.run, 4).capital == 0 and vault.get_book(chain.run).in_flight == 0
    assert chain.balance(vault.address) <= before
