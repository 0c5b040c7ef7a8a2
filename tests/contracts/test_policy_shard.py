"""PolicyShard on the real TVM: only its vault stores and claims, only ids that map to it, once; expired
policies are pruned (by new policies and by anyone naming them), a full shard refuses (the vault then refunds
the buyer), and the shard keeps each policy's rent and its own minimum: no message takes its balance."""
from __future__ import annotations

import pytest

from contracts.base import STORAGE_RESERVE, TON, CoverageType, ExitCode
from contracts.policy_shard import (
    MAX_POLICIES, MIN_BALANCE, POLICY_BITS, POLICY_CELLS, PRUNE_GRACE, PRUNE_PER_MESSAGE, Op, Policy, PolicyShard,
    PolicyShardConfig, filled_data,
)
from tests.contracts.conftest import (
    ADMIN, NOW, STRANGER, USER, Chain, account, deploy,
)

VAULT = account("f1")  # the sandbox lets a test speak as the vault
DAY = 86400
GAS_LIMIT = 1_000_000  # basechain gas limit of a transaction (config param 21)
RENT = 1_000_000  # what the vault would send for a policy's rent (the formula is tested below)
POLICY = Policy(holder=USER, coverage_type=CoverageType.DEPEG, coverage_amount=50 * TON, premium=TON,
                start=NOW, end=NOW + 30 * DAY)


@pytest.fixture
def shard(chain: Chain) -> PolicyShard:
    chain.sandbox.fund(VAULT, 1_000 * TON)
    target = PolicyShard.from_config(PolicyShardConfig(shard_id=5, vault=VAULT, shard_count=16))
    deploy(chain.sandbox, target)
    return PolicyShard(target.address)


def test_deployed_getters(chain: Chain, shard: PolicyShard) -> None:
    assert shard.get_shard_id(chain.run) == 5
    assert shard.get_vault(chain.run) == VAULT
    assert shard.get_shard_count(chain.run) == 16
    assert shard.get_policy_count(chain.run) == 0
    assert shard.get_policy(chain.run, 5) is None


def test_vault_stores_policies_of_this_shard_and_gets_a_confirmation(chain: Chain, shard: PolicyShard) -> None:
    txs = chain.assert_accepted(VAULT, shard.address, shard.build_store_policy_body(5, POLICY, query_id=9))
    [confirm] = txs[0].out_messages
    body = confirm.body.begin_parse()
    assert confirm.dest == VAULT and (body.load_uint(32), body.load_uint(64), body.load_uint(64)) == (Op.POLICY_STORED, 9, 5)
    assert confirm.value > TON * 9 // 10, "the confirmation carries the value on"
    chain.assert_accepted(VAULT, shard.address, shard.build_store_policy_body(21, POLICY))
    assert shard.get_policy_count(chain.run) == 2
    assert shard.get_policy(chain.run, 5) == POLICY == shard.get_policy(chain.run, 21)
    assert shard.get_policy(chain.run, 37) is None


def test_store_policy_refusals(chain: Chain, shard: PolicyShard) -> None:
    chain.assert_refused(STRANGER, shard.address, shard.build_store_policy_body(5, POLICY), ExitCode.UNAUTHORIZED)
    chain.assert_refused(ADMIN, shard.address, shard.build_store_policy_body(5, POLICY), ExitCode.UNAUTHORIZED)
    chain.assert_refused(VAULT, shard.address, shard.build_store_policy_body(6, POLICY), ExitCode.WRONG_SHARD)
    chain.assert_accepted(VAULT, shard.address, shard.build_store_policy_body(5, POLICY))
    chain.assert_refused(VAULT, shard.address, shard.build_store_policy_body(5, POLICY), ExitCode.DUPLICATE_POLICY)
    assert shard.get_policy_count(chain.run) == 1


def test_claim_confirms_once_and_removes_the_policy(chain: Chain, shard: PolicyShard) -> None:
    chain.assert_accepted(VAULT, shard.address, shard.build_store_policy_body(5, POLICY))
    chain.assert_refused(STRANGER, shard.address, shard.build_claim_body(5, TON), ExitCode.UNAUTHORIZED)
    chain.assert_refused(VAULT, shard.address, shard.build_claim_body(5, 51 * TON), ExitCode.BAD_AMOUNT)
    chain.assert_refused(VAULT, shard.address, shard.build_claim_body(21, TON), ExitCode.NO_POLICY)
    txs = chain.assert_accepted(VAULT, shard.address, shard.build_claim_body(5, 50 * TON, query_id=3))
    body = txs[0].out_messages[0].body.begin_parse()
    assert (body.load_uint(32), body.load_uint(64), body.load_uint(64)) == (Op.CLAIM_CONFIRMED, 3, 5)
    assert (body.load_coins(), body.load_coins(), body.load_uint(32), body.load_address()) == (
        50 * TON, 50 * TON, POLICY.end, USER)
    assert shard.get_policy(chain.run, 5) is None and shard.get_policy_count(chain.run) == 0
    chain.assert_refused(VAULT, shard.address, shard.build_claim_body(5, TON), ExitCode.NO_POLICY)


def test_expired_policy_cannot_be_claimed(chain: Chain, shard: PolicyShard) -> None:
    chain.assert_accepted(VAULT, shard.address, shard.build_store_policy_body(5, POLICY))
    chain.sandbox.now = POLICY.end
    chain.assert_refused(VAULT, shard.address, shard.build_claim_body(5, TON), ExitCode.NO_POLICY)


def test_new_policies_prune_expired_ones_oldest_first(chain: Chain, shard: PolicyShard) -> None:
    short = Policy(USER, CoverageType.DEPEG, 10 * TON, TON, NOW, NOW + DAY)
    for policy_id in (5, 21, 37):
        chain.assert_accepted(VAULT, shard.address, shard.build_store_policy_body(policy_id, short))
    chain.sandbox.now = NOW + DAY
    chain.assert_accepted(VAULT, shard.address, shard.build_store_policy_body(53, POLICY))
    assert [shard.get_policy(chain.run, i) is None for i in (5, 21, 37, 53)] == [True, True, False, False]
    assert shard.get_policy_count(chain.run) == 2


def test_full_shard_refuses_until_policies_expire(chain: Chain, shard: PolicyShard) -> None:
    one_day = Policy(USER, CoverageType.DEPEG, 10 * TON, TON, NOW, NOW + DAY).to_cell()
    full = filled_data(PolicyShardConfig(5, VAULT, 16), {5 + 16 * i: one_day for i in range(MAX_POLICIES)})
    chain.sandbox.set_data(shard.address, full)
    assert shard.get_policy_count(chain.run) == MAX_POLICIES
    next_id = 5 + 16 * MAX_POLICIES
    chain.assert_refused(VAULT, shard.address, shard.build_store_policy_body(next_id, POLICY), ExitCode.SHARD_FULL)

    chain.sandbox.now = NOW + DAY
    txs = chain.assert_accepted(VAULT, shard.address, shard.build_store_policy_body(next_id, POLICY))
    assert shard.get_policy_count(chain.run) == MAX_POLICIES - 1, "two expired out, one in"
    assert txs[0].gas_used < 50_000, "the shard's gas budget (common.fc gas::shard) covers a full shard"


def test_recover_sends_the_surplus_above_the_rent_owed_to_the_vault(chain: Chain, shard: PolicyShard) -> None:
    chain.assert_accepted(VAULT, shard.address, shard.build_store_policy_body(5, POLICY, rent=RENT))
    chain.send(STRANGER, shard.address, None, 5 * TON)  # TON parked on the shard
    chain.assert_refused(STRANGER, shard.address, PolicyShard.build_recover_body(), ExitCode.UNAUTHORIZED)
    owed = shard.get_rent_owed(chain.run)
    assert owed == MIN_BALANCE + year_rent(chain)
    txs = chain.assert_accepted(VAULT, shard.address, PolicyShard.build_recover_body(), value=TON // 10)
    [out] = txs[0].out_messages
    assert out.dest == VAULT and out.value > 4 * TON
    assert owed + STORAGE_RESERVE - TON // 100 < chain.balance(shard.address) <= owed + STORAGE_RESERVE


# ---- rent (issue 20, finding 1): a shard keeps what its storage costs, its debt never grows ---------------

def year_rent(chain: Chain) -> int:
    """The rent of a 365-day policy, by the vault's formula (a policy's footprint for its lifetime + grace)."""
    seconds = 365 * DAY + PRUNE_GRACE
    return -(-(POLICY_CELLS * 500 + POLICY_BITS * 1) * seconds // 2**16)  # config param 18: 500 / cell, 1 / bit


def test_store_policy_keeps_the_rent_and_hands_on_the_rest(chain: Chain, shard: PolicyShard) -> None:
    before = chain.balance(shard.address)
    txs = chain.assert_accepted(VAULT, shard.address, shard.build_store_policy_body(5, POLICY, rent=RENT), TON)
    assert chain.balance(shard.address) == before + RENT, "exactly the rent stays (this message paid its gas)"
    [confirm] = txs[0].out_messages
    assert TON - RENT - TON // 50 < confirm.value < TON - RENT


def test_a_shard_the_sale_deploys_keeps_its_minimum(chain: Chain) -> None:
    """A shard deployed by the vault's store_policy (StateInit attached) starts with nothing: it keeps
    MIN_BALANCE (for its own state) plus the policy's rent, from the flow's value (the policy fee covers it)."""
    target = PolicyShard.from_config(PolicyShardConfig(shard_id=6, vault=VAULT, shard_count=16))
    body = PolicyShard.build_store_policy_body(6, POLICY, rent=RENT)
    txs = chain.sandbox.send_internal(sender=VAULT, to=target.address, value=TON, body=body,
                                      state_init=target.state_init)
    assert txs[0].success
    assert chain.balance(target.address) == MIN_BALANCE + RENT
    # less than the minimum and the gas: refused, nothing deployed with the policy
    other = PolicyShard.from_config(PolicyShardConfig(shard_id=7, vault=VAULT, shard_count=16))
    txs = chain.sandbox.send_internal(sender=VAULT, to=other.address, value=MIN_BALANCE,
                                      body=PolicyShard.build_store_policy_body(7, POLICY, rent=RENT),
                                      state_init=other.state_init)
    assert (txs[0].success, txs[0].exit_code) == (False, ExitCode.INSUFFICIENT_VALUE)


def test_store_policy_with_less_than_the_rent_is_refused(chain: Chain, shard: PolicyShard) -> None:
    chain.assert_refused(VAULT, shard.address, shard.build_store_policy_body(5, POLICY, rent=TON), ExitCode.INSUFFICIENT_VALUE)
    assert shard.get_policy_count(chain.run) == 0


def test_claims_and_prunes_never_take_the_shards_balance(chain: Chain, shard: PolicyShard) -> None:
    for policy_id in (5, 21):
        chain.assert_accepted(VAULT, shard.address, shard.build_store_policy_body(policy_id, POLICY, rent=RENT))
    before = chain.balance(shard.address)
    chain.assert_accepted(VAULT, shard.address, shard.build_claim_body(5, TON), value=TON // 20)
    assert chain.balance(shard.address) == before
    chain.assert_accepted(STRANGER, shard.address, PolicyShard.build_prune_policies_body([21]), value=TON // 20)
    assert chain.balance(shard.address) == before and shard.get_policy_count(chain.run) == 1


def test_anyone_prunes_named_expired_policies_only(chain: Chain, shard: PolicyShard) -> None:
    """Expired policies cannot be claimed: anyone may remove them (their rent stops). Unexpired, unknown and
    other shards' ids are skipped; the value left after gas goes back to the sender."""
    short = Policy(USER, CoverageType.DEPEG, 10 * TON, TON, NOW, NOW + DAY)
    for policy_id in (5, 21, 37):
        chain.assert_accepted(VAULT, shard.address, shard.build_store_policy_body(policy_id, short, rent=RENT))
    chain.assert_accepted(VAULT, shard.address, shard.build_store_policy_body(53, POLICY, rent=RENT))
    before = (chain.data_hash(shard.address), chain.balance(shard.address))
    txs = chain.assert_accepted(STRANGER, shard.address, PolicyShard.build_prune_policies_body([5, 21, 53]),
                                value=TON // 10)
    assert (chain.data_hash(shard.address), chain.balance(shard.address)) == before, "nothing expired yet"
    [back] = txs[0].out_messages
    assert back.dest == STRANGER and TON // 10 - TON // 100 < back.value < TON // 10

    chain.sandbox.now = NOW + DAY
    balance = chain.balance(shard.address)
    chain.assert_accepted(STRANGER, shard.address, PolicyShard.build_prune_policies_body([5, 37, 53, 6, 999 * 16 + 5]),
                          value=TON // 10)
    assert [shard.get_policy(chain.run, i) is None for i in (5, 21, 37, 53)] == [True, False, True, False]
    assert shard.get_policy_count(chain.run) == 2
    assert balance - TON // 10**4 <= chain.balance(shard.address) <= balance, "a day's rent, nothing else"


def test_a_prune_message_removes_at_most_its_limit(chain: Chain, shard: PolicyShard) -> None:
    short = Policy(USER, CoverageType.DEPEG, 10 * TON, TON, NOW, NOW + DAY).to_cell()
    ids = [5 + 16 * i for i in range(PRUNE_PER_MESSAGE + 10)]
    chain.sandbox.set_data(shard.address, filled_data(PolicyShardConfig(5, VAULT, 16), {i: short for i in ids}))
    chain.sandbox.now = NOW + DAY
    txs = chain.assert_accepted(STRANGER, shard.address, PolicyShard.build_prune_policies_body(ids), value=TON)
    assert shard.get_policy_count(chain.run) == 10
    assert txs[0].gas_used < GAS_LIMIT // 2, "the sender pays; far below a transaction's gas limit"


def test_shard_id_outside_the_shard_count_is_rejected_offline() -> None:
    with pytest.raises(ValueError, match="outside"):
        PolicyShard.from_config(PolicyShardConfig(shard_id=16, vault=VAULT, shard_count=16))
