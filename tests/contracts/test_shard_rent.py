"""Issue 20, finding 1: a PolicyShard froze by time alone (every message forwarded its whole value, nothing
credited it, 0.05 TON at deployment: a full shard's debt passed the freeze limit on day 4). Now each sale's
premium includes the policy's rent for its lifetime, the vault sends it with store_policy and the shard keeps
it. On the real TVM with chain time advanced: a full shard for a year, never frozen, claims paid to the end;
the same state without the prepaid rent freezes within days."""
from __future__ import annotations

from contracts.base import TON
from contracts.multi_tranche_vault import Op
from contracts.policy_shard import (
    MAX_POLICIES, MIN_BALANCE, Policy, PolicyShard, PolicyShardConfig, distinct_policies, filled_data,
)
from tests.contracts.conftest import NOW, STRANGER, USER, Chain, Protocol, account, deploy, received

DAY = 86400
YEAR = 365 * DAY


def claim_paid(txs, holder) -> int | None:
    paid = [m.body.begin_parse().skip_bits(32 + 64 + 64).load_coins() for tx in txs for m in tx.out_messages
            if m.dest == holder and m.body.bits and m.body.begin_parse().load_uint(32) == Op.CLAIM_PAID]
    return paid[0] if paid else None


def test_the_rent_in_the_premium_reaches_the_shard(protocol: Protocol) -> None:
    chain, vault = protocol.chain, protocol.vault
    protocol.deposit(USER, 1, 1000 * TON)
    protocol.publish()
    shard = protocol.shard_of(1)
    protocol.buy(STRANGER, 10 * TON, 365)  # deploys shard 1
    rent = protocol.rent(365)
    assert chain.balance(shard.address) == MIN_BALANCE + rent
    for _ in range(16):
        protocol.buy(STRANGER, 10 * TON, 30)  # policies 2..17: one more for shard 1 (policy 17)
    assert chain.balance(shard.address) == MIN_BALANCE + rent + protocol.rent(30)
    assert shard.get_policy_count(protocol.run) == 2
    assert vault.get_policy_rent(protocol.run, 30) == protocol.router.get_policy_rent(protocol.run, 30) < rent


def test_a_full_shard_kept_for_a_year_never_freezes_and_pays_claims_to_the_end(protocol: Protocol) -> None:
    chain, vault, run = protocol.chain, protocol.vault, protocol.run
    protocol.deposit(USER, 1, 100_000 * TON)
    protocol.publish()
    shard = protocol.shard_of(1)
    protocol.buy(STRANGER, 10 * TON, 365)  # policy 1, sold for real: deploys the shard with its rent
    rent = protocol.rent(365)
    # the other 15,999 policies of the shard, as 15,999 sales of a year would have left it: their policies
    # and the rent each brought
    cfg = PolicyShardConfig(1, vault.address, 16)
    policies = {1: shard_policy_cell(protocol, 1)} | distinct_policies(cfg, MAX_POLICIES - 1, STRANGER, NOW,
                                                                       NOW + YEAR, first=1000)
    chain.sandbox.set_data(shard.address, filled_data(cfg, policies))
    chain.sandbox.fund(shard.address, (MAX_POLICIES - 1) * rent)
    assert shard.get_policy_count(run) == MAX_POLICIES
    start_balance = chain.balance(shard.address)

    claimable = iter(sorted(policies)[1:])
    for month in range(1, 13):
        chain.sandbox.now = NOW + month * 30 * DAY
        txs = protocol.claim(next(claimable), TON)
        state = chain.sandbox.account(shard.address)
        assert (state.status, state.due_payment) == ("active", 0), f"month {month}"
        assert claim_paid(txs, STRANGER) == TON, f"month {month}: the claim is paid"
    chain.sandbox.now = NOW + YEAR - 1  # the policies' last second
    txs = protocol.claim(next(claimable), TON)  # the whole coverage
    assert claim_paid(txs, STRANGER) == TON and received(txs, STRANGER) > TON
    state = chain.sandbox.account(shard.address)
    assert (state.status, state.due_payment) == ("active", 0)
    spent = start_balance - state.balance
    assert 0 < spent < (MAX_POLICIES - 1) * rent, "a year of rent, within what the policies prepaid"
    assert state.balance > MIN_BALANCE, "the shard's own minimum is still there"
    assert shard.get_policy_count(run) == MAX_POLICIES - 13, "13 claims paid, each policy once"


def shard_policy_cell(protocol: Protocol, policy_id: int):
    return protocol.shard_of(policy_id).get_policy(protocol.run, policy_id).to_cell()


def test_without_the_prepaid_rent_the_same_shard_freezes_within_days(chain: Chain) -> None:
    """The control: the full shard above with its minimum only (the v2 situation): frozen in days."""
    vault = account("f1")
    chain.sandbox.fund(vault, 1_000 * TON)
    cfg = PolicyShardConfig(1, vault, 16)
    target = PolicyShard.from_config(cfg)
    deploy(chain.sandbox, target, value=MIN_BALANCE)
    chain.sandbox.set_data(target.address, filled_data(cfg, distinct_policies(cfg, MAX_POLICIES, USER, NOW,
                                                                              NOW + YEAR)))
    chain.sandbox.now = NOW + 5 * DAY
    txs = chain.send(vault, target.address, PolicyShard.build_claim_body(1, TON), TON // 10)
    assert chain.sandbox.account(target.address).status == "frozen"
    assert not any(tx.success for tx in txs if tx.address == target.address)


def test_policy_of_the_filled_shard_round_trips() -> None:
    """distinct_policies builds what a sale stores (a Policy cell per id of the shard)."""
    cfg = PolicyShardConfig(3, account("f1"), 16)
    cells = distinct_policies(cfg, 3, USER, NOW, NOW + DAY, first=2)
    assert sorted(cells) == [35, 51, 67]
    assert len({c.hash for c in cells.values()}) == 3
    assert Policy.from_cell(cells[35]).end == NOW + DAY
