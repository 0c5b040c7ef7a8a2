"""What the chain reports, as plain records, and the address forms: no backend, no TVM.

The clients (chain/localnet.py, chain/liteserver.py), the emulator (chain/sandbox.py), the wallets and
everything above them read accounts and transactions through these types, so using one backend never
loads another.
"""
from __future__ import annotations

from dataclasses import dataclass

from pytoniq_core import Address, Cell, StateInit
from pytoniq_core.tlb.account import ShardAccount
from pytoniq_core.tlb.transaction import ExternalMsgInfo, InternalMsgInfo, MessageAny, Transaction

TON = 10**9   # nanotons per TON


@dataclass(frozen=True)
class AccountInfo:
    status: str            # 'active' | 'uninit' | 'frozen' | 'nonexist'
    balance: int           # nanotons
    code: Cell | None
    data: Cell | None
    code_hash: str | None  # hex
    data_hash: str | None  # hex
    last_tx_lt: int
    last_tx_hash: str | None
    due_payment: int = 0   # storage rent the account owes (nanotons); above the freeze limit it is frozen


@dataclass(frozen=True)
class OutMessage:
    dest: Address | None   # None for an external outbound message (log)
    value: int
    body: Cell
    bounce: bool
    bounced: bool
    state_init: StateInit | None


@dataclass(frozen=True)
class TxRecord:
    address: Address
    lt: int
    hash: str
    success: bool          # compute phase succeeded and action phase (if any) succeeded
    exit_code: int | None  # compute phase exit code (None if skipped)
    aborted: bool
    in_sender: Address | None
    in_value: int
    in_body: Cell
    in_bounced: bool       # this transaction processes a bounce
    out_messages: list[OutMessage]
    total_fees: int        # nanotons
    gas_used: int
    in_external: bool = False
    in_msg_hash: str | None = None    # hash of the inbound message cell
    in_body_hash: str | None = None   # hash of the inbound body (what a signer controls)
    now: int = 0
    prev_lt: int = 0                  # lt of the account's previous transaction (0: this is its first)


def raw_address(address: Address) -> str:
    return address.to_str(is_user_friendly=False)


def friendly_address(raw: str, network: str) -> str:
    """The user-friendly bounceable form, test-only flagged off mainnet (the form config writes addresses in)."""
    return Address(raw).to_str(is_user_friendly=True, is_bounceable=True, is_test_only=network != "mainnet")


def parse_transaction(address: Address, tx_cell: Cell) -> TxRecord:
    """Map a Transaction cell to a TxRecord; message hashes come from the raw cells, not re-serializations."""
    tx = Transaction.deserialize(tx_cell.begin_parse())
    msgs = tx_cell.refs[0].begin_parse()
    in_msg_cell = msgs.load_ref() if msgs.load_bit() else None
    descr = tx.description
    compute = getattr(descr, "compute_ph", None)
    action = getattr(descr, "action", None)
    computed = compute is not None and compute.type_ == "vm"
    in_msg = tx.in_msg
    info = in_msg.info if in_msg else None
    internal = isinstance(info, InternalMsgInfo)
    outs = [_out_message(m) for m in tx.out_msgs]
    return TxRecord(
        address=address, lt=tx.lt, hash=tx_cell.hash.hex(),
        success=bool(computed and compute.success and (action is None or action.success)),
        exit_code=compute.exit_code if computed else None,
        aborted=bool(getattr(descr, "aborted", False)),
        in_sender=info.src if internal else None,
        in_value=info.value.grams if internal else 0,
        in_body=in_msg.body if in_msg else Cell.empty(),
        in_bounced=bool(internal and info.bounced),
        out_messages=outs,
        total_fees=tx.total_fees.grams,
        gas_used=compute.gas_used if computed else 0,
        in_external=isinstance(info, ExternalMsgInfo),
        in_msg_hash=in_msg_cell.hash.hex() if in_msg_cell is not None else None,
        in_body_hash=in_msg.body.hash.hex() if in_msg else None,
        now=tx.now,
        prev_lt=tx.prev_trans_lt,
    )


def _out_message(message: MessageAny) -> OutMessage:
    info = message.info
    if isinstance(info, InternalMsgInfo):
        return OutMessage(info.dest, info.value.grams, message.body, info.bounce, info.bounced, message.init)
    return OutMessage(None, 0, message.body, False, False, message.init)


def account_info(shard_account: Cell) -> AccountInfo:
    shard = ShardAccount.deserialize(shard_account.begin_parse())
    last_lt = shard.last_trans_lt
    last_hash = shard.last_trans_hash.hex() if last_lt else None
    account = shard.account
    if account is None:
        return AccountInfo("nonexist", 0, None, None, None, None, last_lt, last_hash)
    state = account.storage.state
    balance = account.storage.balance.grams
    due = account.storage_stat.due_payment or 0
    if state.type_ == "account_active":
        code, data = state.state_init.code, state.state_init.data
        return AccountInfo("active", balance, code, data, code.hash.hex() if code else None,
                           data.hash.hex() if data else None, last_lt, last_hash, due)
    status = "frozen" if state.type_ == "account_frozen" else "uninit"
    return AccountInfo(status, balance, None, None, None, None, last_lt, last_hash, due)
