"""Mutable roles of a deployed contract (the oracle's keepers): diffed apart from code and init data, and set by
admin messages, so a change is an *update* of the same contract at the same address.

Resource inputs (TonContract): `roles` = {"keepers": [raw addresses, sorted]} (the set the stack wants; None for
contracts without mutable roles), `admin` = {"address", "stack"} and `admin_mnemonic` (the admin wallet's
words, a Pulumi secret, localnet only; None when the admin is a multisig). Outputs: `roles_applied`, what the getters showed after the last create, update or refresh, and
`roles_pending`, the multisig order signers still have to approve (None when nothing is pending).

How an update is carried out (after deploy too: the oracle starts with no keepers):
- an admin key the stack holds (`tonsurance:adminMnemonic`, localnet): the admin messages are run on a private
  copy of the oracle first and must give exactly the wanted set; then the admin wallet sends them through the
  journal and the update waits until the getters show the set;
- otherwise the admin is a multisig: the order for exactly this change is found open, or created from the
  deployer wallet (a proposer of the multisig) once it has been run to execution on a private copy; the update
  then reports it pending with what signers must do, and a later `pulumi up` completes once it executed. The
  order's content follows from the roles on chain and the wanted ones, so a re-run finds the same open order
  and never creates a second one.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import pulumi
from pytoniq_core import Address

from chain.client import ChainClient, ChainError
from chain.records import raw_address
from chain.wallets import Transfer, WalletKey, WalletV4R2
from contracts.admin_actions import decode_body, keeper_messages
from contracts.base import TON
from contracts.multisig import MULTISIG_V2_CODE_HASH, Multisig, OrderMessage, SentMessageAction, order_cell, parse_order
from contracts.pricing_oracle import PricingOracle
from ton_deploy.multisig_orders import (
    DEFAULT_EXPIRY_SECONDS, OrderRefused, Watch, create_order, find_open_order, private_copy, read_orders,
)
from ton_deploy.sending import ensure_funds   # the faucet tops up on localnet; elsewhere: refused

V4R2_BATCH = 4                                  # transfers per wallet v4r2 message
ORDER_FUNDS = TON // 5                          # what the deployer needs for new_order (0.07 TON measured) and fees


class RolesRefused(ChainError):
    """Nothing was sent: the admin messages would not set the wanted roles, or no one here may send them."""


def read_roles(client: ChainClient, address: Address) -> dict[str, list[str]]:
    """The roles on chain, in the inputs' form."""
    return {"keepers": sorted(raw_address(k) for k in PricingOracle(address).get_keepers(client.run_get_method))}


def role_messages(address: Address, current: dict[str, list[str]], wanted: dict[str, list[str]]) -> list[OrderMessage]:
    """The admin messages that take the roles from `current` to `wanted` (deterministic: the same pair gives the
    same messages, so the same multisig order)."""
    return keeper_messages(address, [Address(k) for k in current["keepers"]], [Address(k) for k in wanted["keepers"]])


def roles_changed(olds: dict[str, Any], news: dict[str, Any]) -> bool:
    """Whether the wanted roles differ from what the chain showed last (a pending order keeps them different)."""
    applied = olds.get("roles_applied") if olds.get("roles_applied") is not None else olds.get("roles")
    return news.get("roles") is not None and news.get("roles") != applied


def _friendly(network: str) -> Callable[[Address], str]:
    return lambda a: a.to_str(is_user_friendly=True, is_bounceable=True, is_test_only=network != "mainnet")


def _observe(address: Address) -> Callable[[Any], dict[str, str]]:
    return lambda run: {"keepers": ",".join(sorted(raw_address(k) for k in PricingOracle(address).get_keepers(run)))}


def apply_roles(client: ChainClient, props: dict[str, Any], deployer: Callable[[], WalletKey], journal: str,
                wait_seconds: float) -> dict[str, Any]:
    """Bring the contract's roles to `props["roles"]`: the outputs `roles_applied` and `roles_pending`."""
    address, wanted = Address(props["address"]), props["roles"]
    current = read_roles(client, address)
    if current == wanted:
        return {"roles_applied": current, "roles_pending": None}
    messages = role_messages(address, current, wanted)
    admin = props["admin"]
    if props.get("admin_mnemonic"):
        _send_as_admin(client, address, WalletKey.from_mnemonic(props["admin_mnemonic"]), Address(admin["address"]),
                       messages, wanted, journal, wait_seconds)
        return {"roles_applied": read_roles(client, address), "roles_pending": None}
    return _order_through_multisig(client, address, props, current, messages, deployer, journal, wait_seconds)


def _send_as_admin(client: ChainClient, address: Address, key: WalletKey, admin: Address,
                   messages: list[OrderMessage], wanted: dict[str, list[str]], journal: str, wait_seconds: float) -> None:
    wallet = WalletV4R2(client, key, journal)
    if wallet.address != admin:
        raise RolesRefused(f"tonsurance:adminMnemonic controls {raw_address(wallet.address)}, not the admin "
                           f"{raw_address(admin)}: no admin message was sent")
    # The effect first, on a private copy of the contract: the messages from the admin must give the wanted set.
    sandbox = private_copy(client, [address])
    for message in messages:
        sandbox.send_internal(sender=admin, to=message.destination, value=message.value, body=message.body)
    if read_roles(sandbox, address) != wanted:
        raise RolesRefused(f"the admin messages for {raw_address(address)}, run on a private copy first, would give "
                           f"{read_roles(sandbox, address)} instead of {wanted}: nothing was sent")
    transfers = [Transfer(m.destination, m.value, m.body) for m in messages]
    # The journal's intent is this change from the oracle's present state (its last transaction): a rerun after a
    # crash finds its message in flight (same state, same intent), while the same messages wanted again later
    # (keepers A -> B -> A -> B, or a new chain) are a new intent, not the one sent before.
    state = client.account(address)
    for first in range(0, len(transfers), V4R2_BATCH):
        batch = transfers[first:first + V4R2_BATCH]
        ensure_funds(client, wallet, batch)
        wallet.send(batch, intent_id=f"roles:{raw_address(address)}:{state.last_tx_lt}:{state.last_tx_hash}:{first}",
                    wait_seconds=wait_seconds)
    _wait_for_roles(client, address, wanted, wait_seconds)
    pulumi.log.info(f"roles of {raw_address(address)} set by {len(messages)} admin message(s): {wanted}")


def _order_through_multisig(client: ChainClient, address: Address, props: dict[str, Any],
                            current: dict[str, list[str]], messages: list[OrderMessage],
                            deployer: Callable[[], WalletKey], journal: str, wait_seconds: float) -> dict[str, Any]:
    admin, wanted = props["admin"], props["roles"]
    multisig = Address(admin["address"])
    fmt = _friendly(props["chain"]["network"])
    info = client.account(multisig)
    if info.status != "active" or info.code_hash != MULTISIG_V2_CODE_HASH:
        # Nobody here can send them: say exactly what the admin must send, and try again on the next up.
        sends = "; ".join(f"{decode_body(m.body).name}({', '.join(fmt(v) for v in decode_body(m.body).fields.values() if isinstance(v, Address))})"
                          for m in messages)
        pending = {"multisig": None, "order": None, "change": {"from": current, "to": wanted},
                   "next": f"the admin {fmt(multisig)} is not an active multisig v2 ({info.status}) and this stack "
                           f"holds no key for it, so the admin must send to {fmt(address)}: {sends} (0.05 TON each); "
                           "on localnet set tonsurance:adminMnemonic to the admin's words instead"}
        pulumi.log.warn(f"keepers of {fmt(address)} pending: {pending['next']}")
        return {"roles_applied": current, "roles_pending": pending}
    watch = Watch((address,), _observe(address), fmt)
    expected = {"keepers": ",".join(wanted["keepers"])}
    stack = admin.get("stack") or "<stack>"
    data = Multisig(multisig).get_multisig_data(client.run_get_method)
    wallet = WalletV4R2(client, deployer(), journal)
    order = find_open_order(client, multisig, data, order_cell(messages))
    if order is None:
        try:
            ensure_funds(client, wallet, [Transfer(multisig, ORDER_FUNDS)])
            order = create_order(client, wallet, multisig, watch, messages, expected,
                                 expires_in=DEFAULT_EXPIRY_SECONDS, wait_seconds=wait_seconds).order
        except OrderRefused as refused:
            if "neither a signer nor a proposer" not in str(refused):
                raise
            keepers = ",".join(fmt(Address(k)) for k in wanted["keepers"])
            pending = {"multisig": fmt(multisig), "order": None, "change": {"from": current, "to": wanted},
                       "next": f"the deployer wallet {fmt(wallet.address)} is not a proposer of the multisig, so a "
                               f"signer creates the order: python -m ops multisig new --stack {stack} set-keepers "
                               f"{keepers} --key-file <signer key>, then signers approve it; run `pulumi up` after"}
            pulumi.log.warn(f"keepers of {fmt(address)} pending: {pending['next']}")
            return {"roles_applied": current, "roles_pending": pending}
    _warn_other_orders(client, multisig, data, address, order.seqno, fmt)
    pending = {"multisig": fmt(multisig), "order": order.seqno, "order_address": fmt(order.address),
               "approvals": order.approvals, "threshold": order.data.threshold,
               "expires_at": order.data.expiration, "change": {"from": current, "to": wanted},
               "next": f"signers read and approve it: python -m ops multisig show --stack {stack} {order.seqno}; "
                       f"python -m ops multisig approve --stack {stack} {order.seqno} --key-file <signer key>; "
                       "at the threshold it executes, and the next `pulumi up` completes this update"}
    pulumi.log.warn(f"keepers of {fmt(address)}: multisig order #{order.seqno} pending ({order.approvals} of "
                    f"{order.data.threshold} approvals): {pending['next']}")
    return {"roles_applied": current, "roles_pending": pending}


def _warn_other_orders(client, multisig, data, address: Address, seqno: int, fmt) -> None:
    """Open orders for this contract's keepers other than ours would undo the change if executed: say so."""
    for view in read_orders(client, multisig, data):
        if view.state == "open" and view.seqno != seqno and any(
                isinstance(a, SentMessageAction) and a.destination == address for a in parse_order(view.data.order)):
            pulumi.log.warn(f"multisig order #{view.seqno} also sends to {fmt(address)} and is still open: it was "
                            f"made for an earlier change; signers must not approve it (order #{seqno} is current)")


def _wait_for_roles(client: ChainClient, address: Address, wanted: dict[str, list[str]], wait_seconds: float) -> None:
    deadline = time.monotonic() + wait_seconds
    while (found := read_roles(client, address)) != wanted:
        if time.monotonic() >= deadline:
            raise ChainError(f"the roles of {raw_address(address)} are {found} after the admin messages landed, "
                             f"not {wanted}; run the update again")
        time.sleep(client.settings.poll_interval_seconds)
