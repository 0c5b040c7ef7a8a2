"""The oracle's keepers as a mutable role of its TonContract: diffed apart from code and init data (an update,
never a replace), set by the stack's admin key on localnet or as an order of the official multisig v2 (5 signers,
threshold 3, the deployer wallet a proposer). Everything on localnet, the real TVM."""
from __future__ import annotations

import os

import pytest
from pytoniq_core import Address
from pytoniq_core.crypto.keys import mnemonic_new

from chain.records import raw_address
from chain.sandbox import FAUCET_ADDRESS
from chain.wallets import WalletKey, WalletV4R2
from contracts.base import TON
from contracts.multisig import Multisig, MultisigConfig, MultisigOrder, order_address, order_code
from contracts.pricing_oracle import PricingOracle, PricingOracleConfig, init_data as oracle_init_data
from ton_deploy.contract import TonContractProvider
from ton_deploy.plan import AdminAccess, ContractRoles
from ton_deploy.roles import RolesRefused
from ton_deploy.multisig_orders import Watch, approve_order
from tests.providers.conftest import KEEPERS, engine_view, external_count

provider = TonContractProvider()
ROTATED = (KEEPERS[0], Address("0:" + "b3" * 32))


def wallet_of(words: str) -> Address:
    return WalletV4R2(None, WalletKey.from_mnemonic(words), os.devnull).address  # type: ignore[arg-type]


def oracle_props(inputs, admin: Address, keepers, admin_mnemonic: str | None = None) -> dict:
    data = oracle_init_data(PricingOracleConfig(admin=admin))
    props = inputs.contract("PricingOracle", "PricingOracle", data)
    roles = ContractRoles(tuple(sorted(raw_address(k) for k in keepers)))
    access = AdminAccess(raw_address(admin), "test", admin_mnemonic)
    return engine_view({**props, "roles": {"keepers": list(roles.keepers)},
                        "admin": {"address": access.address, "stack": access.stack}, "admin_mnemonic": admin_mnemonic})


def keepers(client, props) -> set[Address]:
    return set(PricingOracle(Address(props["address"])).get_keepers(client.run_get_method))


# ---- the stack holds the admin key (localnet) -----------------------------------------------------------

@pytest.fixture
def admin_words() -> str:
    return " ".join(mnemonic_new(24))


def test_keepers_are_set_at_create_then_rotated_by_an_update_at_the_same_address(inputs, client, admin_words):
    admin = wallet_of(admin_words)
    props = oracle_props(inputs, admin, KEEPERS, admin_words)
    created = provider.create(props).outs
    assert keepers(client, props) == set(KEEPERS)                     # the oracle deploys with none
    assert created["roles_applied"] == props["roles"] and created["roles_pending"] is None
    assert "admin_mnemonic" not in created and admin_words.split()[0] not in str(created)
    assert external_count(client, admin) == 1                        # both adds in one admin message

    rotated = oracle_props(inputs, admin, ROTATED, admin_words)
    diff = provider.diff(created["address"], created, rotated)
    assert diff.changes and diff.replaces == []                      # an update, never a replace
    updated = provider.update(created["address"], created, rotated).outs
    assert keepers(client, props) == set(ROTATED) and updated["address"] == created["address"]
    assert updated["roles_applied"] == rotated["roles"]
    assert external_count(client, admin) == 2                        # one replace_keeper
    assert not provider.diff(created["address"], updated, rotated).changes


def test_a_rotation_back_to_an_earlier_set_is_sent_again(inputs, client, admin_words):
    """A -> B -> A -> B: the third change is the same admin message as the first. The admin wallet's journal
    must not take it for the message already sent (it was, for another state of the oracle): it is sent again,
    once, and a rerun of the same update sends nothing."""
    admin = wallet_of(admin_words)
    first, second = oracle_props(inputs, admin, KEEPERS, admin_words), oracle_props(inputs, admin, ROTATED, admin_words)
    outs = provider.create(first).outs
    for wanted in (second, first, second):
        outs = provider.update(outs["address"], outs, wanted).outs
        assert keepers(client, wanted) == {Address(k) for k in wanted["roles"]["keepers"]}
    assert external_count(client, admin) == 4                        # the create's, then one per rotation
    provider.update(outs["address"], outs, second)
    assert external_count(client, admin) == 4


def test_refresh_reports_keepers_changed_behind_the_programs_back(inputs, client, admin_words):
    admin = wallet_of(admin_words)
    props = oracle_props(inputs, admin, KEEPERS, admin_words)
    created = provider.create(props).outs
    client.send_internal(sender=admin, to=Address(props["address"]), value=TON // 10,
                         body=PricingOracle.build_remove_keeper_body(KEEPERS[1]))
    read = provider.read(created["address"], created).outs
    assert read["roles_applied"] == {"keepers": [raw_address(KEEPERS[0])]}
    assert provider.diff(created["address"], read, props).changes       # the next up sets the stack's back
    provider.update(created["address"], read, props)
    assert keepers(client, props) == set(KEEPERS)


def test_an_admin_key_that_is_not_the_oracles_admin_sends_nothing(inputs, client, admin_words):
    admin = wallet_of(admin_words)
    props = oracle_props(inputs, admin, KEEPERS, admin_words)
    created = provider.create(props).outs
    other = " ".join(mnemonic_new(24))
    wrong = oracle_props(inputs, admin, ROTATED, other)
    with pytest.raises(RolesRefused, match="controls .* not the admin"):
        provider.update(created["address"], created, wrong)
    # the key is the configured admin's, but the oracle was deployed with another admin: the private run shows
    # the messages would be refused, so none is sent
    stranger = oracle_props(inputs, Address("0:" + "a9" * 32), KEEPERS, other)
    stranger["admin"]["address"] = raw_address(wallet_of(other))
    provider.create({**stranger, "roles": None})
    with pytest.raises(RolesRefused, match="run on a private copy first"):
        provider.update(stranger["address"], stranger, stranger)
    assert external_count(client, wallet_of(other)) == 0
    assert keepers(client, stranger) == set()


# ---- the admin is the multisig ---------------------------------------------------------------------------

@pytest.fixture
def multisig(client, mnemonic):
    """The official multisig v2, 3 of 5, with the deployer wallet as proposer; signers' words and the address."""
    client.publish_library(order_code())
    signers = [" ".join(mnemonic_new(24)) for _ in range(5)]
    for words in signers:
        client.fund(wallet_of(words), 5 * TON)
    state = Multisig.from_config(MultisigConfig(3, tuple(wallet_of(w) for w in signers), (wallet_of(mnemonic),)))
    address = Address((0, state.state_init.serialize().hash))
    client.send_internal(sender=FAUCET_ADDRESS, to=address, value=10 * TON, state_init=state.state_init, bounce=False)
    return address, signers


def approve(client, multisig_address, words, seqno, journal, oracle):
    wallet = WalletV4R2(client, WalletKey.from_mnemonic(words), journal)
    watch = Watch((oracle,), lambda run: {})
    return approve_order(client, wallet, multisig_address, watch, seqno, wait_seconds=10)[0]


def next_order(client, multisig_address) -> int:
    return Multisig(multisig_address).get_multisig_data(client.run_get_method).next_order_seqno


def test_a_multisig_admin_gets_one_order_per_change_and_the_update_completes_once_it_executed(
        inputs, client, multisig, tmp_path):
    address, signers = multisig
    props = oracle_props(inputs, address, KEEPERS)
    created = provider.create(props).outs
    oracle = Address(created["address"])
    pending = created["roles_pending"]
    assert pending["order"] == 0 and pending["approvals"] == 0 and pending["threshold"] == 3
    assert "python -m ops multisig approve --stack test 0" in pending["next"]
    assert created["roles_applied"] == {"keepers": []} and keepers(client, props) == set()
    assert provider.diff(created["address"], created, props).changes   # still to do: the next up tries again

    journal = str(tmp_path / "signers.json")
    for index in (0, 1):
        approve(client, address, signers[index], 0, journal, oracle)
        again = provider.update(created["address"], created, props).outs
        assert again["roles_pending"]["order"] == 0 and again["roles_pending"]["approvals"] == index + 1
        assert next_order(client, address) == 1 and keepers(client, props) == set()
    approve(client, address, signers[2], 0, journal, oracle)          # the third approval executes it
    assert keepers(client, props) == set(KEEPERS)
    done = provider.update(created["address"], created, props).outs
    assert done["roles_applied"] == props["roles"] and done["roles_pending"] is None
    assert next_order(client, address) == 1 and not provider.diff(created["address"], done, props).changes

    # a rotation: one order; an expired order is replaced by a fresh one, never approved
    rotated = oracle_props(inputs, address, ROTATED)
    first = provider.update(created["address"], done, rotated).outs["roles_pending"]
    assert first["order"] == 1 and next_order(client, address) == 2
    client.advance_time(8 * 86400)
    with pytest.raises(Exception, match="expired"):
        approve(client, address, signers[0], 1, journal, oracle)
    assert MultisigOrder(order_address(address, 1)).get_order_data(client.run_get_method).approvals_num == 0
    second = provider.update(created["address"], done, rotated).outs["roles_pending"]
    assert second["order"] == 2 and next_order(client, address) == 3


def test_a_deployer_that_is_not_a_proposer_reports_what_signers_must_run(inputs, client, multisig, tmp_path):
    address, signers = multisig
    state = Multisig.from_config(MultisigConfig(3, tuple(wallet_of(w) for w in signers)))  # no proposer
    other = Address((0, state.state_init.serialize().hash))
    client.send_internal(sender=FAUCET_ADDRESS, to=other, value=10 * TON, state_init=state.state_init, bounce=False)
    created = provider.create(oracle_props(inputs, other, KEEPERS)).outs
    pending = created["roles_pending"]
    assert pending["order"] is None and "is not a proposer of the multisig" in pending["next"]
    assert "python -m ops multisig new --stack test set-keepers" in pending["next"]
    assert next_order(client, other) == 0


def test_an_admin_that_is_neither_a_key_nor_a_multisig_is_told_what_to_send(inputs, client):
    props = oracle_props(inputs, Address("0:" + "a7" * 32), KEEPERS)
    created = provider.create(props).outs
    pending = created["roles_pending"]
    assert pending["order"] is None and "is not an active multisig v2 (nonexist)" in pending["next"]
    assert pending["next"].count("add_keeper(") == 2 and keepers(client, props) == set()
    assert provider.diff(created["address"], created, props).changes
