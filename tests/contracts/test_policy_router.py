"""PolicyRouter on the real TVM: validated create_policy sent to the oracle for a quote, shard addresses
derived for the vault, no pause of its own, oracle rotation, and the shard-count rule. The whole sale (oracle, vault,
shard) is in test_protocol.py; admin handover and recovery in test_common_behaviour.py."""
from __future__ import annotations

import pytest
from pytoniq_core import Address

from chain.errors import GetMethodError
from contracts.base import TON, CommonOp, CoverageType, ExitCode, body, deployment, load_artifact
from contracts.policy_router import (
    MAX_COVERAGE, MAX_DURATION_DAYS, MIN_COVERAGE, PolicyRouter, PolicyRouterConfig, init_data, shard_deployment,
    unchecked_init_data,
)
from contracts.pricing_oracle import Op as OracleOp, PricingOracle
from tests.contracts.conftest import ADMIN, ORACLE, STRANGER, USER, Chain, account, deploy, tx_on

PREMIUM = 2 * TON
VAULT = account("f1")


def create_body(coverage_type=CoverageType.SMART_CONTRACT, amount: int = 100 * TON, days: int = 30,
                premium: int = PREMIUM):
    return PolicyRouter.build_create_policy_body(coverage_type, amount, days, premium)


def test_deployed_getters(chain: Chain, router: PolicyRouter, oracle: PricingOracle) -> None:
    assert router.get_admin(chain.run) == ADMIN
    assert router.get_pending_admin(chain.run) is None
    assert router.get_oracle(chain.run) == oracle.address
    assert router.get_shard_count(chain.run) == 16
    assert [router.get_shard_for_policy(chain.run, i) for i in (0, 1, 15, 16, 33)] == [0, 1, 15, 0, 1]
    assert 0 < router.get_policy_fee(chain.run) < TON // 5


def test_every_derived_shard_address_matches_the_offline_one_and_the_vaults(chain: Chain, router: PolicyRouter) -> None:
    vault = router.get_vault(chain.run)
    for shard_id in range(16):
        assert router.get_shard_address(chain.run, shard_id) == shard_deployment(vault, shard_id, 16).address
    with pytest.raises(GetMethodError) as error:
        router.get_shard_address(chain.run, 16)
    assert error.value.exit_code == ExitCode.WRONG_SHARD


def test_256_shard_router_derives_its_shards(chain: Chain) -> None:
    target = PolicyRouter.from_config(PolicyRouterConfig(ADMIN, VAULT, ORACLE, shard_count=256))
    deploy(chain.sandbox, target)
    router = PolicyRouter(target.address)
    assert router.get_shard_count(chain.run) == 256
    for shard_id in (0, 17, 255):
        assert router.get_shard_address(chain.run, shard_id) == shard_deployment(VAULT, shard_id, 256).address
    assert router.get_shard_for_policy(chain.run, 256 + 17) == 17


def test_create_policy_asks_the_oracle_to_quote_for_the_vault(chain: Chain, router: PolicyRouter,
                                                             oracle: PricingOracle) -> None:
    fee = router.get_policy_fee(chain.run)
    before = chain.balance(router.address)
    txs = chain.assert_accepted(USER, router.address, create_body(), value=PREMIUM + fee)
    [quote] = txs[0].out_messages
    s = quote.body.begin_parse()
    assert quote.dest == oracle.address and not quote.bounce
    assert (s.load_uint(32), s.load_uint(64), s.load_uint(8), s.load_address()) == (
        OracleOp.QUOTE, 0, CoverageType.SMART_CONTRACT, router.get_vault(chain.run))
    request = s.load_ref().begin_parse()
    assert (request.load_address(), request.load_uint(8), request.load_coins(), request.load_uint(16),
            request.load_coins()) == (USER, CoverageType.SMART_CONTRACT, 100 * TON, 30, PREMIUM)
    assert chain.balance(router.address) == before, "the router keeps nothing"
    assert tx_on(txs, oracle.address).success


@pytest.mark.parametrize("kwargs, exit_code", [
    ({"coverage_type": 5}, ExitCode.BAD_COVERAGE_TYPE),
    ({"amount": MIN_COVERAGE - 1}, ExitCode.BAD_AMOUNT),
    ({"amount": MAX_COVERAGE + 1}, ExitCode.BAD_AMOUNT),
    ({"days": 0}, ExitCode.BAD_DURATION),
    ({"days": MAX_DURATION_DAYS + 1}, ExitCode.BAD_DURATION),
    ({"premium": 0}, ExitCode.INSUFFICIENT_VALUE),
    ({"premium": 50 * TON}, ExitCode.INSUFFICIENT_VALUE),  # more premium named than attached
])
def test_invalid_policies_are_refused(chain: Chain, router: PolicyRouter, kwargs, exit_code) -> None:
    chain.assert_refused(USER, router.address, create_body(**kwargs), exit_code, value=3 * TON)


def test_value_below_premium_plus_fee_is_refused(chain: Chain, router: PolicyRouter) -> None:
    fee = router.get_policy_fee(chain.run)
    chain.assert_refused(USER, router.address, create_body(), ExitCode.INSUFFICIENT_VALUE, value=PREMIUM + fee - 1)


def test_policy_holder_on_another_workchain_is_refused(chain: Chain, router: PolicyRouter) -> None:
    masterchain_user = Address("-1:" + "c1" * 32)
    chain.sandbox.fund(masterchain_user, 10 * TON)
    chain.assert_refused(masterchain_user, router.address, create_body(), ExitCode.WRONG_WORKCHAIN, value=3 * TON)


def test_the_router_has_no_pause_of_its_own(chain: Chain, router: PolicyRouter) -> None:
    """One pause, the vault's, stops every sale (test_protocol.py): a router pause would leave the oracle's
    direct quotes selling, so the router has none."""
    for op in (CommonOp.PAUSE, CommonOp.UNPAUSE):
        chain.assert_refused(ADMIN, router.address, body(op).end_cell(), ExitCode.UNKNOWN_OP)


def test_admin_rotates_the_oracle(chain: Chain, router: PolicyRouter) -> None:
    chain.assert_accepted(ADMIN, router.address, router.build_set_oracle_body(STRANGER))
    assert router.get_oracle(chain.run) == STRANGER
    txs = chain.assert_accepted(USER, router.address, create_body(), value=3 * TON)
    assert txs[0].out_messages[0].dest == STRANGER
    chain.assert_refused(ADMIN, router.address, router.build_set_oracle_body(None), ExitCode.WRONG_WORKCHAIN)


@pytest.mark.parametrize("build", [
    lambda: PolicyRouter.build_set_oracle_body(STRANGER),
    PolicyRouter.build_recover_body,
], ids=["set_oracle", "recover"])
@pytest.mark.parametrize("sender", [STRANGER, USER], ids=["stranger", "user"])
def test_admin_ops_from_others_are_refused(chain: Chain, router: PolicyRouter, build, sender) -> None:
    chain.assert_refused(sender, router.address, build(), ExitCode.UNAUTHORIZED)


@pytest.mark.parametrize("shard_count", [0, 17, 64, 255])
def test_bad_shard_count_is_rejected_offline(shard_count: int) -> None:
    with pytest.raises(ValueError, match="shard count"):
        init_data(PolicyRouterConfig(ADMIN, VAULT, ORACLE, shard_count))


def test_router_with_bad_shard_count_refuses_its_deployment_and_everything_after(chain: Chain) -> None:
    target = deployment(load_artifact("PolicyRouter").code,
                        unchecked_init_data(PolicyRouterConfig(ADMIN, VAULT, ORACLE, 17)))
    txs = chain.sandbox.send_internal(sender=ADMIN, to=target.address, value=TON, state_init=target.state_init)
    assert (txs[0].success, txs[0].exit_code) == (False, ExitCode.BAD_SHARD_COUNT)
    chain.assert_refused(USER, target.address, create_body(), ExitCode.BAD_SHARD_COUNT, value=3 * TON)
