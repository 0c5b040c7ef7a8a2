"""PricingOracle on the real TVM: no keepers at deployment, keepers changed by the admin's messages, sequenced
and bounded price updates, quotes, resets.

Admin handover and recovery: tests/contracts/test_common_behaviour.py."""
from __future__ import annotations

import pytest
from pytoniq_core import Address, begin_cell

from contracts.base import TON, CoverageType, ExitCode, body
from contracts.pricing_oracle import (
    DEFAULT_MAX_PRICE, DEFAULT_MIN_PRICE, MAX_SEQ_STEP, MAX_STALENESS, Op, Price, PricingOracle, PricingOracleConfig,
)
from tests.contracts.conftest import (
    ADMIN, KEEPER_1, KEEPER_2, NEW_ADMIN, NOW, PRICE, STRANGER, USER, Chain, account, deploy,
)

OTHER_KEEPER = account("b4")


def test_deployed_with_no_keepers_and_default_bounds(chain: Chain) -> None:
    target = PricingOracle.from_config(PricingOracleConfig(admin=ADMIN))
    deploy(chain.sandbox, target)
    oracle = PricingOracle(target.address)
    assert oracle.get_admin(chain.run) == ADMIN
    assert oracle.get_keeper_count(chain.run) == 0 and oracle.get_keepers(chain.run) == ()
    assert not oracle.is_keeper(chain.run, KEEPER_1)
    assert oracle.get_max_staleness(chain.run) == MAX_STALENESS == 300
    assert oracle.get_last_update(chain.run) == 0
    assert oracle.get_price(chain.run, CoverageType.DEPEG).updated_at == 0
    assert [oracle.get_price_bounds(chain.run, t) for t in CoverageType] == [(DEFAULT_MIN_PRICE, DEFAULT_MAX_PRICE)] * 5
    assert not oracle.is_fresh(chain.run), "never updated is not fresh"
    chain.assert_refused(KEEPER_1, oracle.address, oracle.build_update_price_body(CoverageType.DEPEG, PRICE, 1),
                         ExitCode.UNAUTHORIZED)


def test_the_address_depends_on_the_admin_and_parameters_only() -> None:
    """Keepers are not in the init data: the guide's 30-day keeper rotation keeps every address."""
    base = PricingOracle.from_config(PricingOracleConfig(admin=ADMIN)).address
    assert PricingOracle.from_config(PricingOracleConfig(admin=NEW_ADMIN)).address != base
    assert PricingOracle.from_config(PricingOracleConfig(admin=ADMIN, max_staleness=600)).address != base
    with pytest.raises(ValueError, match="bounds"):
        PricingOracle.from_config(PricingOracleConfig(admin=ADMIN, min_price=0))


def test_keeper_on_another_workchain_is_rejected_offline() -> None:
    masterchain_keeper = Address("-1:" + "b3" * 32)
    for build in (lambda: PricingOracle.build_add_keeper_body(masterchain_keeper),
                  lambda: PricingOracle.build_replace_keeper_body(KEEPER_1, masterchain_keeper)):
        with pytest.raises(ValueError, match="workchain"):
            build()


def test_keeper_updates_price_and_freshness_follows_staleness(chain: Chain, oracle: PricingOracle) -> None:
    chain.assert_accepted(KEEPER_2, oracle.address, oracle.build_update_price_body(CoverageType.BRIDGE_HACK, 42_000_000, 1))
    price = oracle.get_price(chain.run, CoverageType.BRIDGE_HACK)
    assert (price.price, price.updated_at, price.seq) == (42_000_000, NOW, 1)
    assert oracle.get_price(chain.run, CoverageType.DEPEG).price == 0
    assert oracle.get_last_update(chain.run) == NOW
    chain.sandbox.now = NOW + MAX_STALENESS
    assert oracle.is_fresh(chain.run)
    chain.sandbox.now = NOW + MAX_STALENESS + 1
    assert not oracle.is_fresh(chain.run)

    chain.assert_accepted(KEEPER_1, oracle.address, oracle.build_update_price_body(CoverageType.BRIDGE_HACK, 43_000_000, 2))
    assert oracle.get_price(chain.run, CoverageType.BRIDGE_HACK).price == 43_000_000
    assert oracle.is_fresh(chain.run)


def test_price_update_from_non_keeper_is_refused(chain: Chain, oracle: PricingOracle) -> None:
    body = oracle.build_update_price_body(CoverageType.DEPEG, 1, 1)
    chain.assert_refused(STRANGER, oracle.address, body, ExitCode.UNAUTHORIZED)
    chain.assert_refused(ADMIN, oracle.address, body, ExitCode.UNAUTHORIZED)


def test_unknown_coverage_type_is_refused(chain: Chain, oracle: PricingOracle) -> None:
    chain.assert_refused(KEEPER_1, oracle.address, oracle.build_update_price_body(5, 1, 1), ExitCode.BAD_COVERAGE_TYPE)


def test_admin_adds_and_removes_keepers(chain: Chain, oracle: PricingOracle) -> None:
    assert set(oracle.get_keepers(chain.run)) == {KEEPER_1, KEEPER_2}
    chain.assert_accepted(ADMIN, oracle.address, oracle.build_add_keeper_body(USER))
    assert oracle.is_keeper(chain.run, USER) and oracle.get_keeper_count(chain.run) == 3
    assert set(oracle.get_keepers(chain.run)) == {KEEPER_1, KEEPER_2, USER}
    chain.assert_accepted(USER, oracle.address, oracle.build_update_price_body(CoverageType.DEPEG, PRICE, 1))

    chain.assert_accepted(ADMIN, oracle.address, oracle.build_add_keeper_body(USER))
    assert oracle.get_keeper_count(chain.run) == 3, "adding a keeper twice does not count it twice"

    chain.assert_accepted(ADMIN, oracle.address, oracle.build_remove_keeper_body(KEEPER_1))
    assert not oracle.is_keeper(chain.run, KEEPER_1) and oracle.get_keeper_count(chain.run) == 2
    chain.assert_refused(KEEPER_1, oracle.address, oracle.build_update_price_body(CoverageType.DEPEG, PRICE, 2),
                         ExitCode.UNAUTHORIZED)
    chain.assert_accepted(ADMIN, oracle.address, oracle.build_remove_keeper_body(KEEPER_1))
    assert oracle.get_keeper_count(chain.run) == 2, "removing an absent keeper changes nothing"


@pytest.mark.parametrize("build", [
    lambda: PricingOracle.build_add_keeper_body(STRANGER),
    lambda: PricingOracle.build_remove_keeper_body(KEEPER_1),
    lambda: PricingOracle.build_replace_keeper_body(KEEPER_1, STRANGER),
    lambda: PricingOracle.build_set_price_bounds_body(CoverageType.DEPEG, 1, 2**64 - 1),
    lambda: PricingOracle.build_reset_price_body(CoverageType.DEPEG),
    lambda: PricingOracle.build_set_max_staleness_body(3600),
], ids=["add_keeper", "remove_keeper", "replace_keeper", "set_price_bounds", "reset_price", "set_max_staleness"])
@pytest.mark.parametrize("sender", [STRANGER, KEEPER_1], ids=["stranger", "keeper"])
def test_admin_ops_from_others_are_refused(chain: Chain, oracle: PricingOracle, build, sender) -> None:
    chain.assert_refused(sender, oracle.address, build(), ExitCode.UNAUTHORIZED)


def test_keeper_on_another_workchain_is_refused_on_chain(chain: Chain, oracle: PricingOracle) -> None:
    masterchain = Address("-1:" + "b3" * 32)
    for op in (Op.ADD_KEEPER, Op.REMOVE_KEEPER):
        chain.assert_refused(ADMIN, oracle.address, body(op).store_address(masterchain).end_cell(),
                             ExitCode.WRONG_WORKCHAIN)
    chain.assert_refused(ADMIN, oracle.address, body(Op.REPLACE_KEEPER).store_address(KEEPER_1)
                         .store_address(masterchain).end_cell(), ExitCode.WRONG_WORKCHAIN)


def test_delayed_keeper_update_does_not_overwrite_a_newer_price(chain: Chain, oracle: PricingOracle) -> None:
    chain.assert_accepted(KEEPER_1, oracle.address, oracle.build_update_price_body(CoverageType.DEPEG, 50_000_000, 7))
    # a keeper's update signed before seq 7 arrives late, from the same or another keeper
    for keeper, seq in ((KEEPER_2, 6), (KEEPER_1, 7)):
        chain.assert_refused(keeper, oracle.address, oracle.build_update_price_body(CoverageType.DEPEG, 40_000_000, seq),
                             ExitCode.OLD_UPDATE)
    assert oracle.get_price(chain.run, CoverageType.DEPEG) == Price(50_000_000, NOW, 7)
    # sequences are per coverage type
    chain.assert_accepted(KEEPER_2, oracle.address, oracle.build_update_price_body(CoverageType.BRIDGE_HACK, 9_000_000, 1))


def test_quote_forwards_the_request_stamped_with_the_price(chain: Chain, oracle: PricingOracle) -> None:
    chain.assert_accepted(KEEPER_1, oracle.address, oracle.build_update_price_body(CoverageType.DEPEG, 32_100_000, 1))
    payload = begin_cell().store_uint(0xABCD, 16).end_cell()
    before = chain.balance(oracle.address)
    txs = chain.assert_accepted(STRANGER, oracle.address, oracle.build_quote_body(CoverageType.DEPEG, USER, payload, 5))
    [out] = txs[0].out_messages
    assert out.dest == USER and not out.bounce and out.value > TON * 9 // 10
    s = out.body.begin_parse()
    assert (s.load_uint(32), s.load_uint(64)) == (Op.QUOTE_RESPONSE, 5)
    assert s.load_address() == STRANGER, "the stamp names who asked"
    assert (s.load_uint(8), s.load_uint(64), s.load_uint(32), s.load_uint(32)) == (CoverageType.DEPEG, 32_100_000, NOW, MAX_STALENESS)
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


# ---- no single keeper message can lock a type or sell at an absurd price (issue 20, finding 2) ---------

def unchanged(chain: Chain, oracle: PricingOracle):
    return chain.data_hash(oracle.address), chain.balance(oracle.address)


def test_a_sequence_jump_to_the_maximum_is_refused(chain: Chain, oracle: PricingOracle) -> None:
    """The review's lock: one update with seq 2^64-1 left every later update below it (418) forever. A seq may
    now advance by at most 2^32 per update, so reaching 2^64-1 takes 2^32 updates."""
    chain.assert_accepted(KEEPER_1, oracle.address, oracle.build_update_price_body(CoverageType.DEPEG, PRICE, 5))
    before = unchanged(chain, oracle)
    for seq in (2**64 - 1, 5 + MAX_SEQ_STEP + 1):
        chain.assert_refused(KEEPER_2, oracle.address, oracle.build_update_price_body(CoverageType.DEPEG, PRICE, seq),
                             ExitCode.SEQ_STEP)
    assert unchanged(chain, oracle) == before
    chain.assert_accepted(KEEPER_2, oracle.address,
                          oracle.build_update_price_body(CoverageType.DEPEG, PRICE, 5 + MAX_SEQ_STEP))
    chain.assert_accepted(KEEPER_1, oracle.address,
                          oracle.build_update_price_body(CoverageType.DEPEG, PRICE, 5 + MAX_SEQ_STEP + 1))
    # from a fresh type too: the first seq is at most 2^32
    chain.assert_refused(KEEPER_1, oracle.address, oracle.build_update_price_body(CoverageType.BRIDGE_HACK, PRICE,
                                                                                  MAX_SEQ_STEP + 1), ExitCode.SEQ_STEP)


@pytest.mark.parametrize("price", [0, 1, DEFAULT_MIN_PRICE - 1, DEFAULT_MAX_PRICE + 1, 2**64 - 1])
def test_a_price_outside_the_types_bounds_is_refused(chain: Chain, oracle: PricingOracle, price: int) -> None:
    """The review's 1-ppb price (1,000 TON of cover for a year for 1 nanoton): below the bounds, refused."""
    chain.assert_accepted(KEEPER_1, oracle.address, oracle.build_update_price_body(CoverageType.DEPEG, PRICE, 1))
    before = unchanged(chain, oracle)
    chain.assert_refused(KEEPER_1, oracle.address, oracle.build_update_price_body(CoverageType.DEPEG, price, 2),
                         ExitCode.PRICE_OUT_OF_BOUNDS)
    assert unchanged(chain, oracle) == before
    assert oracle.get_price(chain.run, CoverageType.DEPEG) == Price(PRICE, NOW, 1)


def test_admin_sets_bounds_per_type(chain: Chain, oracle: PricingOracle) -> None:
    chain.assert_accepted(ADMIN, oracle.address, oracle.build_set_price_bounds_body(CoverageType.BRIDGE_HACK,
                                                                                    50_000_000, 80_000_000))
    assert oracle.get_price_bounds(chain.run, CoverageType.BRIDGE_HACK) == (50_000_000, 80_000_000)
    assert oracle.get_price_bounds(chain.run, CoverageType.DEPEG) == (DEFAULT_MIN_PRICE, DEFAULT_MAX_PRICE)
    chain.assert_refused(KEEPER_1, oracle.address, oracle.build_update_price_body(CoverageType.BRIDGE_HACK, PRICE, 1),
                         ExitCode.PRICE_OUT_OF_BOUNDS)
    chain.assert_accepted(KEEPER_1, oracle.address, oracle.build_update_price_body(CoverageType.DEPEG, PRICE, 1))
    chain.assert_accepted(KEEPER_1, oracle.address,
                          oracle.build_update_price_body(CoverageType.BRIDGE_HACK, 80_000_000, 1))
    for low, high, code in ((0, 5, ExitCode.BAD_PARAM), (6, 5, ExitCode.BAD_PARAM)):
        chain.assert_refused(ADMIN, oracle.address, oracle.build_set_price_bounds_body(CoverageType.DEPEG, low, high),
                             code)
    chain.assert_refused(ADMIN, oracle.address, oracle.build_set_price_bounds_body(5, 1, 5), ExitCode.BAD_COVERAGE_TYPE)


def quoted_price(chain: Chain, oracle: PricingOracle, coverage_type: int) -> int:
    txs = chain.assert_accepted(STRANGER, oracle.address,
                                oracle.build_quote_body(coverage_type, USER, begin_cell().end_cell()))
    s = txs[0].out_messages[0].body.begin_parse().skip_bits(32 + 64 + 267 + 8)
    return s.load_uint(64)


def test_a_stored_price_outside_tightened_bounds_is_quoted_as_zero(chain: Chain, oracle: PricingOracle) -> None:
    """A keeper's bad (but in-bounds) price: the admin tightens the bounds, and no quote sells at it (the vault
    refuses a price of 0) until a keeper publishes a price within them."""
    chain.assert_accepted(KEEPER_1, oracle.address, oracle.build_update_price_body(CoverageType.DEPEG, 2_000_000, 1))
    assert quoted_price(chain, oracle, CoverageType.DEPEG) == 2_000_000
    chain.assert_accepted(ADMIN, oracle.address, oracle.build_set_price_bounds_body(CoverageType.DEPEG,
                                                                                    10_000_000, 90_000_000))
    assert quoted_price(chain, oracle, CoverageType.DEPEG) == 0
    chain.assert_accepted(KEEPER_2, oracle.address, oracle.build_update_price_body(CoverageType.DEPEG, PRICE, 2))
    assert quoted_price(chain, oracle, CoverageType.DEPEG) == PRICE


def test_admin_reset_unlocks_a_type(chain: Chain, oracle: PricingOracle) -> None:
    """Even a sequence pushed far ahead (many steps by a compromised keeper) is undone: the admin removes the
    keeper and resets the type; the honest keepers publish again from seq 1."""
    seq = 0
    for _ in range(3):
        seq += MAX_SEQ_STEP
        chain.assert_accepted(KEEPER_2, oracle.address, oracle.build_update_price_body(CoverageType.DEPEG, PRICE, seq))
    chain.assert_refused(KEEPER_1, oracle.address, oracle.build_update_price_body(CoverageType.DEPEG, PRICE, 100),
                         ExitCode.OLD_UPDATE)
    chain.assert_accepted(ADMIN, oracle.address, oracle.build_remove_keeper_body(KEEPER_2))
    chain.assert_refused(KEEPER_1, oracle.address, oracle.build_update_price_body(CoverageType.DEPEG, PRICE, 100),
                         ExitCode.OLD_UPDATE)  # removing the keeper alone does not undo its sequence
    chain.assert_accepted(ADMIN, oracle.address, oracle.build_reset_price_body(CoverageType.DEPEG))
    assert oracle.get_price(chain.run, CoverageType.DEPEG) == Price(0, 0, 0)
    assert quoted_price(chain, oracle, CoverageType.DEPEG) == 0, "no sale at a reset type until a keeper publishes"
    chain.assert_accepted(KEEPER_1, oracle.address, oracle.build_update_price_body(CoverageType.DEPEG, PRICE, 1))
    assert oracle.get_price(chain.run, CoverageType.DEPEG) == Price(PRICE, NOW, 1)
    chain.assert_refused(ADMIN, oracle.address, oracle.build_reset_price_body(5), ExitCode.BAD_COVERAGE_TYPE)


# ---- keeper rotation by message (issue 20: the guide's 30-day rotation keeps every address) ----------

def test_rotation_by_message_keeps_the_address(chain: Chain, oracle: PricingOracle) -> None:
    """A keeper removed by the admin can no longer update prices, one added (or replaced in) can, and the
    oracle's address, code and admin never change."""
    address, code = oracle.address, chain.sandbox.account(oracle.address).code_hash
    chain.assert_accepted(ADMIN, oracle.address, oracle.build_replace_keeper_body(KEEPER_1, USER))
    assert set(oracle.get_keepers(chain.run)) == {KEEPER_2, USER} and oracle.get_keeper_count(chain.run) == 2
    chain.assert_refused(KEEPER_1, oracle.address, oracle.build_update_price_body(CoverageType.DEPEG, PRICE, 1),
                         ExitCode.UNAUTHORIZED)
    chain.assert_accepted(USER, oracle.address, oracle.build_update_price_body(CoverageType.DEPEG, PRICE, 1))
    chain.assert_accepted(ADMIN, oracle.address, oracle.build_remove_keeper_body(KEEPER_2))
    chain.assert_refused(KEEPER_2, oracle.address, oracle.build_update_price_body(CoverageType.DEPEG, PRICE, 2),
                         ExitCode.UNAUTHORIZED)
    chain.assert_accepted(ADMIN, oracle.address, oracle.build_add_keeper_body(OTHER_KEEPER))
    chain.assert_accepted(OTHER_KEEPER, oracle.address, oracle.build_update_price_body(CoverageType.DEPEG, PRICE, 2))
    assert oracle.get_keepers(chain.run) == tuple(sorted((USER, OTHER_KEEPER), key=lambda a: a.hash_part))
    # replacing a non-keeper only adds; replacing a keeper by itself keeps it
    chain.assert_accepted(ADMIN, oracle.address, oracle.build_replace_keeper_body(KEEPER_1, KEEPER_2))
    chain.assert_accepted(ADMIN, oracle.address, oracle.build_replace_keeper_body(USER, USER))
    assert set(oracle.get_keepers(chain.run)) == {USER, OTHER_KEEPER, KEEPER_2} and oracle.get_keeper_count(chain.run) == 3
    assert PricingOracle.from_config(PricingOracleConfig(admin=ADMIN)).address == address == oracle.address
    assert chain.sandbox.account(oracle.address).code_hash == code and oracle.get_admin(chain.run) == ADMIN
