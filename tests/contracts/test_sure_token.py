"""SureToken minter and jetton wallet on the real TVM. The vault is played by ADMIN here: the minter only
knows its admin's address; the vault-driven flows (deposit, redemption) are in test_protocol.py."""
from __future__ import annotations

import pytest
from pytoniq_core import Address, Cell, begin_cell

from contracts.base import TON, ExitCode, body, deployment, load_artifact
from contracts.multi_tranche_vault import TRANCHES
from contracts.policy_shard import PolicyShard, PolicyShardConfig
from contracts.sure_token import (
    JETTON_MIN_STORAGE, LockInfo, Op, QueuedRedemption, SureTokenConfig, SureTokenMinter, SureTokenWallet, minter_init_data,
)
from tests.contracts.conftest import (
    ADMIN, NOW, OTHER_USER, STRANGER, USER, Chain, deploy, tx_on, txs_on, with_ref,
)

VAULT = ADMIN  # the minter's admin
SNR = TRANCHES[1]  # 60-day lock
MAX_COINS = 2**120 - 1


@pytest.fixture
def minter(chain: Chain) -> SureTokenMinter:
    target = SureTokenMinter.from_config(
        SureTokenConfig(vault=VAULT, tranche_id=SNR.id, lock_period=SNR.lock_period, content=SNR.content))
    deploy(chain.sandbox, target)
    return SureTokenMinter(target.address)


def wallet_of(minter: SureTokenMinter, owner: Address, lock_period: int = SNR.lock_period) -> SureTokenWallet:
    return SureTokenWallet(SureTokenWallet.address_of(owner, minter.address, lock_period))


def internal_transfer(amount: int, sender_owner: Address, response: Address | None) -> Cell:
    """The TEP-74 internal_transfer a minter (or a peer wallet) sends to a jetton wallet."""
    return (body(Op.INTERNAL_TRANSFER).store_coins(amount).store_address(sender_owner).store_address(response)
            .store_coins(0).store_bit(0).end_cell())


def test_deployed_minter_getters(chain: Chain, minter: SureTokenMinter) -> None:
    data = minter.get_jetton_data(chain.run)
    assert (data.total_supply, data.mintable, data.admin) == (0, True, VAULT)
    assert data.content.hash == SNR.content.hash
    assert data.wallet_code.hash == load_artifact("SureTokenWallet").code.hash
    assert minter.get_tranche_id(chain.run) == 2
    assert minter.get_lock_period(chain.run) == 60 * 86400
    for owner in (USER, OTHER_USER, minter.address):
        assert minter.get_wallet_address(chain.run, owner) == wallet_of(minter, owner).address


def test_vault_mints_into_a_locked_wallet(chain: Chain, minter: SureTokenMinter) -> None:
    txs = chain.assert_accepted(VAULT, minter.address, minter.build_mint_body(USER, 700, USER, query_id=9))
    wallet = wallet_of(minter, USER)
    assert tx_on(txs, wallet.address).success
    data = wallet.get_wallet_data(chain.run)
    assert (data.balance, data.owner, data.minter) == (700, USER, minter.address)
    assert wallet.get_lock_info(chain.run) == LockInfo(SNR.lock_period, NOW + SNR.lock_period, 700)
    assert minter.get_jetton_data(chain.run).total_supply == 700
    excess = tx_on(txs, USER)
    assert excess.in_body.begin_parse().load_uint(32) == Op.EXCESSES and excess.in_value > 0

    chain.sandbox.now = NOW + 1000
    chain.assert_accepted(VAULT, minter.address, minter.build_mint_body(USER, 300, USER))
    assert wallet.get_wallet_data(chain.run).balance == 1000
    assert wallet.get_lock_info(chain.run) == LockInfo(SNR.lock_period, NOW + 1000 + SNR.lock_period, 1000), \
        "a new mint extends the lock of what is still locked"
    assert minter.get_jetton_data(chain.run).total_supply == 1000


def test_mint_refusals(chain: Chain, minter: SureTokenMinter) -> None:
    chain.assert_refused(STRANGER, minter.address, minter.build_mint_body(STRANGER, 1, None), ExitCode.UNAUTHORIZED)
    chain.assert_refused(USER, minter.address, minter.build_mint_body(USER, 1, None), ExitCode.UNAUTHORIZED)
    chain.assert_refused(VAULT, minter.address, minter.build_mint_body(USER, 0, None), ExitCode.BAD_AMOUNT)
    chain.assert_refused(VAULT, minter.address, minter.build_mint_body(Address("-1:" + "c1" * 32), 1, None),
                         ExitCode.WRONG_WORKCHAIN)


@pytest.fixture
def funded_wallet(chain: Chain, minter: SureTokenMinter) -> SureTokenWallet:
    chain.assert_accepted(VAULT, minter.address, minter.build_mint_body(USER, 1_000, USER))
    return wallet_of(minter, USER)


def test_transfer_is_refused_while_locked_then_moves_tokens(chain: Chain, minter: SureTokenMinter,
                                                            funded_wallet: SureTokenWallet) -> None:
    transfer = funded_wallet.build_transfer_body(
        400, OTHER_USER, response=USER, forward_ton_amount=TON // 100,
        forward_payload=begin_cell().store_uint(0, 32).store_snake_string("hi").end_cell(), query_id=5)
    chain.assert_refused(USER, funded_wallet.address, transfer, ExitCode.LOCKED)

    chain.sandbox.now = NOW + SNR.lock_period
    txs = chain.assert_accepted(USER, funded_wallet.address, transfer)
    receiver = wallet_of(minter, OTHER_USER)
    assert funded_wallet.get_wallet_data(chain.run).balance == 600
    assert receiver.get_wallet_data(chain.run).balance == 400
    assert receiver.get_lock_info(chain.run).locked_until == 0, "tokens from a peer wallet do not lock"
    assert minter.get_jetton_data(chain.run).total_supply == 1_000

    notification = tx_on(txs, OTHER_USER)
    payload = notification.in_body.begin_parse()
    assert (payload.load_uint(32), payload.load_uint(64), payload.load_coins(), payload.load_address()) == (
        Op.TRANSFER_NOTIFICATION, 5, 400, USER)
    assert notification.in_value == TON // 100
    excess = [tx for tx in txs_on(txs, USER) if tx.in_body.begin_parse().load_uint(32) == Op.EXCESSES]
    assert len(excess) == 1 and excess[0].in_value > 0


def test_transfer_refusals(chain: Chain, funded_wallet: SureTokenWallet) -> None:
    chain.sandbox.now = NOW + SNR.lock_period
    ok = funded_wallet.build_transfer_body(10, OTHER_USER, response=USER)
    chain.assert_refused(STRANGER, funded_wallet.address, ok, ExitCode.UNAUTHORIZED)
    chain.assert_refused(USER, funded_wallet.address, funded_wallet.build_transfer_body(1_001, OTHER_USER, USER),
                         ExitCode.INSUFFICIENT_BALANCE)
    chain.assert_refused(USER, funded_wallet.address, ok, ExitCode.INSUFFICIENT_VALUE, value=TON // 50)
    chain.assert_refused(USER, funded_wallet.address,
                         funded_wallet.build_transfer_body(10, Address("-1:" + "c2" * 32), USER),
                         ExitCode.WRONG_WORKCHAIN)


def test_internal_transfer_from_a_stranger_is_refused(chain: Chain, funded_wallet: SureTokenWallet) -> None:
    chain.assert_refused(STRANGER, funded_wallet.address, internal_transfer(10**6, STRANGER, STRANGER),
                         ExitCode.UNAUTHORIZED)


def test_holder_burn_becomes_a_redemption_at_the_vault(chain: Chain, minter: SureTokenMinter,
                                                       funded_wallet: SureTokenWallet) -> None:
    burn = funded_wallet.build_burn_body(250, USER, query_id=4)
    chain.assert_refused(USER, funded_wallet.address, burn, ExitCode.LOCKED)
    chain.sandbox.now = NOW + SNR.lock_period
    chain.assert_refused(USER, funded_wallet.address, burn, ExitCode.INSUFFICIENT_VALUE, value=TON // 100)
    txs = chain.assert_accepted(USER, funded_wallet.address, burn)
    assert funded_wallet.get_wallet_data(chain.run).balance == 750
    assert minter.get_jetton_data(chain.run).total_supply == 750
    [redeem] = [m for m in tx_on(txs, minter.address).out_messages]
    s = redeem.body.begin_parse()
    assert redeem.dest == VAULT and not redeem.bounce
    assert (s.load_uint(32), s.load_uint(64), s.load_uint(8), s.load_coins(), s.load_address(), s.load_bit()) == (
        Op.REDEEM, 4, SNR.id, 250, USER, False)


def test_burn_refusals(chain: Chain, minter: SureTokenMinter, funded_wallet: SureTokenWallet) -> None:
    chain.sandbox.now = NOW + SNR.lock_period
    chain.assert_refused(STRANGER, funded_wallet.address, funded_wallet.build_burn_body(1, STRANGER),
                         ExitCode.UNAUTHORIZED)
    chain.assert_refused(VAULT, funded_wallet.address, funded_wallet.build_burn_body(1, VAULT), ExitCode.UNAUTHORIZED)
    chain.assert_refused(USER, funded_wallet.address, funded_wallet.build_burn_body(0, USER),
                         ExitCode.INSUFFICIENT_BALANCE)
    chain.assert_refused(USER, funded_wallet.address, funded_wallet.build_burn_body(1_001, USER),
                         ExitCode.INSUFFICIENT_BALANCE)
    forged = body(Op.BURN_NOTIFICATION).store_coins(1_000).store_address(USER).store_address(STRANGER).end_cell()
    chain.assert_refused(STRANGER, minter.address, forged, ExitCode.UNAUTHORIZED)
    assert minter.get_jetton_data(chain.run).total_supply == 1_000


def test_vault_restores_tokens_unlocked(chain: Chain, minter: SureTokenMinter, funded_wallet: SureTokenWallet) -> None:
    restore = body(Op.RESTORE_TOKENS).store_address(USER).store_coins(40).store_uint(0, 32).end_cell()
    chain.assert_refused(STRANGER, minter.address, restore, ExitCode.UNAUTHORIZED)
    chain.sandbox.now = NOW + SNR.lock_period
    chain.assert_accepted(VAULT, minter.address, restore)
    assert funded_wallet.get_wallet_data(chain.run).balance == 1_040
    assert funded_wallet.get_lock_info(chain.run).locked_amount == 0, "restored tokens do not lock again"
    assert minter.get_jetton_data(chain.run).total_supply == 1_040


def test_a_later_mint_locks_only_what_it_adds(chain: Chain, minter: SureTokenMinter,
                                              funded_wallet: SureTokenWallet) -> None:
    chain.sandbox.now = NOW + SNR.lock_period
    chain.assert_accepted(USER, funded_wallet.address, funded_wallet.build_transfer_body(1_000, OTHER_USER, USER))
    other = wallet_of(minter, OTHER_USER)
    chain.assert_accepted(VAULT, minter.address, minter.build_mint_body(OTHER_USER, 5, OTHER_USER))
    assert other.get_lock_info(chain.run).locked_amount == 5
    # the 1,000 received from USER stay free; the 5 minted are locked
    chain.assert_accepted(OTHER_USER, other.address, other.build_transfer_body(1_000, USER, OTHER_USER))
    chain.assert_refused(OTHER_USER, other.address, other.build_transfer_body(1, USER, OTHER_USER), ExitCode.LOCKED)


def test_incoming_transfer_cannot_sweep_the_wallets_ton(chain: Chain, minter: SureTokenMinter,
                                                        funded_wallet: SureTokenWallet) -> None:
    """The audit's attack: 5 TON parked on a wallet, taken by a 1-nanotoken transfer naming the attacker
    as response_destination. TEP-74: the wallet keeps the balance it had before the message."""
    chain.sandbox.now = NOW + SNR.lock_period
    chain.assert_accepted(USER, funded_wallet.address, funded_wallet.build_transfer_body(10, STRANGER, USER))
    victim = wallet_of(minter, OTHER_USER)
    chain.assert_accepted(VAULT, minter.address, minter.build_mint_body(OTHER_USER, 1, OTHER_USER))
    chain.send(OTHER_USER, victim.address, None, 5 * TON)
    parked = chain.balance(victim.address)
    assert parked > 5 * TON

    attacker_wallet = wallet_of(minter, STRANGER)
    value = TON // 10
    txs = chain.assert_accepted(STRANGER, attacker_wallet.address,
                                attacker_wallet.build_transfer_body(1, OTHER_USER, STRANGER), value=value)
    assert tx_on(txs, victim.address).success
    assert chain.balance(victim.address) >= parked, "the victim wallet keeps what it had"
    assert sum(m.value for tx in txs for m in tx.out_messages if m.dest == STRANGER) < value


def test_tep89_provide_wallet_address(chain: Chain, minter: SureTokenMinter) -> None:
    txs = chain.assert_accepted(STRANGER, minter.address,
                                minter.build_provide_wallet_address_body(USER, True, query_id=8))
    [reply] = txs[0].out_messages
    s = reply.body.begin_parse()
    assert reply.dest == STRANGER
    assert (s.load_uint(32), s.load_uint(64), s.load_address()) == (Op.TAKE_WALLET_ADDRESS, 8,
                                                                    wallet_of(minter, USER).address)
    assert s.load_maybe_ref().begin_parse().load_address() == USER
    txs = chain.assert_accepted(STRANGER, minter.address,
                                minter.build_provide_wallet_address_body(Address("-1:" + "c1" * 32), False))
    s = txs[0].out_messages[0].body.begin_parse()
    s.skip_bits(96)
    assert s.load_address() is None and s.load_bit() == 0, "no wallet on another workchain"


def test_bounced_transfer_restores_the_senders_balance(chain: Chain) -> None:
    # Wallets whose minter is a plain address (ADMIN) so that one can be filled to the Coins maximum:
    # any transfer into it then fails on the receiving side and bounces.
    minter = ADMIN
    full = SureTokenWallet.address_of(OTHER_USER, minter, 0)
    chain.sandbox.send_internal(sender=minter, to=full, value=TON, body=internal_transfer(MAX_COINS, minter, None),
                                state_init=SureTokenWallet.state_init(OTHER_USER, minter, 0))
    sender = SureTokenWallet(SureTokenWallet.address_of(USER, minter, 0))
    chain.sandbox.send_internal(sender=minter, to=sender.address, value=TON, body=internal_transfer(10, minter, None),
                                state_init=SureTokenWallet.state_init(USER, minter, 0))
    assert SureTokenWallet(full).get_wallet_data(chain.run).balance == MAX_COINS

    txs = chain.assert_accepted(USER, sender.address, sender.build_transfer_body(10, OTHER_USER, response=USER))
    assert not tx_on(txs, full).success
    bounce = [tx for tx in txs_on(txs, sender.address) if tx.in_bounced]
    assert len(bounce) == 1 and bounce[0].success
    assert sender.get_wallet_data(chain.run).balance == 10
    assert SureTokenWallet(full).get_wallet_data(chain.run).balance == MAX_COINS


def test_bounced_mint_is_taken_out_of_the_supply(chain: Chain) -> None:
    # A minter whose wallet code refuses everything (the PolicyShard code stands in): the mint bounces back.
    cfg = SureTokenConfig(vault=VAULT, tranche_id=SNR.id, lock_period=SNR.lock_period, content=SNR.content)
    data = with_ref(minter_init_data(cfg), 1, load_artifact("PolicyShard").code)
    target = deployment(load_artifact("SureTokenMinter").code, data)
    deploy(chain.sandbox, target)
    minter = SureTokenMinter(target.address)
    txs = chain.assert_accepted(VAULT, minter.address, minter.build_mint_body(USER, 500, VAULT, query_id=12))
    bounce = [tx for tx in txs_on(txs, minter.address) if tx.in_bounced]
    assert len(bounce) == 1 and bounce[0].success
    assert minter.get_jetton_data(chain.run).total_supply == 0
    [failed] = bounce[0].out_messages
    s = failed.body.begin_parse()
    assert failed.dest == VAULT and (s.load_uint(32), s.load_uint(64), s.load_uint(8)) == (Op.MINT_FAILED, 12, SNR.id)


def test_transfer_without_response_address_keeps_the_excess_on_the_receiving_wallet(
        chain: Chain, minter: SureTokenMinter, funded_wallet: SureTokenWallet) -> None:
    chain.sandbox.now = NOW + SNR.lock_period
    txs = chain.assert_accepted(USER, funded_wallet.address, funded_wallet.build_transfer_body(10, OTHER_USER, None))
    receiver = wallet_of(minter, OTHER_USER)
    assert tx_on(txs, receiver.address).success and tx_on(txs, receiver.address).out_messages == []
    assert receiver.get_wallet_data(chain.run).balance == 10


# ---- TON that lands on a wallet (issue 20, finding 5) ---------------------------------------------------

def test_owner_withdraws_ton_that_landed_on_the_wallet(chain: Chain, funded_wallet: SureTokenWallet) -> None:
    """Anyone may send TON to a jetton wallet (a top-up, a mistaken transfer); it used to stay there for ever.
    The owner takes it back, the wallet keeps JETTON_MIN_STORAGE for its rent; tokens and lock are untouched."""
    chain.send(STRANGER, funded_wallet.address, None, 5 * TON)
    data, lock = funded_wallet.get_wallet_data(chain.run), funded_wallet.get_lock_info(chain.run)
    parked = chain.balance(funded_wallet.address)
    assert parked > 5 * TON
    for sender in (STRANGER, OTHER_USER, ADMIN):  # ADMIN plays the minter/vault here: not the owner either
        chain.assert_refused(sender, funded_wallet.address, SureTokenWallet.build_withdraw_ton_body(),
                             ExitCode.UNAUTHORIZED, value=TON // 10)
        assert chain.balance(funded_wallet.address) >= parked - TON // 1000
    txs = chain.assert_accepted(USER, funded_wallet.address, SureTokenWallet.build_withdraw_ton_body(7), TON // 10)
    [out] = txs[0].out_messages
    assert out.dest == USER and not out.bounce
    assert parked - JETTON_MIN_STORAGE < out.value < parked + TON // 10
    assert chain.balance(funded_wallet.address) == JETTON_MIN_STORAGE
    assert funded_wallet.get_wallet_data(chain.run) == data and funded_wallet.get_lock_info(chain.run) == lock
    # nothing left above the reserve: the owner's own value comes back, the reserve stays
    txs = chain.assert_accepted(USER, funded_wallet.address, SureTokenWallet.build_withdraw_ton_body(), TON // 10)
    assert chain.balance(funded_wallet.address) == JETTON_MIN_STORAGE
    assert TON // 10 - TON // 100 < txs[0].out_messages[0].value < TON // 10


# ---- queued redemptions (issue 20, finding 4): the wallet holds the LP's place in the queue --------------

def restore_queued(amount: int, due: int) -> Cell:
    """What the vault sends the minter for a redemption it queued."""
    return body(Op.RESTORE_TOKENS).store_address(USER).store_coins(amount).store_uint(due, 32).end_cell()


def test_a_queued_redemption_comes_back_to_the_wallet_and_is_withdrawn_when_due(
        chain: Chain, minter: SureTokenMinter, funded_wallet: SureTokenWallet) -> None:
    chain.sandbox.now = NOW + SNR.lock_period
    chain.assert_accepted(USER, funded_wallet.address, funded_wallet.build_burn_body(300, USER))
    due = NOW + 100 * 86400
    chain.assert_refused(STRANGER, minter.address, restore_queued(300, due), ExitCode.UNAUTHORIZED)
    chain.assert_accepted(VAULT, minter.address, restore_queued(300, due))
    assert funded_wallet.get_queued_redemption(chain.run) == QueuedRedemption(300, due)
    assert funded_wallet.get_wallet_data(chain.run).balance == 700, "queued tokens are not spendable"
    assert minter.get_jetton_data(chain.run).total_supply == 1_000
    # a second queued part: the later date counts for both
    chain.assert_accepted(VAULT, minter.address, restore_queued(50, due - 5))
    assert funded_wallet.get_queued_redemption(chain.run) == QueuedRedemption(350, due)
    # only the minter may queue tokens in a wallet
    forged = body(Op.RESTORE_QUEUED).store_coins(10**9).store_uint(0, 32).end_cell()
    for sender in (STRANGER, VAULT, USER):
        chain.assert_refused(sender, funded_wallet.address, forged, ExitCode.UNAUTHORIZED)
    chain.assert_refused(USER, funded_wallet.address, funded_wallet.build_transfer_body(701, OTHER_USER, USER),
                         ExitCode.INSUFFICIENT_BALANCE)

    withdraw = SureTokenWallet.build_withdraw_queued_body(query_id=6)
    chain.assert_refused(USER, funded_wallet.address, withdraw, ExitCode.NOT_DUE)
    chain.sandbox.now = due
    chain.assert_refused(STRANGER, funded_wallet.address, withdraw, ExitCode.UNAUTHORIZED)
    chain.assert_refused(USER, funded_wallet.address, withdraw, ExitCode.INSUFFICIENT_VALUE, value=TON // 100)
    txs = chain.assert_accepted(USER, funded_wallet.address, withdraw)
    assert funded_wallet.get_queued_redemption(chain.run).amount == 0
    assert minter.get_jetton_data(chain.run).total_supply == 1_050 - 350
    [redeem] = tx_on(txs, minter.address).out_messages
    s = redeem.body.begin_parse()
    assert redeem.dest == VAULT and (s.load_uint(32), s.load_uint(64), s.load_uint(8), s.load_coins(),
                                     s.load_address(), s.load_bit()) == (Op.REDEEM, 6, SNR.id, 350, USER, True)
    # a forged withdrawal notification (not from the holder's wallet) is refused by the minter
    forged = body(Op.WITHDRAW_NOTIFICATION).store_coins(10**9).store_address(USER).end_cell()
    chain.assert_refused(STRANGER, minter.address, forged, ExitCode.UNAUTHORIZED)
    assert minter.get_jetton_data(chain.run).total_supply == 1_050 - 350


def test_a_bounced_withdrawal_puts_the_tokens_back_in_the_queue(chain: Chain) -> None:
    """The withdrawal's notification bounces (here the wallet's "minter" is a contract that refuses it): the
    queued tokens come back to the queue, due as before; nothing is lost."""
    refuser = PolicyShard.from_config(PolicyShardConfig(shard_id=0, vault=ADMIN, shard_count=16))
    deploy(chain.sandbox, refuser)
    wallet = SureTokenWallet(SureTokenWallet.address_of(USER, refuser.address, 0))
    queue = body(Op.RESTORE_QUEUED).store_coins(300).store_uint(NOW, 32).end_cell()
    txs = chain.sandbox.send_internal(sender=refuser.address, to=wallet.address, value=TON, body=queue,
                                      state_init=SureTokenWallet.state_init(USER, refuser.address, 0))
    assert txs[0].success and wallet.get_queued_redemption(chain.run) == QueuedRedemption(300, NOW)
    txs = chain.assert_accepted(USER, wallet.address, SureTokenWallet.build_withdraw_queued_body())
    assert not tx_on(txs, refuser.address).success
    assert [tx.in_bounced for tx in txs if tx.address == wallet.address] == [False, True]
    assert wallet.get_queued_redemption(chain.run) == QueuedRedemption(300, NOW)
