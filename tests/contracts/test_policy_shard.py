"""PolicyShard on the real TVM: only its vault stores and claims, only ids that map to it, once; expired
policies are pruned and a full shard refuses (the vault then refunds the buyer)."""
from __future__ import annotations

import pytest

from contracts.base import TON, CoverageType, ExitCode
from contracts.policy_shard import MAX_POLICIES, Op, Policy, PolicyShard, PolicyShardConfig, filled_data
from tests.contracts.conftest import (
    ADMIN, NOW, STRANGER, USER, Chain, account, deploy,
)

VAULT = account("f1")  # the sandbox lets a test speak as the vault
DAY = 86400
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


def test_recover_sends_the_surplus_above_the_reserve_to_the_vault(chain: Chain, shard: PolicyShard) -> None:
    chain.send(STRANGER, shard.address, None, 5 * TON)  # TON parked on the shard
    chain.assert_refused(STRANGER, shard.address, PolicyShard.build_recover_body(), ExitCode.UNAUTHORIZED)
    txs = chain.assert_accepted(VAULT, shard.address, PolicyShard.build_recover_body(), value=TON // 10)
    [out] = txs[0].out_messages
    assert out.dest == VAULT and out.value > 5 * TON
    assert TON // 10 - TON // 100 < chain.balance(shard.address) <= TON // 10


def test_shard_id_outside_the_shard_count_is_rejected_offline() -> None:
    with pytest.raises(ValueError, match="outside"):
        PolicyShard.from_config(PolicyShardConfig(shard_id=16, vault=VAULT, shard_count=16))
