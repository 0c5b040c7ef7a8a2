"""The TON multisig v2 (ton-blockchain/multisig-contract-v2), the admin of every contract on mainnet, and its
orders: messages, getters and the order layout, offline.

Code: the official build of commit 036f3af611797192b8392ba42b6fbb5dd5efdc5f, copied into
contracts/vendor/multisig_v2.json and refused unless the Multisig code hashes to MULTISIG_V2_CODE_HASH (the
published hash preflight checks on chain) and the Order code is the library that Multisig code references
(the multisig deploys each order with a library cell as its code: on the real networks the order code is a
masterchain library; localnet publishes it with `publish_library`).

Flow: a signer or proposer sends `new_order(seqno, expiry, order)` to the multisig, which deploys the order
contract for that seqno (a signer's new order counts as its approval); signers send `approve(index)` to the
order; at the threshold the order sends `execute` to the multisig, which checks that it came from that
order, that the signer set is still the order's and that it has not expired, and sends the order's messages.

Layouts (multisig.tlb of that repository):
  multisig data  next_order_seqno:uint256 threshold:uint8 signers:^(Hashmap 8 MsgAddressInt) signers_num:uint8
                 proposers:(HashmapE 8 MsgAddressInt) allow_arbitrary_order_seqno:Bool
  order          Hashmap 8 ^Action;  send_message#f1381e5b mode:uint8 message:^MessageRelaxed
                                     update_multisig_param#1d0cfbd3 threshold:uint8 signers:^(Hashmap 8 ..) proposers:HashmapE
  order data     multisig:MsgAddress order_seqno:uint256 threshold:uint8 sent_for_execution:Bool
                 signers:^(Hashmap 8 ..) approvals_mask:uint256 approvals_num:uint8 expiration_date:uint48 order:^Order
"""
from __future__ import annotations

import base64
import functools
import json
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Sequence

from pytoniq_core import Address, Cell, HashMap, Slice, StateInit, begin_cell
from pytoniq_core.tlb.transaction import CurrencyCollection, InternalMsgInfo, MessageAny

from contracts.base import ArtifactError, ContractWrapper, Deployment, RunGetMethod, deployment

MULTISIG_V2_CODE_HASH = "77cd68912cd5e23ecf749d92282f924da209a7e738a11746b376c7baf1b92e83"  # pragma: allowlist secret (a public code hash)
VENDOR_FILE = Path(__file__).parent / "vendor" / "multisig_v2.json"
MAX_ORDER_SEQNO = (1 << 256) - 1   # new_order with this seqno takes the next one
LIBRARY_CELL = 2                   # exotic cell type of a library reference
SEND_MODE_PAY_FEES_SEPARATELY = 1


class Op(IntEnum):
    NEW_ORDER = 0xF718510F
    EXECUTE = 0x75097F5D
    EXECUTE_INTERNAL = 0xA32C59BF
    INIT = 0x9C73FBA2
    APPROVE = 0xA762230F
    APPROVE_ACCEPTED = 0x82609BF6
    APPROVE_REJECTED = 0xAFAF283E


class ActionOp(IntEnum):
    SEND_MESSAGE = 0xF1381E5B
    UPDATE_MULTISIG_PARAMS = 0x1D0CFBD3


class MultisigExit(IntEnum):
    """errors.func of multisig-contract-v2."""
    NOT_ENOUGH_TON = 100
    UNAUTHORIZED_EXECUTE = 101
    SIGNERS_OUTDATED = 102
    INVALID_DICTIONARY_SEQUENCE = 103
    UNAUTHORIZED_INIT = 104
    ALREADY_INITED = 105
    UNAUTHORIZED_SIGN = 106
    ALREADY_APPROVED = 107
    INCONSISTENT_DATA = 108
    INVALID_THRESHOLD = 109
    INVALID_SIGNERS = 110
    EXPIRED = 111
    ALREADY_EXECUTED = 112
    UNAUTHORIZED_NEW_ORDER = 1007
    INVALID_NEW_ORDER = 1008


# ---- the official code, verified ------------------------------------------------------------------------

def _library_hashes(cell: Cell) -> set[str]:
    """Hashes of the libraries a code tree references (its library cells)."""
    found = {cell.bits.tobytes()[1:].hex()} if cell.type_ == LIBRARY_CELL else set()
    for ref in cell.refs:
        found |= _library_hashes(ref)
    return found


@functools.cache
def _vendored() -> dict[str, Cell]:
    try:
        contracts = json.loads(VENDOR_FILE.read_text())["contracts"]
    except (FileNotFoundError, KeyError, ValueError) as error:
        raise ArtifactError(f"{VENDOR_FILE} is missing or malformed ({error})") from None
    cells = {name: Cell.one_from_boc(base64.b64decode(item["codeBoc"])) for name, item in contracts.items()}
    multisig, order = cells.get("Multisig"), cells.get("Order")
    if multisig is None or multisig.hash.hex() != MULTISIG_V2_CODE_HASH:
        raise ArtifactError(f"{VENDOR_FILE}: the Multisig code does not hash to the official multisig v2 "
                            f"({MULTISIG_V2_CODE_HASH}); refusing it")
    if order is None or _library_hashes(multisig) != {order.hash.hex()}:
        raise ArtifactError(f"{VENDOR_FILE}: the Order code is not the library the official Multisig code "
                            "references; refusing it")
    return {"Multisig": multisig, "Order": order}


def multisig_code() -> Cell:
    return _vendored()["Multisig"]


def order_code() -> Cell:
    """The order contract's code: the masterchain library the multisig code references."""
    return _vendored()["Order"]


def library_reference(code: Cell) -> Cell:
    """The library cell standing for `code` (what the multisig puts in each order's StateInit)."""
    return Cell(begin_cell().store_uint(LIBRARY_CELL, 8).store_bytes(code.hash).end_cell().bits, [], LIBRARY_CELL)


# ---- the multisig's own data ----------------------------------------------------------------------------

def _address_dict(addresses: Sequence[Address]) -> Cell | None:
    table = HashMap(8, value_serializer=lambda address, builder: builder.store_address(address))
    for index, address in enumerate(addresses):
        table.set_int_key(index, address)
    return table.serialize() if addresses else None


def _addresses(item) -> tuple[Address, ...]:
    """A dictionary uint8 -> address (a cell, or null for an empty one), in index order."""
    if not isinstance(item, Cell):
        return ()
    parsed = HashMap.parse(item.begin_parse(), 8, value_deserializer=lambda s: s.load_address())
    return tuple(parsed[i] for i in sorted(parsed))


@dataclass(frozen=True)
class MultisigConfig:
    """A new multisig (localnet stacks and tests; the real ones exist before the stack)."""
    threshold: int
    signers: tuple[Address, ...]
    proposers: tuple[Address, ...] = ()

    def __post_init__(self) -> None:
        if not 1 <= self.threshold <= len(self.signers) <= 255:
            raise ValueError(f"a multisig needs 1 <= threshold ({self.threshold}) <= signers ({len(self.signers)})")


def init_data(cfg: MultisigConfig) -> Cell:
    return (begin_cell().store_uint(0, 256).store_uint(cfg.threshold, 8).store_ref(_address_dict(cfg.signers))
            .store_uint(len(cfg.signers), 8).store_dict(_address_dict(cfg.proposers)).store_bit(0).end_cell())


@dataclass(frozen=True)
class MultisigData:
    next_order_seqno: int
    threshold: int
    signers: tuple[Address, ...]
    proposers: tuple[Address, ...]

    @property
    def signers_hash(self) -> str:
        """The hash an order's signer set must have for the multisig to execute it."""
        return _address_dict(self.signers).hash.hex()

    def signer_index(self, address: Address) -> int | None:
        return self.signers.index(address) if address in self.signers else None

    def proposer_index(self, address: Address) -> int | None:
        return self.proposers.index(address) if address in self.proposers else None


# ---- orders ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OrderMessage:
    """One internal message an order makes the multisig send."""
    destination: Address
    value: int                      # nanotons, paid from the multisig's balance
    body: Cell
    mode: int = SEND_MODE_PAY_FEES_SEPARATELY
    bounce: bool = True

    @property
    def message(self) -> Cell:
        info = InternalMsgInfo(ihr_disabled=True, bounce=self.bounce, bounced=False, src=None, dest=self.destination,
                               value=CurrencyCollection(self.value), ihr_fee=0, fwd_fee=0, created_lt=0, created_at=0)
        return MessageAny(info, None, self.body).serialize()


def order_cell(messages: Sequence[OrderMessage]) -> Cell:
    """The order: its actions in the order the multisig executes them. The same messages give the same cell
    (every body we build has query id 0), which is how an open order for the same change is recognised."""
    if not 1 <= len(messages) <= 255:
        raise ValueError("an order holds 1 to 255 messages")
    table = HashMap(8, value_serializer=lambda action, builder: builder.store_ref(action))
    for index, message in enumerate(messages):
        table.set_int_key(index, begin_cell().store_uint(ActionOp.SEND_MESSAGE, 32).store_uint(message.mode, 8)
                          .store_ref(message.message).end_cell())
    return table.serialize()


@dataclass(frozen=True)
class SentMessageAction:
    mode: int
    destination: Address | None
    value: int
    bounce: bool
    body: Cell
    has_state_init: bool


@dataclass(frozen=True)
class UpdateParamsAction:
    threshold: int
    signers: tuple[Address, ...]
    proposers: tuple[Address, ...]


@dataclass(frozen=True)
class UnknownAction:
    op: int | None
    reason: str


OrderAction = SentMessageAction | UpdateParamsAction | UnknownAction


def parse_order(order: Cell) -> list[OrderAction]:
    """Every action of an order, in execution order; what cannot be parsed is an UnknownAction, never skipped."""
    try:
        actions = HashMap.parse(order.begin_parse(), 8, value_deserializer=lambda s: s.load_ref())
    except Exception as error:  # noqa: BLE001 - any malformed order is reported as such
        return [UnknownAction(None, f"the order is not a dictionary of actions ({type(error).__name__})")]
    return [_parse_action(actions[i]) for i in sorted(actions)]


def _parse_action(cell: Cell) -> OrderAction:
    s = cell.begin_parse()
    try:
        op = s.load_uint(32)
        if op == ActionOp.SEND_MESSAGE:
            mode = s.load_uint(8)
            message = MessageAny.deserialize(s.load_ref().begin_parse())
            info = message.info
            if not isinstance(info, InternalMsgInfo):
                return UnknownAction(op, "send_message with an external message")
            return SentMessageAction(mode, info.dest, info.value.grams, info.bounce, message.body,
                                     message.init is not None)
        if op == ActionOp.UPDATE_MULTISIG_PARAMS:
            threshold = s.load_uint(8)
            return UpdateParamsAction(threshold, _addresses(s.load_ref()), _addresses(s.load_maybe_ref()))
        return UnknownAction(op, "unknown action")
    except Exception as error:  # noqa: BLE001
        return UnknownAction(None, f"unparsable action ({type(error).__name__}: {error})")


def order_state_init(multisig: Address, seqno: int) -> StateInit:
    """What the multisig deploys for order `seqno`: the order library as code, (multisig, seqno) as data."""
    data = begin_cell().store_address(multisig).store_uint(seqno, 256).end_cell()
    return StateInit(code=library_reference(order_code()), data=data)


def order_address(multisig: Address, seqno: int) -> Address:
    return Address((0, order_state_init(multisig, seqno).serialize().hash))


def build_new_order_body(order: Cell, expiration: int, *, seqno: int, signer: bool, index: int,
                         query_id: int = 0) -> Cell:
    """From a signer (`signer`, its index: the new order counts as its approval) or a proposer (its index).
    `seqno` must be the multisig's next one (or MAX_ORDER_SEQNO for "the next"): a second message for the
    same seqno fails, so one intent never makes two orders."""
    return (begin_cell().store_uint(Op.NEW_ORDER, 32).store_uint(query_id, 64).store_uint(seqno, 256)
            .store_bit(signer).store_uint(index, 8).store_uint(expiration, 48).store_ref(order).end_cell())


def build_approve_body(signer_index: int, query_id: int = 0) -> Cell:
    """To the order, from the signer with this index."""
    return begin_cell().store_uint(Op.APPROVE, 32).store_uint(query_id, 64).store_uint(signer_index, 8).end_cell()


@dataclass(frozen=True)
class OrderData:
    multisig: Address
    seqno: int
    threshold: int | None          # None: the order contract was deployed but never initialised
    executed: bool                 # sent for execution (the multisig may still have refused it)
    signers: tuple[Address, ...]
    signers_hash: str | None
    approvals_mask: int
    approvals_num: int
    expiration: int
    order: Cell | None = field(repr=False, default=None)

    @property
    def approved_by(self) -> tuple[int, ...]:
        return tuple(i for i in range(256) if self.approvals_mask >> i & 1)


class Multisig(ContractWrapper):
    @staticmethod
    def from_config(cfg: MultisigConfig) -> Deployment:
        return deployment(multisig_code(), init_data(cfg))

    def get_multisig_data(self, run: RunGetMethod) -> MultisigData:
        seqno, threshold, signers, proposers = self._get(run, "get_multisig_data")[:4]
        return MultisigData(seqno, threshold, _addresses(signers), _addresses(proposers))

    def get_order_estimate(self, run: RunGetMethod, order: Cell, expiration: int) -> int:
        """The least value new_order must carry: the order's gas, forwarding and storage until it expires."""
        return self._get_int(run, "get_order_estimate", order, expiration)

    def get_order_address(self, run: RunGetMethod, seqno: int) -> Address:
        return self._get_address(run, "get_order_address", seqno)


class MultisigOrder(ContractWrapper):
    def get_order_data(self, run: RunGetMethod) -> OrderData:
        multisig, seqno, threshold, executed, signers, mask, approvals, expiration, order = \
            self._get(run, "get_order_data")[:9]
        signers_cell = signers if isinstance(signers, Cell) else None
        return OrderData(multisig.load_address() if isinstance(multisig, Slice) else multisig, seqno, threshold,
                         bool(executed), _addresses(signers_cell), signers_cell.hash.hex() if signers_cell else None,
                         mask or 0, approvals or 0, expiration or 0, order if isinstance(order, Cell) else None)
