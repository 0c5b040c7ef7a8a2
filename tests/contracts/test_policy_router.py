"""PolicyRouter on the real TVM: validated create_policy, id assignment, routing to derived shard addresses
(deploying a shard that was never deployed), admin ops, pause, and the shard-count rule."""
from __future__ import annotations

import pytest
from pytoniq_core import Address

from chain.sandbox import GetMethodError
from contracts.base import TON, CoverageType, ExitCode, deployment, load_artifact
from contracts.policy_router import (
    MAX_COVERAGE, MAX_DURATION_DAYS, MIN_COVERAGE, MIN_PREMIUM, ROUTING_FEE, SHARD_VALUE, PolicyRouter, PolicyRouterConfig,
    init_data, shard_deployment, unchecked_init_data,
)
from contracts.policy_shard import Op as ShardOp, Policy, PolicyShard
from tests.contracts.conftest import (
    ADMIN, CLAIMS_PROCESSOR, NEW_ADMIN, NOW, OTHER_USER, STRANGER, TREASURY, USER, Chain, account, deploy, tx_on,
    txs_on, with_ref,
)

PREMIUM = 2 * TON


def create(chain: Chain, router: PolicyRouter, sender: Address = USER, coverage_type=CoverageType.SMART_CONTRACT,
           amount: int = 100 * TON, days: int = 30, premium: int = PREMIUM):
    return chain.send(sender, router.address, router.build_create_policy_body(coverage_type, amount, days),
                      value=ROUTING_FEE + premium)


def test_deployed_getters(chain: Chain, router: PolicyRouter) -> None:
    assert router.get_admin(chain.run) == ADMIN
    assert router.get_treasury(chain.run) == TREASURY
    assert router.get_claims_processor(chain.run) == CLAIMS_PROCESSOR
    assert not router.is_paused(chain.run)
    assert router.get_shard_count(chain.run) == 16
    assert router.get_next_policy_id(chain.run) == 1
    assert router.get_total_policies(chain.run) == 0
    assert [router.get_shard_for_policy(chain.run, i) for i in (0, 1, 15, 16, 33)] == [0, 1, 15, 0, 1]


def test_every_derived_shard_address_matches_the_offline_one(chain: Chain, router: PolicyRouter) -> None:
    for shard_id in range(16):
        assert router.get_shard_address(chain.run, shard_id) == shard_deployment(router.address, shard_id, 16).address
    with pytest.raises(GetMethodError) as error:
        router.get_shard_address(chain.run, 16)
    assert error.value.exit_code == ExitCode.WRONG_SHARD


def test_256_shard_router_derives_its_shards(chain: Chain) -> None:
    target = PolicyRouter.from_config(PolicyRouterConfig(ADMIN, TREASURY, CLAIMS_PROCESSOR, shard_count=256))
    deploy(chain.sandbox, target)
    router = PolicyRouter(target.address)
    assert router.get_shard_count(chain.run) == 256
    for shard_id in (0, 17, 255):
        assert router.get_shard_address(chain.run, shard_id) == shard_deployment(router.address, shard_id, 256).address
    assert router.get_shard_for_policy(chain.run, 256 + 17) == 17


def test_policy_routed_to_a_never_deployed_shard_deploys_it(chain: Chain, router: PolicyRouter) -> None:
    shard = PolicyShard(shard_deployment(router.address, 1, 16).address)
    assert chain.sandbox.account(shard.address).status == "nonexist"
    treasury_before = chain.sandbox.account(TREASURY).balance
    router_before = chain.sandbox.account(router.address).balance

    txs = create(chain, router)
    assert txs[0].success
    stored = tx_on(txs, shard.address)
    assert stored.success and stored.in_body.begin_parse().load_uint(32) == ShardOp.STORE_POLICY
    assert chain.sandbox.account(shard.address).status == "active"
    assert shard.get_shard_id(chain.run) == 1 and shard.get_router(chain.run) == router.address
    assert shard.get_policy(chain.run, 1) == Policy(
        holder=USER, coverage_type=CoverageType.SMART_CONTRACT, coverage_amount=100 * TON, premium=PREMIUM,
        start=NOW, end=NOW + 30 * 86400)
    assert router.get_next_policy_id(chain.run) == 2
    assert router.get_total_policies(chain.run) == 1
    premium_in = tx_on(txs, TREASURY).in_value
    assert PREMIUM < premium_in < PREMIUM + ROUTING_FEE - SHARD_VALUE, "premium and unused fee go to the treasury"
    assert chain.sandbox.account(TREASURY).balance == treasury_before + premium_in
    assert chain.sandbox.account(router.address).balance == router_before, "nothing piles up in the router"


def test_policies_go_to_id_mod_shard_count_including_predeployed_shards(chain: Chain, router: PolicyRouter) -> None:
    # Shard 1 pre-deployed the way the deployment does it: the same StateInit, from another wallet.
    deploy(chain.sandbox, shard_deployment(router.address, 1, 16))
    for _ in range(17):
        assert create(chain, router, sender=OTHER_USER, premium=MIN_PREMIUM)[0].success
    one = PolicyShard(shard_deployment(router.address, 1, 16).address)
    assert one.get_policy_count(chain.run) == 2
    assert one.get_policy(chain.run, 1).holder == OTHER_USER and one.get_policy(chain.run, 17) is not None
    for shard_id in range(2, 16):
        assert PolicyShard(shard_deployment(router.address, shard_id, 16).address).get_policy_count(chain.run) == 1
    assert PolicyShard(shard_deployment(router.address, 0, 16).address).get_policy(chain.run, 16) is not None
    assert router.get_total_policies(chain.run) == 17
    assert router.get_next_policy_id(chain.run) == 18


@pytest.mark.parametrize("kwargs, exit_code", [
    (dict(coverage_type=5), ExitCode.BAD_COVERAGE_TYPE),
    (dict(amount=MIN_COVERAGE - 1), ExitCode.BAD_AMOUNT),
    (dict(amount=MAX_COVERAGE + 1), ExitCode.BAD_AMOUNT),
    (dict(days=0), ExitCode.BAD_DURATION),
    (dict(days=MAX_DURATION_DAYS + 1), ExitCode.BAD_DURATION),
    (dict(premium=MIN_PREMIUM - 1), ExitCode.INSUFFICIENT_VALUE),
], ids=["coverage_type", "amount_low", "amount_high", "duration_zero", "duration_long", "premium_low"])
def test_invalid_policies_are_refused(chain: Chain, router: PolicyRouter, kwargs, exit_code) -> None:
    args = dict(coverage_type=CoverageType.DEPEG, amount=100 * TON, days=30, premium=PREMIUM) | kwargs
    body = router.build_create_policy_body(args["coverage_type"], args["amount"], args["days"])
    chain.assert_refused(USER, router.address, body, exit_code, value=ROUTING_FEE + args["premium"])
    assert router.get_next_policy_id(chain.run) == 1


def test_policy_holder_on_another_workchain_is_refused(chain: Chain, router: PolicyRouter) -> None:
    masterchain_user = Address("-1:" + "c1" * 32)
    chain.sandbox.fund(masterchain_user, 100 * TON)
    chain.assert_refused(masterchain_user, router.address,
                         router.build_create_policy_body(CoverageType.DEPEG, 10 * TON, 30),
                         ExitCode.WRONG_WORKCHAIN, value=ROUTING_FEE + PREMIUM)


def test_boundary_policies_are_accepted(chain: Chain, router: PolicyRouter) -> None:
    assert create(chain, router, amount=MIN_COVERAGE, days=1, premium=MIN_PREMIUM)[0].success
    assert create(chain, router, amount=MAX_COVERAGE, days=MAX_DURATION_DAYS)[0].success
    assert router.get_total_policies(chain.run) == 2


def test_pause_stops_new_policies_until_unpause(chain: Chain, router: PolicyRouter) -> None:
    chain.assert_accepted(ADMIN, router.address, router.build_pause_body())
    assert router.is_paused(chain.run)
    chain.assert_refused(USER, router.address, router.build_create_policy_body(CoverageType.DEPEG, 10 * TON, 30),
                         ExitCode.PAUSED, value=ROUTING_FEE + PREMIUM)
    chain.assert_accepted(ADMIN, router.address, router.build_unpause_body())
    assert not router.is_paused(chain.run)
    assert create(chain, router)[0].success


def test_admin_sets_treasury_and_claims_processor(chain: Chain, router: PolicyRouter) -> None:
    new_treasury, new_processor = account("e4"), account("e5")
    chain.assert_accepted(ADMIN, router.address, router.build_set_treasury_body(new_treasury))
    chain.assert_accepted(ADMIN, router.address, router.build_set_claims_processor_body(new_processor))
    assert router.get_treasury(chain.run) == new_treasury
    assert router.get_claims_processor(chain.run) == new_processor
    txs = create(chain, router)
    assert tx_on(txs, new_treasury).in_value > PREMIUM
    chain.assert_refused(ADMIN, router.address, router.build_set_treasury_body(Address("-1:" + "e4" * 32)),
                         ExitCode.WRONG_WORKCHAIN)


def test_admin_hands_over_admin(chain: Chain, router: PolicyRouter) -> None:
    chain.assert_accepted(ADMIN, router.address, router.build_change_admin_body(NEW_ADMIN))
    assert router.get_admin(chain.run) == NEW_ADMIN
    chain.assert_refused(ADMIN, router.address, router.build_pause_body(), ExitCode.UNAUTHORIZED)
    chain.assert_accepted(NEW_ADMIN, router.address, router.build_pause_body())


@pytest.mark.parametrize("build", [
    lambda: PolicyRouter.build_set_treasury_body(STRANGER),
    lambda: PolicyRouter.build_set_claims_processor_body(STRANGER),
    PolicyRouter.build_pause_body,
    PolicyRouter.build_unpause_body,
    lambda: PolicyRouter.build_change_admin_body(STRANGER),
], ids=["set_treasury", "set_claims_processor", "pause", "unpause", "change_admin"])
@pytest.mark.parametrize("sender", [STRANGER, TREASURY, CLAIMS_PROCESSOR], ids=["stranger", "treasury", "claims"])
def test_admin_ops_from_others_are_refused(chain: Chain, router: PolicyRouter, build, sender) -> None:
    chain.assert_refused(sender, router.address, build(), ExitCode.UNAUTHORIZED)


@pytest.mark.parametrize("shard_count", [0, 17, 64, 255])
def test_bad_shard_count_is_rejected_offline(shard_count: int) -> None:
    with pytest.raises(ValueError, match="shard count"):
        init_data(PolicyRouterConfig(ADMIN, TREASURY, CLAIMS_PROCESSOR, shard_count))


def test_router_with_bad_shard_count_refuses_its_deployment_and_everything_after(chain: Chain) -> None:
    target = deployment(load_artifact("PolicyRouter").code,
                        unchecked_init_data(PolicyRouterConfig(ADMIN, TREASURY, CLAIMS_PROCESSOR, 17)))
    txs = chain.sandbox.send_internal(sender=ADMIN, to=target.address, value=TON, state_init=target.state_init)
    assert (txs[0].success, txs[0].exit_code) == (False, ExitCode.BAD_SHARD_COUNT)
    router = PolicyRouter(target.address)
    chain.assert_refused(USER, router.address, router.build_create_policy_body(CoverageType.DEPEG, 10 * TON, 30),
                         ExitCode.BAD_SHARD_COUNT, value=ROUTING_FEE + PREMIUM)


def test_policy_refused_by_its_shard_bounces_and_is_not_counted(chain: Chain) -> None:
    # A router holding a shard code that refuses every message (the PricingOracle code stands in for it).
    real = init_data(PolicyRouterConfig(ADMIN, TREASURY, CLAIMS_PROCESSOR, 16))
    target = deployment(load_artifact("PolicyRouter").code, with_ref(real, 1, load_artifact("PricingOracle").code))
    deploy(chain.sandbox, target)
    router = PolicyRouter(target.address)
    txs = create(chain, router)
    shard = router.get_shard_address(chain.run, 1)
    assert not tx_on(txs, shard).success
    bounce = [tx for tx in txs_on(txs, router.address) if tx.in_bounced]
    assert len(bounce) == 1 and bounce[0].success
    assert router.get_total_policies(chain.run) == 0
    assert router.get_next_policy_id(chain.run) == 2, "policy ids are never reused"
