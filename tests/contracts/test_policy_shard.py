"""PolicyShard on the real TVM: only its router may store a policy, only for ids that map to it, once."""
from __future__ import annotations

import pytest

from contracts.base import ExitCode, CoverageType, TON
from contracts.policy_shard import Policy, PolicyShard, PolicyShardConfig
from tests.contracts.conftest import ADMIN, NOW, STRANGER, USER, Chain, account, deploy

ROUTER = account("f1")  # the sandbox lets a test speak as the router
POLICY = Policy(holder=USER, coverage_type=CoverageType.DEPEG, coverage_amount=50 * TON, premium=TON,
                start=NOW, end=NOW + 30 * 86400)


@pytest.fixture
def shard(chain: Chain) -> PolicyShard:
    chain.sandbox.fund(ROUTER, 1_000 * TON)
    target = PolicyShard.from_config(PolicyShardConfig(shard_id=5, router=ROUTER, shard_count=16))
    deploy(chain.sandbox, target)
    return PolicyShard(target.address)


def test_deployed_getters(chain: Chain, shard: PolicyShard) -> None:
    assert shard.get_shard_id(chain.run) == 5
    assert shard.get_router(chain.run) == ROUTER
    assert shard.get_shard_count(chain.run) == 16
    assert shard.get_policy_count(chain.run) == 0
    assert shard.get_policy(chain.run, 5) is None


def test_router_stores_policies_of_this_shard(chain: Chain, shard: PolicyShard) -> None:
    chain.assert_accepted(ROUTER, shard.address, shard.build_store_policy_body(5, POLICY))
    chain.assert_accepted(ROUTER, shard.address, shard.build_store_policy_body(21, POLICY))
    assert shard.get_policy_count(chain.run) == 2
    assert shard.get_policy(chain.run, 5) == POLICY
    assert shard.get_policy(chain.run, 21) == POLICY
    assert shard.get_policy(chain.run, 37) is None


def test_store_policy_refusals(chain: Chain, shard: PolicyShard) -> None:
    chain.assert_refused(STRANGER, shard.address, shard.build_store_policy_body(5, POLICY), ExitCode.UNAUTHORIZED)
    chain.assert_refused(ADMIN, shard.address, shard.build_store_policy_body(5, POLICY), ExitCode.UNAUTHORIZED)
    chain.assert_refused(ROUTER, shard.address, shard.build_store_policy_body(6, POLICY), ExitCode.WRONG_SHARD)
    chain.assert_accepted(ROUTER, shard.address, shard.build_store_policy_body(5, POLICY))
    chain.assert_refused(ROUTER, shard.address, shard.build_store_policy_body(5, POLICY), ExitCode.DUPLICATE_POLICY)
    assert shard.get_policy_count(chain.run) == 1


def test_shard_id_outside_the_shard_count_is_rejected_offline() -> None:
    with pytest.raises(ValueError, match="outside"):
        PolicyShard.from_config(PolicyShardConfig(shard_id=16, router=ROUTER, shard_count=16))
