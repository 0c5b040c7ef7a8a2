"""PricingOracle on the real TVM: keepers from the init data, sequenced price updates, quotes, keeper management.

Admin handover and recovery: tests/contracts/test_common_behaviour.py."""
from __future__ import annotations

import pytest
from pytoniq_core import Address, begin_cell

from contracts.base import TON, CoverageType, ExitCode
from contracts.pricing_oracle import MAX_STALENESS, Op, Price, PricingOracle, PricingOracleConfig
from tests.contracts.conftest import ADMIN, KEEPER_1, KEEPER_2, NOW, STRANGER, USER, Chain, deploy


def test_init_data_keepers_are_keepers_from_deployment(chain: Chain, oracle: PricingOracle) -> None:
    assert oracle.get_admin(chain.run) == ADMIN
    assert oracle.get_keeper_count(chain.run) == 2
    assert oracle.is_keeper(chain.run, KEEPER_1) and oracle.is_keeper(chain.run, KEEPER_2)
    assert not oracle.is_keeper(chain.run, ADMIN)
    assert oracle.get_max_staleness(chain.run) == MAX_STALENESS == 300
    assert oracle.get_last_update(chain.run) == 0
    assert oracle.get_price(chain.run, CoverageType.DEPEG).updated_at == 0
    assert not oracle.is_fresh(chain.run), "never updated is not fresh"


def test_duplicate_keepers_in_config_count_once(chain: Chain) -> None:
    target = PricingOracle.from_config(PricingOracleConfig(admin=ADMIN, keepers=(KEEPER_1, KEEPER_1)))
    deploy(chain.sandbox, target)
    assert PricingOracle(target.address).get_keeper_count(chain.run) == 1


def test_keeper_on_another_workchain_is_rejected_offline() -> None:
    masterchain_keeper = Address("-1:" + "b3" * 32)
    with pytest.raises(ValueError, match="workchain"):
        PricingOracle.from_config(PricingOracleConfig(admin=ADMIN, keepers=(masterchain_keeper,)))


def test_keeper_updates_price_and_freshness_follows_staleness(chain: Chain, oracle: PricingOracle) -> None:
    chain.assert_accepted(KEEPER_2, oracle.address, oracle.build_update_price_body(CoverageType.BRIDGE_HACK, 4_200, 1))
    price = oracle.get_price(chain.run, CoverageType.BRIDGE_HACK)
    assert (price.price, price.updated_at, price.seq) == (4_200, NOW, 1)
    assert oracle.get_price(chain.run, CoverageType.DEPEG).price == 0
    assert oracle.get_last_update(chain.run) == NOW
    chain.sandbox.now = NOW + MAX_STALENESS
    assert oracle.is_fresh(chain.run)
    chain.sandbox.now = NOW + MAX_STALENESS + 1
    assert not oracle.is_fresh(chain.run)

    chain.assert_accepted(KEEPER_1, oracle.address, oracle.build_update_price_body(CoverageType.BRIDGE_HACK, 4_300, 2))
    assert oracle.get_price(chain.run, CoverageType.BRIDGE_HACK).price == 4_300
    assert oracle.is_fresh(chain.run)


def test_price_update_from_non_keeper_is_refused(chain: Chain, oracle: PricingOracle) -> None:
    body = oracle.build_update_price_body(CoverageType.DEPEG, 1, 1)
    chain.assert_refused(STRANGER, oracle.address, body, ExitCode.UNAUTHORIZED)
    chain.assert_refused(ADMIN, oracle.address, body, ExitCode.UNAUTHORIZED)


def test_unknown_coverage_type_is_refused(chain: Chain, oracle: PricingOracle) -> None:
    chain.assert_refused(KEEPER_1, oracle.address, oracle.build_update_price_body(5, 1, 1), ExitCode.BAD_COVERAGE_TYPE)


def test_admin_adds_and_removes_keepers(chain: Chain, oracle: PricingOracle) -> None:
    chain.assert_accepted(ADMIN, oracle.address, oracle.build_add_keeper_body(USER))
    assert oracle.is_keeper(chain.run, USER) and oracle.get_keeper_count(chain.run) == 3
    chain.assert_accepted(USER, oracle.address, oracle.build_update_price_body(CoverageType.DEPEG, 7, 1))

    chain.assert_accepted(ADMIN, oracle.address, oracle.build_add_keeper_body(USER))
    assert oracle.get_keeper_count(chain.run) == 3, "adding a keeper twice does not count it twice"

    chain.assert_accepted(ADMIN, oracle.address, oracle.build_remove_keeper_body(KEEPER_1))
    assert not oracle.is_keeper(chain.run, KEEPER_1) and oracle.get_keeper_count(chain.run) == 2
    chain.assert_refused(KEEPER_1, oracle.address, oracle.build_update_price_body(CoverageType.DEPEG, 8, 2),
                         ExitCode.UNAUTHORIZED)
    chain.assert_accepted(ADMIN, oracle.address, oracle.build_remove_keeper_body(KEEPER_1))
    assert oracle.get_keeper_count(chain.run) == 2, "removing an absent keeper changes nothing"


@pytest.mark.parametrize("build", [
    lambda: PricingOracle.build_add_keeper_body(STRANGER),
    lambda: PricingOracle.build_remove_keeper_body(KEEPER_1),
    lambda: PricingOracle.build_set_max_staleness_body(3600),
], ids=["add_keeper", "remove_keeper", "set_max_staleness"])
@pytest.mark.parametrize("sender", [STRANGER, KEEPER_1], ids=["stranger", "keeper"])
def test_admin_ops_from_others_are_refused(chain: Chain, oracle: PricingOracle, build, sender) -> None:
    chain.assert_refused(sender, oracle.address, build(), ExitCode.UNAUTHORIZED)


def test_keeper_on_another_workchain_is_refused_on_chain(chain: Chain, oracle: PricingOracle) -> None:
    body = oracle.build_add_keeper_body(Address("-1:" + "b3" * 32))
    chain.assert_refused(ADMIN, oracle.address, body, ExitCode.WRONG_WORKCHAIN)


def test_delayed_keeper_update_does_not_overwrite_a_newer_price(chain: Chain, oracle: PricingOracle) -> None:
    chain.assert_accepted(KEEPER_1, oracle.address, oracle.build_update_price_body(CoverageType.DEPEG, 500, 7))
    # a keeper's update signed before seq 7 arrives late, from the same or another keeper
    for keeper, seq in ((KEEPER_2, 6), (KEEPER_1, 7)):
        chain.assert_refused(keeper, oracle.address, oracle.build_update_price_body(CoverageType.DEPEG, 400, seq),
                             ExitCode.OLD_UPDATE)
    assert oracle.get_price(chain.run, CoverageType.DEPEG) == Price(500, NOW, 7)
    # sequences are per coverage type
    chain.assert_accepted(KEEPER_2, oracle.address, oracle.build_update_price_body(CoverageType.BRIDGE_HACK, 9, 1))


def test_quote_forwards_the_request_stamped_with_the_price(chain: Chain, oracle: PricingOracle) -> None:
    chain.assert_accepted(KEEPER_1, oracle.address, oracle.build_update_price_body(CoverageType.DEPEG, 321, 1))
    payload = begin_cell().store_uint(0xABCD, 16).end_cell()
    before = chain.balance(oracle.address)
    txs = chain.assert_accepted(STRANGER, oracle.address, oracle.build_quote_body(CoverageType.DEPEG, USER, payload, 5))
    [out] = txs[0].out_messages
    assert out.dest == USER and not out.bounce and out.value > TON * 9 // 10
    s = out.body.begin_parse()
    assert (s.load_uint(32), s.load_uint(64)) == (Op.QUOTE_RESPONSE, 5)
    assert s.load_address() == STRANGER, "the stamp names who asked"
    assert (s.load_uint(8), s.load_uint(64), s.load_uint(32), s.load_uint(32)) == (CoverageType.DEPEG, 321, NOW, MAX_STALENESS)
    assert s.load_ref() == payload
    assert chain.balance(oracle.address) == before, "the oracle keeps nothing of a quote"


@pytest.mark.parametrize("coverage_type, destination, exit_code", [
    (5, USER, ExitCode.BAD_COVERAGE_TYPE),
    (0, None, ExitCode.WRONG_WORKCHAIN),
    (0, Address("-1:" + "c1" * 32), ExitCode.WRONG_WORKCHAIN),
])
def test_bad_quotes_are_refused(chain: Chain, oracle: PricingOracle, coverage_type, destination, exit_code) -> None:
    body = oracle.build_quote_body(coverage_type, destination, begin_cell().end_cell())
    chain.assert_refused(STRANGER, oracle.address, body, exit_code)


def test_admin_sets_max_staleness_within_a_day(chain: Chain, oracle: PricingOracle) -> None:
    chain.assert_accepted(ADMIN, oracle.address, oracle.build_set_max_staleness_body(600))
    assert oracle.get_max_staleness(chain.run) == 600
    for bad in (0, 86401):
        chain.assert_refused(ADMIN, oracle.address, oracle.build_set_max_staleness_body(bad), ExitCode.BAD_PARAM)
