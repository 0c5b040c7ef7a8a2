"""The in-memory chain on the real TVM: deploys, getters, bounces, external messages, persistence."""
from __future__ import annotations

import pytest
from pytoniq.contract.wallets.wallet import WALLET_V4_R2_CODE, WalletV4R2
from pytoniq_core import Cell, StateInit, begin_cell

from chain.blockchain_config import blockchain_config
from chain.errors import GetMethodError
from chain.sandbox import ExternalNotAccepted, Sandbox
from tests.chain.conftest import TON, address_of, counter_state_init, keypair, op_body

NOW = 1_800_000_000


def test_blockchain_config_is_the_full_mainnet_config():
    config = blockchain_config()
    # the toy config of pytvm has far fewer cells; the mainnet config carries every parameter (0..80+)
    params = config.begin_parse().load_hashmap(32)
    assert {0, 1, 8, 12, 15, 18, 20, 21, 24, 25, 34}.issubset(params.keys())


def test_fund_creates_an_uninit_account_with_the_exact_amount(user):
    chain = Sandbox(now=NOW)
    assert chain.account(user).status == "nonexist"
    chain.fund(user, 5 * TON)
    info = chain.account(user)
    assert (info.status, info.balance) == ("uninit", 5 * TON)
    assert info.last_tx_lt > 0 and len(info.last_tx_hash) == 64


def test_deploy_with_state_init_then_getter_and_state_change(user):
    chain = Sandbox(now=NOW)
    chain.fund(user, 10 * TON)
    state_init = counter_state_init(7)
    contract = address_of(state_init)
    txs = chain.send_internal(sender=user, to=contract, value=TON // 10, state_init=state_init)
    assert len(txs) == 1 and txs[0].success and txs[0].total_fees > 0
    info = chain.account(contract)
    assert info.status == "active"
    assert info.code_hash == state_init.code.hash.hex()
    assert info.balance == TON // 10 - txs[0].total_fees
    assert chain.run_get_method(contract, "get_state") == [7, 0]

    chain.send_internal(sender=user, to=contract, value=TON // 10, body=op_body(1))
    assert chain.run_get_method(contract, "get_state") == [7, 1]
    lts = [t.lt for t in chain.transactions(contract)]
    assert len(lts) == 2 and lts == sorted(lts, reverse=True)


def test_message_to_a_throwing_contract_bounces_back_to_the_sender(user):
    chain = Sandbox(now=NOW)
    chain.fund(user, 10 * TON)
    state_init = counter_state_init(1)
    contract = address_of(state_init)
    chain.send_internal(sender=user, to=contract, value=TON // 10, state_init=state_init)
    before = chain.account(contract).balance

    failed, bounce = chain.send_internal(sender=user, to=contract, value=TON, body=op_body(2))
    assert (failed.success, failed.exit_code, failed.aborted) == (False, 77, True)
    assert failed.out_messages[0].bounced and failed.out_messages[0].dest == user
    assert bounce.address == user and bounce.in_bounced and bounce.lt > failed.lt
    assert 0 < bounce.in_value < TON           # the value minus compute and forwarding fees
    assert chain.account(contract).balance < before + TON // 100  # the contract kept no more than fees


def test_non_bounceable_message_to_a_throwing_contract_keeps_the_value(user):
    chain = Sandbox(now=NOW)
    chain.fund(user, 10 * TON)
    state_init = counter_state_init(2)
    contract = address_of(state_init)
    chain.send_internal(sender=user, to=contract, value=TON // 10, state_init=state_init)
    before = chain.account(contract).balance
    (tx,) = chain.send_internal(sender=user, to=contract, value=TON, body=op_body(2), bounce=False)
    assert tx.exit_code == 77 and not tx.out_messages
    assert chain.account(contract).balance == before + TON - tx.total_fees


def test_getter_errors_carry_the_exit_code(user):
    chain = Sandbox(now=NOW)
    state_init = counter_state_init(3)
    contract = address_of(state_init)
    with pytest.raises(GetMethodError) as uninit:
        chain.run_get_method(contract, "get_state")
    assert uninit.value.exit_code == -256
    chain.fund(user, TON)
    chain.send_internal(sender=user, to=contract, value=TON // 10, state_init=state_init)
    with pytest.raises(GetMethodError) as missing:
        chain.run_get_method(contract, "no_such_method")
    assert missing.value.exit_code == 11


def test_external_message_not_accepted_changes_nothing(user):
    chain = Sandbox(now=NOW)
    chain.fund(user, TON)
    state_init = counter_state_init(4)
    contract = address_of(state_init)
    chain.send_internal(sender=user, to=contract, value=TON // 10, state_init=state_init)
    before = chain.account(contract)
    with pytest.raises(ExternalNotAccepted) as rejected:
        chain.send_external(contract, Cell.empty())
    assert rejected.value.exit_code == 0xFFFF
    assert chain.account(contract) == before


def test_wallet_v4r2_external_deploys_wallet_and_contract(user):
    chain = Sandbox(now=NOW)
    public_key, private_key = keypair(1)
    wallet_init = StateInit(code=WALLET_V4_R2_CODE, data=WalletV4R2.create_data_cell(public_key))
    wallet = address_of(wallet_init)
    chain.fund(wallet, 5 * TON)

    target_init = counter_state_init(5)
    target = address_of(target_init)
    transfer = WalletV4R2.create_wallet_internal_message(destination=target, value=TON // 10, state_init=target_init)
    body = WalletV4R2.raw_create_transfer_msg(private_key, seqno=0, wallet_id=698983191, messages=[transfer])
    wallet_tx, target_tx = chain.send_external(wallet, body, state_init=wallet_init)
    assert wallet_tx.in_external and wallet_tx.success and target_tx.address == target
    assert chain.account(wallet).status == "active"
    assert chain.run_get_method(wallet, "seqno") == [1]
    assert chain.run_get_method(target, "get_state") == [5, 0]

    # the same signed message again is a replay: the wallet refuses it (seqno moved on)
    with pytest.raises(ExternalNotAccepted):
        chain.send_external(wallet, body)

    forged = WalletV4R2.raw_create_transfer_msg(keypair(2)[1], seqno=1, wallet_id=698983191, messages=[transfer],
                                                valid_until=NOW + 60)
    with pytest.raises(ExternalNotAccepted):
        chain.send_external(wallet, forged)


def test_state_round_trips_through_plain_data(user):
    chain = Sandbox(now=NOW)
    chain.fund(user, TON)
    state_init = counter_state_init(6)
    contract = address_of(state_init)
    chain.send_internal(sender=user, to=contract, value=TON // 10, state_init=state_init)
    restored = Sandbox.from_state(chain.to_state())
    assert restored.account(contract) == chain.account(contract)
    restored.send_internal(sender=user, to=contract, value=TON // 10, body=op_body(1))
    assert restored.run_get_method(contract, "get_state") == [6, 1]
    assert restored.transactions(contract)[0].lt > chain.transactions(contract)[0].lt


def test_64_bit_logical_time_and_balances_are_not_truncated(user):
    # pytvm declares lt and the c7 balance as 32-bit; our bindings must carry the full 64 bits
    state = Sandbox(now=NOW).to_state()
    state["lt"] = 5 << 40
    chain = Sandbox.from_state(state)
    chain.fund(user, 100 * TON)
    state_init = counter_state_init(8)
    contract = address_of(state_init)
    (tx,) = chain.send_internal(sender=user, to=contract, value=50 * TON, state_init=state_init)
    assert tx.lt > 5 << 40
    balance = chain.account(contract).balance
    assert balance > 1 << 32
    assert chain.run_get_method(contract, "get_balance") == [balance]


def test_set_data_replaces_an_active_accounts_data_and_the_contract_runs_on_it(user):
    chain = Sandbox(now=NOW)
    chain.fund(user, 10 * TON)
    state_init = counter_state_init(7)
    contract = address_of(state_init)
    chain.send_internal(sender=user, to=contract, value=TON // 10, state_init=state_init)
    balance = chain.account(contract).balance
    chain.set_data(contract, begin_cell().store_uint(7, 32).store_uint(41, 32).end_cell())
    assert chain.run_get_method(contract, "get_state") == [7, 41]
    assert chain.account(contract).balance == balance
    chain.send_internal(sender=user, to=contract, value=TON // 10, body=op_body(1))
    assert chain.run_get_method(contract, "get_state") == [7, 42]
