"""Multisig orders on a chain: find them, rehearse them on a private TVM, create and approve them.

Used by `python -m ops multisig` (ops/multisig.py) and by the oracle's resource when the admin is a multisig
(its keepers, ton_deploy/roles.py). Money rules:
- nothing is sent before the whole order has run on a private copy of the chain: the multisig, the order, the
  order library and the contracts it touches, copied with their current code, data and balance; the
  creation (or this approval), the remaining approvals up to the threshold, the multisig's execution and every
  message it sends, with the getters read before and after. A failure there, or an effect other than the
  expected one, refuses the send;
- one order per change: before creating, the open orders (not executed, not expired, same signers) are read
  and an order with exactly this content is returned instead; `new_order` names the multisig's next seqno, so a
  second message for the same seqno (a retry, another machine) fails on chain instead of making a second order;
- wallets send through the journal (chain/wallets.py): a re-run converges on the recorded message.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from pytoniq_core import Address, Cell

from chain.client import ChainClient, ChainError
from chain.records import TxRecord, raw_address
from chain.sandbox import Sandbox
from chain.wallets import JournaledWallet, Superseded, Transfer
from contracts.admin_actions import Contracts, observe_roles
from contracts.base import TON, RunGetMethod
from contracts.multisig import (
    Multisig, MultisigData, MultisigOrder, Op, OrderData, OrderMessage, build_approve_body, build_new_order_body,
    order_address, order_cell, order_code,
)

ORDER_SCAN = 256                  # orders read back from the newest: an open order is never older than this
DAY = 86400
DEFAULT_EXPIRY_SECONDS = 7 * DAY
MAX_EXPIRY_SECONDS = 30 * DAY
NEW_ORDER_MARGIN = TON // 20      # above the multisig's own estimate; the order returns what it does not use
APPROVE_VALUE = TON // 20         # with each approval; the order sends back what it does not use
SUPERSEDED_READS = 3

Formatter = Callable[[Address], str]


class OrderRefused(ChainError):
    """Nothing was sent: the order or approval would not do what it should, or may not be sent by this key."""


@dataclass(frozen=True)
class OrderView:
    seqno: int
    address: Address
    state: str                    # open | executed | expired | outdated (other signers now) | uninitialised
    data: OrderData | None

    @property
    def approvals(self) -> int:
        return self.data.approvals_num if self.data else 0


def order_state(data: OrderData, multisig: MultisigData, now: int) -> str:
    if data.threshold is None:
        return "uninitialised"
    if data.executed:
        return "executed"
    if now > data.expiration:
        return "expired"
    if data.signers != multisig.signers:
        return "outdated"
    return "open"


def read_order(client: ChainClient, multisig: Address, data: MultisigData, seqno: int) -> OrderView | None:
    address = order_address(multisig, seqno)
    if client.account(address).status != "active":
        return None
    order = MultisigOrder(address).get_order_data(client.run_get_method)
    return OrderView(seqno, address, order_state(order, data, client.now()), order)


def read_orders(client: ChainClient, multisig: Address, data: MultisigData, scan: int = ORDER_SCAN) -> list[OrderView]:
    """The multisig's orders, newest first, back `scan` seqnos."""
    views = (read_order(client, multisig, data, seqno)
             for seqno in range(data.next_order_seqno - 1, max(0, data.next_order_seqno - scan) - 1, -1))
    return [view for view in views if view is not None]


def find_open_order(client: ChainClient, multisig: Address, data: MultisigData, order: Cell) -> OrderView | None:
    """The open order with exactly this content, if any."""
    return next((v for v in read_orders(client, multisig, data)
                 if v.state == "open" and v.data.order is not None and v.data.order.hash == order.hash), None)


# ---- rehearsal on a private TVM --------------------------------------------------------------------------

@dataclass(frozen=True)
class Rehearsal:
    """What an order does when it runs to execution, computed on a private copy of the chain."""
    executed: bool                # the multisig executed it (threshold reached, not expired, signers current)
    approvals_added: int          # approvals sent in the rehearsal (this one first)
    before: dict[str, str]        # role getters on the chain now
    after: dict[str, str]         # the same getters once the order ran
    failures: list[str] = field(default_factory=list)   # transactions that failed on the way

    @property
    def changes(self) -> dict[str, tuple[str, str]]:
        return {k: (self.before.get(k, "?"), v) for k, v in self.after.items() if self.before.get(k) != v}

    def mismatches(self, expected: dict[str, str]) -> dict[str, tuple[str, str]]:
        """Expected role values the order does not produce: key -> (expected, got)."""
        return {k: (want, self.after.get(k, "?")) for k, want in expected.items() if self.after.get(k) != want}


def private_copy(client: ChainClient, addresses: Sequence[Address]) -> Sandbox:
    """A private chain holding the order library and copies of these accounts (code, data, balance) as they are."""
    sandbox = Sandbox(now=client.now())
    sandbox.publish_library(order_code())
    for address in dict.fromkeys(addresses):
        info = client.account(address)
        if info.status == "active":
            sandbox.install_account(address, info.code, info.data, info.balance)
    return sandbox


def _failures(records: list[TxRecord], watched: Sequence[Address], fmt: Formatter) -> list[str]:
    """Failed transactions of the multisig, the order and the contracts (replies to wallets do not matter)."""
    return [f"transaction on {fmt(r.address)} failed (exit code {r.exit_code})"
            for r in records if r.address in watched and not r.success and not r.in_bounced]


@dataclass(frozen=True)
class Watch:
    """What an order touches: the contracts to copy and watch, and how to read their role getters as text."""
    contracts: tuple[Address, ...]
    observe: Callable[[RunGetMethod], dict[str, str]]
    fmt: Formatter = lambda a: a.to_str()

    @classmethod
    def stack(cls, contracts: Contracts, mentioned: Sequence[Address] = (),
              fmt: Formatter = lambda a: a.to_str()) -> "Watch":
        """Oracle, vault and router with every role getter (and whether each mentioned address is a keeper)."""
        return cls((contracts.oracle, contracts.vault, contracts.router),
                   lambda run: observe_roles(contracts, run, mentioned, fmt), fmt)


def rehearse(client: ChainClient, multisig: Address, order: Cell, seqno: int, watch: Watch, *,
             creator: tuple[Address, bool, int] | None, approver: tuple[int, Address] | None,
             expiration: int | None = None) -> Rehearsal:
    """Run an order to its end on a private copy: `creator` (address, is signer, index) sends new_order for
    `seqno` (None: the order exists already), then `approver` (index, address) approves, then the other signers
    in index order until the multisig executes it (or nothing more can happen)."""
    targets, fmt = list(watch.contracts), watch.fmt
    sandbox = private_copy(client, [multisig, order_address(multisig, seqno), *targets])
    run = sandbox.run_get_method
    before = watch.observe(client.run_get_method)
    wallet = Multisig(multisig)
    records: list[TxRecord] = []
    if creator is not None:
        address, signer, index = creator
        value = wallet.get_order_estimate(run, order, expiration) + NEW_ORDER_MARGIN
        records += sandbox.send_internal(sender=address, to=multisig, value=value,
                                         body=build_new_order_body(order, expiration, seqno=seqno, signer=signer,
                                                                   index=index))
    signers = wallet.get_multisig_data(run).signers
    order_wallet = MultisigOrder(order_address(multisig, seqno))
    approvals = 0
    queue = ([approver] if approver else []) + list(enumerate(signers))
    for index, signer_address in queue:
        if sandbox.account(order_wallet.address).status != "active":
            break
        data = order_wallet.get_order_data(run)
        if data.threshold is None or data.executed:
            break
        if data.approvals_mask >> index & 1:
            continue
        records += sandbox.send_internal(sender=signer_address, to=order_wallet.address, value=APPROVE_VALUE,
                                         body=build_approve_body(index))
        if not order_wallet.get_order_data(run).approvals_mask >> index & 1:
            break   # refused (expired, executed): nothing more can happen
        approvals += 1
    executed = any(r.address == multisig and r.success and _op(r.in_body) == Op.EXECUTE for r in records)
    failures = _failures(records, [multisig, order_wallet.address, *targets], fmt)
    return Rehearsal(executed, approvals, before, watch.observe(run), failures)


def _op(body: Cell) -> int | None:
    s = body.begin_parse()
    return s.load_uint(32) if s.remaining_bits >= 32 else None


def require_effect(rehearsal: Rehearsal, expected: dict[str, str], what: str) -> None:
    """Refuse unless the rehearsed order executed, with no failed transaction and the expected effect."""
    problems = list(rehearsal.failures)
    if not rehearsal.executed:
        problems.append("the multisig did not execute it (is its balance enough for the messages?)")
    problems += [f"{key}: expected {want}, would be {got}" for key, (want, got) in rehearsal.mismatches(expected).items()]
    if problems:
        raise OrderRefused(f"{what}: run on a private copy of the chain first, it would not have the intended "
                           f"effect, so nothing was sent: " + "; ".join(problems))


# ---- creating and approving ------------------------------------------------------------------------------

def creator_index(data: MultisigData, address: Address) -> tuple[bool, int]:
    """(is signer, index) of the sender of a new order: a signer (its creation is its approval) or a proposer."""
    if (index := data.signer_index(address)) is not None:
        return True, index
    if (index := data.proposer_index(address)) is not None:
        return False, index
    raise OrderRefused(f"{raw_address(address)} is neither a signer nor a proposer of the multisig: it may not "
                       "create orders")


@dataclass(frozen=True)
class Created:
    order: OrderView
    created: bool                 # False: an open order with exactly this content was there already
    rehearsal: Rehearsal | None


def create_order(client: ChainClient, wallet: JournaledWallet, multisig: Address, watch: Watch,
                 messages: Sequence[OrderMessage], expected: dict[str, str], *, expires_in: int,
                 wait_seconds: float = 120.0) -> Created:
    """The open order for these messages: found, or created by `wallet` (a signer or proposer) once rehearsed."""
    if not 60 <= expires_in <= MAX_EXPIRY_SECONDS:
        raise OrderRefused(f"an order's lifetime must be 60 s to {MAX_EXPIRY_SECONDS // DAY} days, not {expires_in} s")
    order = order_cell(messages)
    ms = Multisig(multisig)
    for _ in range(SUPERSEDED_READS):
        wallet.settle_open()   # an earlier new_order that landed meanwhile is found below, not sent again
        data = ms.get_multisig_data(client.run_get_method)
        existing = find_open_order(client, multisig, data, order)
        if existing is not None:
            return Created(existing, False, None)
        signer, index = creator_index(data, wallet.address)
        seqno, expiration = data.next_order_seqno, client.now() + expires_in
        rehearsal = rehearse(client, multisig, order, seqno, watch, creator=(wallet.address, signer, index),
                             approver=None, expiration=expiration)
        require_effect(rehearsal, expected, f"order #{seqno}")
        value = ms.get_order_estimate(client.run_get_method, order, expiration) + NEW_ORDER_MARGIN
        body = build_new_order_body(order, expiration, seqno=seqno, signer=signer, index=index)
        try:
            wallet.send([Transfer(multisig, value, body)], wait_seconds=wait_seconds)
        except Superseded:
            continue
        view = _wait_for_order(client, multisig, seqno, lambda v: v.data.threshold is not None, wait_seconds)
        if view.data.order is None or view.data.order.hash != order.hash:
            raise ChainError(f"order #{seqno} of multisig {watch.fmt(multisig)} holds other actions than the ones sent: "
                             "another order took this seqno first; run again")
        return Created(view, True, rehearsal)
    raise ChainError("earlier messages of this wallet kept landing while the order waited; run again")


def approve_order(client: ChainClient, wallet: JournaledWallet, multisig: Address, watch: Watch, seqno: int,
                  *, wait_seconds: float = 120.0) -> tuple[OrderView, Rehearsal]:
    """Approve order `seqno` with `wallet` (a signer) once the approval and the rest of the order are rehearsed."""
    data = Multisig(multisig).get_multisig_data(client.run_get_method)
    view = read_order(client, multisig, data, seqno)
    index = require_approvable(view, data, wallet.address, seqno, watch.fmt)
    rehearsal = rehearse(client, multisig, view.data.order, seqno, watch, creator=None,
                         approver=(index, wallet.address))
    problems = rehearsal.failures + ([] if rehearsal.approvals_added else ["the order refused the approval"])
    if problems:
        raise OrderRefused(f"approval of order #{seqno}: run on a private copy of the chain first, it fails, so "
                           "nothing was sent: " + "; ".join(problems))
    wallet.send([Transfer(view.address, APPROVE_VALUE, build_approve_body(index))], wait_seconds=wait_seconds)
    after = _wait_for_order(client, multisig, seqno,
                            lambda v: v.data.approvals_mask >> index & 1 or v.state != "open", wait_seconds)
    return after, rehearsal


def require_approvable(view: OrderView | None, data: MultisigData, signer: Address, seqno: int,
                       fmt: Formatter) -> int:
    """The signer's index, or OrderRefused saying why this approval cannot count."""
    if view is None:
        raise OrderRefused(f"order #{seqno} does not exist (the multisig's next order is #{data.next_order_seqno})")
    if view.state != "open":
        raise OrderRefused(f"order #{seqno} is {view.state}: it can no longer be approved"
                           + (" (create a new one)" if view.state in ("expired", "outdated") else ""))
    index = data.signer_index(signer)
    if index is None:
        raise OrderRefused(f"{fmt(signer)} is not a signer of the multisig: its approval would be refused")
    if view.data.approvals_mask >> index & 1:
        raise OrderRefused(f"signer {index} ({fmt(signer)}) has already approved order #{seqno}")
    return index


def _wait_for_order(client: ChainClient, multisig: Address, seqno: int, done: Callable[[OrderView], bool],
                    wait_seconds: float) -> OrderView:
    deadline = time.monotonic() + wait_seconds
    while True:
        data = Multisig(multisig).get_multisig_data(client.run_get_method)
        view = read_order(client, multisig, data, seqno)
        if view is not None and view.data.threshold is not None and done(view):
            return view
        if time.monotonic() >= deadline:
            raise ChainError(f"order #{seqno} at {raw_address(order_address(multisig, seqno))} did not reach the "
                             f"expected state within {wait_seconds:.0f} s (now: {view.state if view else 'absent'}); "
                             "run `python -m ops multisig list` to see where it stands")
        time.sleep(client.settings.poll_interval_seconds)
