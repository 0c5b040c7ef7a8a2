"""MultiTrancheVault on the real TVM: tranches from the init data, derived token addresses, deposits minting
the right tranche token, coverage, pause and admin handover."""
from __future__ import annotations

import pytest
from pytoniq_core import Address

from chain.sandbox import GetMethodError
from contracts.base import TON, Deployment, ExitCode, deployment, load_artifact
from contracts.multi_tranche_vault import (
    DEPOSIT_FEE, TRANCHES, MultiTrancheVault, MultiTrancheVaultConfig, init_data, token_deployment,
)
from contracts.sure_token import Op as TokenOp, SureTokenMinter, SureTokenWallet
from tests.contracts.conftest import (
    ADMIN, CLAIMS_PROCESSOR, NEW_ADMIN, NOW, ORACLE, OTHER_USER, STRANGER, USER, Chain, deploy, tx_on, txs_on,
    with_ref,
)

TRANCHE = {t.id: t for t in TRANCHES}


def test_deployed_state(chain: Chain, vault: MultiTrancheVault) -> None:
    assert vault.get_admin(chain.run) == ADMIN
    assert vault.get_claims_processor(chain.run) == CLAIMS_PROCESSOR
    assert vault.get_oracle(chain.run) == ORACLE
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
    assert state.capital == 0
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
        init_data(MultiTrancheVaultConfig(ADMIN, CLAIMS_PROCESSOR, ORACLE, tranches))


def test_deposit_mints_that_tranches_token_to_the_depositor(chain: Chain, vault: MultiTrancheVault) -> None:
    value = 10 * TON
    vault_before = chain.sandbox.account(vault.address).balance
    txs = chain.assert_accepted(USER, vault.address, vault.build_deposit_body(3, query_id=42), value=value)
    assert all(tx.success for tx in txs if tx.address != USER)
    amount = value - DEPOSIT_FEE
    minter = SureTokenMinter(token_deployment(vault.address, TRANCHE[3]).address)
    assert chain.sandbox.account(minter.address).status == "active", "the first deposit deploys the minter"
    data = minter.get_jetton_data(chain.run)
    assert (data.total_supply, data.admin) == (amount, vault.address)
    assert minter.get_tranche_id(chain.run) == 3

    wallet = SureTokenWallet(SureTokenWallet.address_of(USER, minter.address, TRANCHE[3].lock_period))
    assert minter.get_wallet_address(chain.run, USER) == wallet.address
    assert wallet.get_wallet_data(chain.run).balance == amount
    assert wallet.get_lock_info(chain.run).locked_until == NOW + 30 * 86400

    assert vault.get_tranche(chain.run, 3).capital == amount
    assert vault.get_total_capital(chain.run) == amount
    for other in (1, 2, 4, 5, 6):
        assert vault.get_tranche(chain.run, other).capital == 0
        assert chain.sandbox.account(token_deployment(vault.address, TRANCHE[other]).address).status == "nonexist"

    assert chain.sandbox.account(vault.address).balance == vault_before + amount, "the vault keeps the deposit only"
    excess = tx_on(txs, USER)
    assert excess.in_body.begin_parse().load_uint(32) == TokenOp.EXCESSES
    assert DEPOSIT_FEE // 2 < excess.in_value < DEPOSIT_FEE, "the unused part of the fee comes back"


def test_deposits_accumulate_across_depositors_and_a_predeployed_minter(chain: Chain, vault: MultiTrancheVault) -> None:
    # The deployment deploys each minter from its wallet with the StateInit computed offline.
    deploy(chain.sandbox, token_deployment(vault.address, TRANCHE[6]))
    chain.assert_accepted(USER, vault.address, vault.build_deposit_body(6), value=3 * TON)
    chain.assert_accepted(OTHER_USER, vault.address, vault.build_deposit_body(6), value=5 * TON)
    chain.assert_accepted(USER, vault.address, vault.build_deposit_body(1), value=2 * TON)
    six = 3 * TON + 5 * TON - 2 * DEPOSIT_FEE
    one = 2 * TON - DEPOSIT_FEE
    assert vault.get_tranche(chain.run, 6).capital == six
    assert vault.get_tranche(chain.run, 1).capital == one
    assert vault.get_total_capital(chain.run) == six + one
    minter = SureTokenMinter(token_deployment(vault.address, TRANCHE[6]).address)
    assert minter.get_jetton_data(chain.run).total_supply == six
    other_wallet = SureTokenWallet(minter.get_wallet_address(chain.run, OTHER_USER))
    assert other_wallet.get_wallet_data(chain.run).balance == 5 * TON - DEPOSIT_FEE
    assert other_wallet.get_lock_info(chain.run).locked_until == 0, "SURE-EQT has no lock"


def test_deposit_refusals_leave_storage_unchanged(chain: Chain, vault: MultiTrancheVault) -> None:
    chain.assert_refused(USER, vault.address, vault.build_deposit_body(7), ExitCode.UNKNOWN_TRANCHE, value=5 * TON)
    chain.assert_refused(USER, vault.address, vault.build_deposit_body(0), ExitCode.UNKNOWN_TRANCHE, value=5 * TON)
    chain.assert_refused(USER, vault.address, vault.build_deposit_body(2), ExitCode.INSUFFICIENT_VALUE,
                         value=DEPOSIT_FEE)
    masterchain_user = Address("-1:" + "c1" * 32)
    chain.sandbox.fund(masterchain_user, 100 * TON)
    chain.assert_refused(masterchain_user, vault.address, vault.build_deposit_body(2), ExitCode.WRONG_WORKCHAIN,
                         value=5 * TON)


def test_pause_stops_deposits_until_unpause(chain: Chain, vault: MultiTrancheVault) -> None:
    chain.assert_accepted(ADMIN, vault.address, vault.build_pause_body())
    assert vault.is_paused(chain.run)
    chain.assert_refused(USER, vault.address, vault.build_deposit_body(1), ExitCode.PAUSED, value=5 * TON)
    chain.assert_accepted(ADMIN, vault.address, vault.build_unpause_body())
    assert not vault.is_paused(chain.run)
    chain.assert_accepted(USER, vault.address, vault.build_deposit_body(1), value=5 * TON)
    assert vault.get_total_capital(chain.run) == 5 * TON - DEPOSIT_FEE


def test_admin_hands_over_admin(chain: Chain, vault: MultiTrancheVault) -> None:
    chain.assert_accepted(ADMIN, vault.address, vault.build_change_admin_body(NEW_ADMIN))
    assert vault.get_admin(chain.run) == NEW_ADMIN
    chain.assert_refused(ADMIN, vault.address, vault.build_pause_body(), ExitCode.UNAUTHORIZED)
    chain.assert_accepted(NEW_ADMIN, vault.address, vault.build_pause_body())


def test_admin_handover_to_another_workchain_is_refused(chain: Chain, vault: MultiTrancheVault) -> None:
    body = vault.build_change_admin_body(Address("-1:" + "a2" * 32))
    chain.assert_refused(ADMIN, vault.address, body, ExitCode.WRONG_WORKCHAIN)


@pytest.mark.parametrize("build", [
    MultiTrancheVault.build_pause_body,
    MultiTrancheVault.build_unpause_body,
    lambda: MultiTrancheVault.build_change_admin_body(STRANGER),
], ids=["pause", "unpause", "change_admin"])
@pytest.mark.parametrize("sender", [STRANGER, CLAIMS_PROCESSOR], ids=["stranger", "claims_processor"])
def test_admin_ops_from_others_are_refused(chain: Chain, vault: MultiTrancheVault, build, sender) -> None:
    chain.assert_refused(sender, vault.address, build(), ExitCode.UNAUTHORIZED)


def test_claims_processor_records_coverage_and_utilization(chain: Chain, vault: MultiTrancheVault) -> None:
    chain.assert_accepted(USER, vault.address, vault.build_deposit_body(4), value=100 * TON + DEPOSIT_FEE)
    chain.assert_accepted(CLAIMS_PROCESSOR, vault.address, vault.build_record_coverage_body(sold=60 * TON, released=0))
    assert vault.get_total_coverage_sold(chain.run) == 60 * TON
    assert vault.get_utilization_bps(chain.run) == 6000
    chain.assert_accepted(CLAIMS_PROCESSOR, vault.address, vault.build_record_coverage_body(sold=5 * TON, released=25 * TON))
    assert vault.get_total_coverage_sold(chain.run) == 40 * TON
    assert vault.get_utilization_bps(chain.run) == 4000
    chain.assert_refused(CLAIMS_PROCESSOR, vault.address, vault.build_record_coverage_body(sold=0, released=41 * TON),
                         ExitCode.BAD_AMOUNT)


@pytest.mark.parametrize("sender", [ADMIN, STRANGER], ids=["admin", "stranger"])
def test_record_coverage_from_others_is_refused(chain: Chain, vault: MultiTrancheVault, sender) -> None:
    chain.assert_refused(sender, vault.address, vault.build_record_coverage_body(sold=TON, released=0),
                         ExitCode.UNAUTHORIZED)


def test_bounced_mint_takes_the_deposit_out_of_the_tranche_capital(chain: Chain) -> None:
    # A vault whose token code refuses every mint (the PolicyShard code stands in for it): the mint bounces.
    cfg = MultiTrancheVaultConfig(admin=ADMIN, claims_processor=CLAIMS_PROCESSOR, oracle=ORACLE)
    real = init_data(cfg)
    codes = with_ref(real.refs[2], 0, load_artifact("PolicyShard").code)
    target: Deployment = deployment(load_artifact("MultiTrancheVault").code, with_ref(real, 2, codes))
    deploy(chain.sandbox, target)
    vault = MultiTrancheVault(target.address)

    txs = chain.assert_accepted(USER, vault.address, vault.build_deposit_body(2), value=10 * TON)
    token = vault.get_tranche_token_address(chain.run, 2)
    assert not tx_on(txs, token).success
    bounce = [tx for tx in txs_on(txs, vault.address) if tx.in_bounced]
    assert len(bounce) == 1 and bounce[0].success and bounce[0].in_sender == token
    assert vault.get_tranche(chain.run, 2).capital == 0
    assert vault.get_total_capital(chain.run) == 0

