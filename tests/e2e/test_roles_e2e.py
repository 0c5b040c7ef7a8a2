"""Keeper rotation through the real engine on a throwaway copy of the `local` stack: an update of the same oracle,
never a replace.

1. The local admin key (tonsurance:adminMnemonic): a keeper change previews as one update and nothing else;
   up sends the admin message, the getters show the new set, every address is unchanged; a second up changes
   nothing; a keeper removed on chain behind the program's back shows at refresh and the next up puts it back.
2. The admin is the official multisig v2 (5 signers, threshold 3, the deployer wallet a proposer): the first up
   creates the order adding the keepers and reports it pending; after three approvals the next up completes;
   a keeper change creates one order; two approvals do not execute it, an up meanwhile creates no other, a
   non-signer's approval is refused; the third approval executes it; the next up completes with no new order.
"""
from __future__ import annotations

import json
import os

import pytest
from pytoniq_core import Address
from pytoniq_core.crypto.keys import mnemonic_new

from chain.sandbox import FAUCET_ADDRESS
from chain.wallets import Transfer, WalletKey, WalletV4R2
from contracts.base import TON
from contracts.multisig import Multisig, MultisigConfig, order_code
from contracts.pricing_oracle import PricingOracle
from ton_deploy.multisig_orders import OrderRefused, Watch, approve_order
from tests.e2e.harness import StackCopy
from tests.e2e.test_contracts_e2e import is_secret, plaintext_occurrences

pytestmark = pytest.mark.e2e

ADDRESS_OUTPUTS = ("pricing_oracle_address", "multi_tranche_vault_address", "policy_router_address",
                   "sure_token_addresses", "policy_shard_addresses")
NEW_KEEPER = Address("0:" + "5e" * 32).to_str(is_test_only=True)


def addresses(stack: StackCopy) -> dict:
    out = stack.outputs()
    return {name: out[name] for name in ADDRESS_OUTPUTS}


def keepers(stack: StackCopy) -> set[Address]:
    oracle = PricingOracle(Address(stack.outputs()["pricing_oracle_address"]))
    return set(oracle.get_keepers(stack.localnet().run_get_method))


def set_keepers(stack: StackCopy, values: list[str]) -> None:
    """The keeper addresses, and the local keepers' words kept only for the leading keepers that stay (a new
    keeper's key is not the stack's: config refuses words that are not the key of the address beside them)."""
    before = config_keepers(stack)
    words = json.loads(stack.stack.get_config("tonsurance:keeperMnemonics").value)
    kept = 0
    while kept < min(len(words), len(values), len(before)) and values[kept] == before[kept]:
        kept += 1
    stack.set_config("tonsurance:keeperMnemonics", json.dumps(words[:kept]), secret=True)
    stack.set_config("tonsurance:keeperAddresses", json.dumps(values))


def config_keepers(stack: StackCopy) -> list[str]:
    return json.loads(stack.stack.get_config("tonsurance:keeperAddresses").value)


def test_a_keeper_change_is_an_update_of_the_same_oracle(local_stack):
    stack = local_stack
    stack.stack.up(on_output=lambda _line: None)
    before = addresses(stack)
    assert keepers(stack) == {Address(k) for k in config_keepers(stack)}

    rotated = [config_keepers(stack)[0], NEW_KEEPER]
    set_keepers(stack, rotated)
    preview = stack.stack.preview(on_output=lambda _line: None)
    assert preview.change_summary.get("update") == 1, preview.change_summary
    assert set(preview.change_summary) <= {"update", "same"}, preview.change_summary   # no replace, no create

    stack.stack.up(on_output=lambda _line: None)
    assert keepers(stack) == {Address(k) for k in rotated}
    assert addresses(stack) == before
    stack.stack.up(expect_no_changes=True, on_output=lambda _line: None)

    admin_words = stack.stack.get_config("tonsurance:adminMnemonic").value   # a secret: in state only encrypted
    exported = stack.stack.export_stack().deployment
    oracle_state = next(r for r in exported["resources"] if r["urn"].endswith("contracts-pricing-oracle"))
    assert is_secret(oracle_state["inputs"]["admin_mnemonic"]) and "admin_mnemonic" not in oracle_state["outputs"]
    assert plaintext_occurrences(exported, admin_words) == 0 and admin_words not in stack.state_file_text()

    # behind the program's back: the admin removes a keeper on chain; refresh sees it, up puts it back
    chain = stack.localnet()
    admin = WalletV4R2(chain, WalletKey.from_mnemonic(admin_words), stack.work_dir / "by-hand.json")
    oracle = Address(before["pricing_oracle_address"])
    admin.send([Transfer(oracle, TON // 20, PricingOracle.build_remove_keeper_body(Address(NEW_KEEPER)))])
    lines: list[str] = []
    stack.stack.refresh(on_output=lines.append)
    assert any("roles changed on chain behind the program's back" in line for line in lines)
    stack.stack.up(on_output=lambda _line: None)
    assert keepers(stack) == {Address(k) for k in rotated}
    stack.stack.up(expect_no_changes=True, on_output=lambda _line: None)


def multisig_admin(stack: StackCopy) -> tuple[Address, list[str]]:
    """Deploy the official multisig v2 on the copy's localnet (3 of 5, the deployer wallet a proposer) and make
    it the stack's admin, with no admin key in the config."""
    chain = stack.localnet()
    chain.publish_library(order_code())
    deployer = WalletV4R2(None, WalletKey.from_mnemonic(stack.stack.get_config("tonsurance:deployerMnemonic").value),
                          os.devnull).address
    signers = [" ".join(mnemonic_new(24)) for _ in range(5)]
    signer_addresses = tuple(WalletV4R2(None, WalletKey.from_mnemonic(w), os.devnull).address for w in signers)
    for address in signer_addresses:
        chain.fund(address, 5 * TON)
    state = Multisig.from_config(MultisigConfig(3, signer_addresses, (deployer,))).state_init
    multisig = Address((0, state.serialize().hash))
    chain.send_internal(sender=FAUCET_ADDRESS, to=multisig, value=10 * TON, state_init=state, bounce=False)
    stack.stack.remove_config("tonsurance:adminMnemonic")
    stack.set_config("tonsurance:adminAddress", multisig.to_str(is_test_only=True))
    return multisig, signers


def approve(stack: StackCopy, multisig: Address, words: str, seqno: int):
    chain = stack.localnet()
    wallet = WalletV4R2(chain, WalletKey.from_mnemonic(words), stack.work_dir / "signers.json")
    oracle = Address(stack.outputs()["pricing_oracle_address"])
    return approve_order(chain, wallet, multisig, Watch((oracle,), lambda run: {}), seqno, wait_seconds=30)[0]


def orders(stack: StackCopy, multisig: Address) -> int:
    return Multisig(multisig).get_multisig_data(stack.localnet().run_get_method).next_order_seqno


def test_a_multisig_admin_gets_one_order_per_keeper_change(local_stack):
    stack = local_stack
    multisig, signers = multisig_admin(stack)
    stack.stack.up(on_output=lambda _line: None)
    pending = stack.outputs()["admin_order_pending"]
    assert pending["order"] == 0 and pending["approvals"] == 0 and keepers(stack) == set()
    for words in signers[:3]:
        approve(stack, multisig, words, 0)
    stack.stack.up(on_output=lambda _line: None)                   # completes the update: no new order
    assert stack.outputs().get("admin_order_pending") is None
    assert keepers(stack) == {Address(k) for k in config_keepers(stack)} and orders(stack, multisig) == 1
    before = addresses(stack)

    rotated = [config_keepers(stack)[0], NEW_KEEPER]
    set_keepers(stack, rotated)
    preview = stack.stack.preview(on_output=lambda _line: None)
    assert preview.change_summary.get("update") == 1 and set(preview.change_summary) <= {"update", "same"}
    stack.stack.up(on_output=lambda _line: None)
    assert stack.outputs()["admin_order_pending"]["order"] == 1 and orders(stack, multisig) == 2

    for words in signers[1:3]:
        approve(stack, multisig, words, 1)                           # two approvals: not executed
    assert Address(NEW_KEEPER) not in keepers(stack)
    stack.stack.up(on_output=lambda _line: None)                   # still pending: the same order, no other
    assert stack.outputs()["admin_order_pending"]["approvals"] == 2 and orders(stack, multisig) == 2
    outsider = " ".join(mnemonic_new(24))
    stack.localnet().fund(WalletV4R2(None, WalletKey.from_mnemonic(outsider), os.devnull).address, TON)
    with pytest.raises(OrderRefused, match="not a signer"):
        approve(stack, multisig, outsider, 1)

    approve(stack, multisig, signers[4], 1)                          # the third: executed
    assert keepers(stack) == {Address(k) for k in rotated}
    stack.stack.up(on_output=lambda _line: None)
    assert stack.outputs().get("admin_order_pending") is None and orders(stack, multisig) == 2
    assert addresses(stack) == before
    stack.stack.up(expect_no_changes=True, on_output=lambda _line: None)
