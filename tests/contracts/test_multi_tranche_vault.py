"""MultiTrancheVault on the real TVM: tranches and parameters from the init data, derived token and shard
addresses, deposits confirmed by the depositor's wallet (refunded when the mint fails), pause, parameters,
rotations. Sales, claims and redemptions end to end: test_protocol.py."""
from __future__ import annotations

import pytest
from pytoniq_core import Address

from chain.errors import GetMethodError
from contracts.base import STORAGE_RESERVE, TON, Deployment, ExitCode, body, deployment, load_artifact
from contracts.multi_tranche_vault import (
    TRANCHES, UTILIZATION_CAP_BPS, Book, MultiTrancheVault, Op, init_data, token_deployment,
)
from contracts.policy_router import shard_deployment
from contracts.policy_shard import MIN_BALANCE, PolicyShard
from contracts.pricing_oracle import PricingOracle
from contracts.sure_token import Op as TokenOp
from tests.contracts.conftest import (
    ADMIN, CLAIMS_PROCESSOR, NOW, OTHER_USER, STRANGER, TREASURY, USER, Chain, Protocol, deploy, received, tx_on,
    txs_on, vault_config, with_ref,
)

TRANCHE = {t.id: t for t in TRANCHES}


def test_deployed_state(chain: Chain, vault: MultiTrancheVault, oracle: PricingOracle) -> None:
    assert vault.get_admin(chain.run) == ADMIN
    assert vault.get_pending_admin(chain.run) is None
    assert vault.get_claims_processor(chain.run) == CLAIMS_PROCESSOR
    assert vault.get_oracle(chain.run) == oracle.address
    assert vault.get_treasury(chain.run) == TREASURY
    assert vault.get_params(chain.run) == (UTILIZATION_CAP_BPS, 0, 16)
    assert vault.get_book(chain.run) == Book(1, 1, 0, 0)
    assert not vault.is_paused(chain.run)
    assert vault.get_total_capital(chain.run) == 0
    assert vault.get_total_coverage_sold(chain.run) == 0
    assert vault.get_utilization_bps(chain.run) == 0
    assert vault.get_tranche_count(chain.run) == 6


@pytest.mark.parametrize("tranche", TRANCHES, ids=lambda t: t.symbol)
def test_tranche_parameters_and_derived_token_address(chain: Chain, vault: MultiTrancheVault, tranche) -> None:
    state = vault.get_tranche(chain.run, tranche.id)
    assert (state.allocation_bps, state.apy_min_bps, state.apy_max_bps, state.curve, state.lock_period) == (
        tranche.allocation_bps, tranche.apy_min_bps, tranche.apy_max_bps, tranche.curve, tranche.lock_period)
    assert (state.capital, state.shares) == (0, 0)
    offline = token_deployment(vault.address, tranche).address
    assert state.token == offline
    assert vault.get_tranche_token_address(chain.run, tranche.id) == offline


def test_design_table() -> None:
    assert [(t.symbol, t.allocation_bps, t.apy_min_bps, t.apy_max_bps, t.curve.name, t.lock_period // 86400)
            for t in TRANCHES] == [
        ("SURE-BTC", 2500, 400, 400, "FLAT", 90), ("SURE-SNR", 2000, 650, 1000, "LOG", 60),
        ("SURE-MEZZ", 1800, 900, 1500, "LINEAR", 30), ("SURE-JNR", 1500, 1250, 1600, "SIGMOID", 0),
        ("SURE-JNR+", 1200, 1600, 2200, "QUADRATIC", 0), ("SURE-EQT", 1000, 1500, 2500, "EXPONENTIAL", 0)]


def test_unknown_tranche_getter_fails(chain: Chain, vault: MultiTrancheVault) -> None:
    with pytest.raises(GetMethodError) as error:
        vault.get_tranche(chain.run, 7)
    assert error.value.exit_code == ExitCode.UNKNOWN_TRANCHE


@pytest.mark.parametrize("tranches, message", [
    (TRANCHES[:5], "10000 bps"),
    (TRANCHES[:5] + (TRANCHES[0],), "distinct"),
])
def test_bad_tranche_set_is_rejected_offline(tranches, message) -> None:
    with pytest.raises(ValueError, match=message):
        init_data(vault_config(tranches=tranches))


@pytest.mark.parametrize("overrides, message", [
    ({"shard_count": 17}, "shard count"),
    ({"utilization_cap_bps": 0}, "utilization cap"),
    ({"utilization_cap_bps": 10001}, "utilization cap"),
    ({"treasury_share_bps": 10001}, "treasury share"),
])
def test_bad_parameters_are_rejected_offline(overrides, message) -> None:
    with pytest.raises(ValueError, match=message):
        init_data(vault_config(**overrides))


def test_vault_derives_the_shards_it_owns(chain: Chain, vault: MultiTrancheVault) -> None:
    for shard_id in (0, 7, 15):
        assert vault.get_shard_address(chain.run, shard_id) == shard_deployment(vault.address, shard_id, 16).address


def test_deposit_mints_at_par_and_is_capital_once_the_wallet_confirms(protocol: Protocol) -> None:
    chain, vault = protocol.chain, protocol.vault
    fee = protocol.fees.deposit
    before = chain.balance(vault.address)
    txs = protocol.deposit(USER, 2, 10 * TON)
    token = vault.get_tranche_token_address(chain.run, 2)
    wallet = protocol.wallet(2, USER)
    assert [tx.address for tx in txs[:4]] == [vault.address, token, wallet.address, vault.address]
    assert all(tx.success for tx in txs[:4])
    mint = txs[0].out_messages[0].body.begin_parse()
    assert (mint.load_uint(32), mint.load_uint(64), mint.load_coins(), mint.load_address(), mint.load_address()) == (
        TokenOp.MINT, 1, 10 * TON, USER, vault.address), "query id = deposit id, response = the vault"
    assert wallet.get_wallet_data(chain.run).balance == 10 * TON
    assert wallet.get_lock_info(chain.run).locked_until == NOW + TRANCHE[2].lock_period
    state = vault.get_tranche(chain.run, 2)
    assert (state.capital, state.shares) == (10 * TON, 10 * TON)
    assert vault.get_total_capital(chain.run) == 10 * TON
    assert vault.get_book(chain.run) == Book(1, 2, 0, 0)
    refund = received(txs, USER)
    assert 0 < refund < fee, "what the mint chain did not use comes back"
    assert chain.balance(vault.address) == before + 10 * TON, "the vault keeps the deposit, exactly"


def test_deposits_accumulate_across_depositors_and_tranches(protocol: Protocol) -> None:
    protocol.deposit(USER, 1, 5 * TON)
    protocol.deposit(OTHER_USER, 1, 7 * TON)
    protocol.deposit(OTHER_USER, 6, 3 * TON)
    assert protocol.capitals() == {1: 12 * TON, 2: 0, 3: 0, 4: 0, 5: 0, 6: 3 * TON}
    assert protocol.tokens(1, USER) == 5 * TON and protocol.tokens(1, OTHER_USER) == 7 * TON
    assert protocol.vault.get_total_capital(protocol.run) == 15 * TON


def test_deposit_refusals_leave_storage_and_balance_unchanged(protocol: Protocol) -> None:
    chain, vault = protocol.chain, protocol.vault
    fee = protocol.fees.deposit
    before = chain.balance(vault.address)
    chain.assert_refused(USER, vault.address, vault.build_deposit_body(7), ExitCode.UNKNOWN_TRANCHE, value=10 * TON)
    chain.assert_refused(USER, vault.address, vault.build_deposit_body(1), ExitCode.INSUFFICIENT_VALUE, value=fee)
    masterchain_user = Address("-1:" + "c1" * 32)
    chain.sandbox.fund(masterchain_user, 100 * TON)
    chain.assert_refused(masterchain_user, vault.address, vault.build_deposit_body(1), ExitCode.WRONG_WORKCHAIN,
                         value=10 * TON)
    assert chain.balance(vault.address) == before


def test_pause_stops_deposits_until_unpause(protocol: Protocol) -> None:
    chain, vault = protocol.chain, protocol.vault
    chain.assert_accepted(ADMIN, vault.address, vault.build_pause_body())
    assert vault.is_paused(chain.run)
    chain.assert_refused(USER, vault.address, vault.build_deposit_body(1), ExitCode.PAUSED, value=10 * TON)
    chain.assert_accepted(ADMIN, vault.address, vault.build_unpause_body())
    assert all(tx.success for tx in protocol.deposit(USER, 1, TON)[:4])


def test_vault_deployed_paused_takes_no_deposit_until_the_admin_unpauses(chain: Chain, oracle: PricingOracle) -> None:
    target = MultiTrancheVault.from_config(vault_config(oracle.address, paused=True))
    deploy(chain.sandbox, target)
    vault = MultiTrancheVault(target.address)
    assert vault.is_paused(chain.run)
    chain.assert_refused(USER, vault.address, vault.build_deposit_body(1), ExitCode.PAUSED, value=10 * TON)
    chain.assert_accepted(ADMIN, vault.address, vault.build_unpause_body())
    assert chain.send(USER, vault.address, vault.build_deposit_body(1), 10 * TON)[0].success


def test_admin_sets_parameters_and_rotates_roles(chain: Chain, vault: MultiTrancheVault) -> None:
    chain.assert_accepted(ADMIN, vault.address, vault.build_set_params_body(5000, 1000))
    assert vault.get_params(chain.run) == (5000, 1000, 16)
    for cap, share in ((0, 0), (10001, 0), (8000, 10001)):
        chain.assert_refused(ADMIN, vault.address, vault.build_set_params_body(cap, share), ExitCode.BAD_PARAM)
    for op, getter in ((Op.SET_CLAIMS_PROCESSOR, vault.get_claims_processor), (Op.SET_ORACLE, vault.get_oracle),
                       (Op.SET_TREASURY, vault.get_treasury)):
        chain.assert_accepted(ADMIN, vault.address, vault.build_set_address_body(op, OTHER_USER))
        assert getter(chain.run) == OTHER_USER
        chain.assert_refused(ADMIN, vault.address, vault.build_set_address_body(op, None), ExitCode.WRONG_WORKCHAIN)
        chain.assert_refused(ADMIN, vault.address, vault.build_set_address_body(op, Address("-1:" + "c1" * 32)),
                             ExitCode.WRONG_WORKCHAIN)


@pytest.mark.parametrize("build", [
    MultiTrancheVault.build_pause_body,
    MultiTrancheVault.build_unpause_body,
    lambda: MultiTrancheVault.build_set_params_body(10000, 0),
    lambda: MultiTrancheVault.build_set_address_body(Op.SET_CLAIMS_PROCESSOR, STRANGER),
    lambda: MultiTrancheVault.build_set_address_body(Op.SET_ORACLE, STRANGER),
    lambda: MultiTrancheVault.build_set_address_body(Op.SET_TREASURY, STRANGER),
    MultiTrancheVault.build_recover_body,
    lambda: MultiTrancheVault.build_recover_shard_body(0),
], ids=["pause", "unpause", "set_params", "set_claims_processor", "set_oracle", "set_treasury", "recover",
        "recover_shard"])
@pytest.mark.parametrize("sender", [STRANGER, CLAIMS_PROCESSOR, TREASURY], ids=["stranger", "claims", "treasury"])
def test_admin_ops_from_others_are_refused(chain: Chain, vault: MultiTrancheVault, build, sender) -> None:
    chain.assert_refused(sender, vault.address, build(), ExitCode.UNAUTHORIZED)


@pytest.mark.parametrize("op", [TokenOp.REDEEM, TokenOp.MINT_FAILED, Op.PAY_CLAIM, 0x1E5A0105, 0x1E5A0502,
                                0x1E5A0504])
def test_protocol_messages_from_strangers_are_refused(chain: Chain, vault: MultiTrancheVault, op: int) -> None:
    """redeem and mint_failed (minters only), pay_claim (claims processor), quote_response (oracle),
    policy_stored and claim_confirmed (shards): forged by anyone else, refused before anything changes."""
    forged = (body(op).store_uint(1, 8).store_coins(TON).store_address(STRANGER).store_uint(0, 64).end_cell()
              if op in (TokenOp.REDEEM, TokenOp.MINT_FAILED)
              else body(op).store_uint(1, 64).store_coins(TON).store_coins(TON).store_uint(NOW + 86400, 32)
              .store_address(STRANGER).end_cell())
    chain.assert_refused(STRANGER, vault.address, forged, ExitCode.UNAUTHORIZED)


def test_recover_keeps_capital_and_in_flight_money(protocol: Protocol) -> None:
    chain, vault = protocol.chain, protocol.vault
    protocol.deposit(USER, 1, 50 * TON)
    chain.send(STRANGER, vault.address, None, 3 * TON)  # stranded TON
    owed = vault.get_total_capital(chain.run) + vault.get_book(chain.run).in_flight
    txs = chain.assert_accepted(ADMIN, vault.address, vault.build_recover_body(), value=TON // 10)
    assert received(txs, ADMIN) > 3 * TON
    assert owed + STORAGE_RESERVE - TON // 100 < chain.balance(vault.address) <= owed + STORAGE_RESERVE


def test_recover_shard_brings_its_surplus_to_the_vault(protocol: Protocol) -> None:
    chain, vault = protocol.chain, protocol.vault
    shard = shard_deployment(vault.address, 4, 16)
    deploy(chain.sandbox, shard, value=5 * TON)
    before = chain.balance(vault.address)
    txs = chain.assert_accepted(ADMIN, vault.address, vault.build_recover_shard_body(4), value=TON // 10)
    assert tx_on(txs, shard.address).success
    assert chain.balance(vault.address) > before + 4 * TON
    owed = PolicyShard(shard.address).get_rent_owed(chain.run)
    assert owed == MIN_BALANCE and chain.balance(shard.address) <= owed + STORAGE_RESERVE, "the shard keeps its rent"
    chain.assert_refused(ADMIN, vault.address, vault.build_recover_shard_body(16), ExitCode.WRONG_SHARD)


def vault_with_minter_code(chain: Chain, oracle: PricingOracle, minter_code_name: str) -> MultiTrancheVault:
    """A vault whose SureToken minter code is another contract's (to make mints fail on purpose)."""
    real = init_data(vault_config(oracle.address))
    codes = with_ref(real.refs[3], 0, load_artifact(minter_code_name).code)
    target: Deployment = deployment(load_artifact("MultiTrancheVault").code, with_ref(real, 3, codes))
    deploy(chain.sandbox, target)
    return MultiTrancheVault(target.address)


def test_bounced_mint_refunds_the_whole_deposit(chain: Chain, oracle: PricingOracle) -> None:
    # The PolicyShard code stands in for the minter: it refuses the mint, which bounces to the vault.
    vault = vault_with_minter_code(chain, oracle, "PolicyShard")
    before = chain.balance(vault.address)
    value = 10 * TON + vault.get_fees(chain.run).deposit
    txs = chain.send(USER, vault.address, vault.build_deposit_body(2), value)
    token = vault.get_tranche_token_address(chain.run, 2)
    assert not tx_on(txs, token).success
    bounce = [tx for tx in txs_on(txs, vault.address) if tx.in_bounced]
    assert len(bounce) == 1 and bounce[0].success and bounce[0].in_sender == token
    refund = received(txs, USER)
    assert value - TON // 10 < refund < value, "the deposit and what is left of the fee come back"
    assert vault.get_tranche(chain.run, 2).capital == 0 and vault.get_book(chain.run).in_flight == 0
    assert chain.balance(vault.address) <= before
