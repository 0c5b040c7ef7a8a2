"""An in-memory TON chain executed by the real TVM (libemulator with the mainnet config).

Messages are delivered in logical-time order: an external or internal message produces a transaction,
its outgoing internal messages (bounces included, as the emulator computes them) are queued by their
created_lt and delivered in turn until the queue is empty. Balances, fees and account states are exactly
what the emulator returns; nothing is computed here.

The whole state is plain data (`to_state` / `from_state`) so chain/localnet.py can persist it in a file.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import heapq
import time

from pytoniq_core import Address, Cell, StateInit, begin_cell
from pytoniq_core.tlb.account import AccountState, ShardAccount
from pytoniq_core.tlb.transaction import (
    CurrencyCollection, ExternalMsgInfo, InternalMsgInfo, MessageAny,
)
from pytoniq_core.tlb.vm_stack import VmStack

from chain.emulator import EmulatorError, TransactionEmulator, libraries_cell, run_get_method
from chain.errors import ChainError, GetMethodError
from chain.records import AccountInfo, TxRecord, account_info, parse_transaction, raw_address

# The faucet is not an account: fund() delivers a non-bounceable message that claims to come from here.
FAUCET_ADDRESS = Address("0:" + "fa" * 32)
LT_STEP = 1_000_000          # logical time reserved per transaction (room for its out messages)
TX_HISTORY_PER_ACCOUNT = 1000
UNINIT_GETTER_EXIT_CODE = -256  # what liteservers report for a get-method on a non-active account


class ExternalNotAccepted(ChainError):
    """The destination did not accept (ACCEPT) the external message: no transaction, no fees."""

    def __init__(self, address: Address, exit_code: int | None, detail: str | None):
        self.address, self.exit_code = address, exit_code
        super().__init__(f"external message to {address.to_str(False)} not accepted "
                         f"(exit code {exit_code}): {detail or 'no detail'}")


@functools.cache
def _shared_emulator(libraries: tuple[str, ...] = (), boc: bytes | None = None) -> TransactionEmulator:
    # one per process and set of libraries (keyed by their hashes): creating an emulator parses the whole
    # config; each call sets its own lt/time/seed
    return TransactionEmulator(Cell.one_from_boc(boc) if boc else None)


def method_id(method: str | int) -> int:
    if isinstance(method, int):
        return method
    from pytoniq_core.crypto.crc import crc16
    return (int.from_bytes(crc16(method.encode()), "big") & 0xFFFF) | 0x10000


def _empty_shard_account() -> Cell:
    # account_none$0 as ^Account, zero last transaction hash and lt
    account_none = begin_cell().store_bit(0).end_cell()
    return begin_cell().store_ref(account_none).store_bytes(bytes(32)).store_uint(0, 64).end_cell()


def _unique_size(roots: list[Cell | None]) -> tuple[int, int]:
    """(cells, bits) of the distinct cells under `roots`, as an account's storage statistics count them."""
    seen: dict[bytes, int] = {}
    stack = [root for root in roots if root is not None]
    while stack:
        cell = stack.pop()
        if cell.hash not in seen:
            seen[cell.hash] = len(cell.bits)
            stack.extend(cell.refs)
    return len(seen), sum(seen.values())


def _cell_from_b64(data: bytes | str) -> Cell:
    return Cell.one_from_boc(base64.b64decode(data))


@functools.lru_cache(maxsize=2048)
def _account_info(shard_account: bytes) -> AccountInfo:
    """An account's state, parsed once per distinct stored BOC: parsing and hashing cells in Python is most of
    a read (a check of the router's 256 shard addresses reads its account 256 times). The record is frozen
    and nothing changes its cells."""
    return account_info(_cell_from_b64(shard_account))


class Sandbox:
    def __init__(self, now: int | None = None):
        self.now: int = int(time.time()) if now is None else now
        self._lt = LT_STEP
        self._accounts: dict[str, bytes] = {}              # raw address -> ShardAccount BOC (base64)
        self._transactions: dict[str, list[bytes]] = {}    # raw address -> Transaction BOCs (base64), oldest first
        self._libraries: dict[str, bytes] = {}             # code hash (hex) -> code BOC (base64): masterchain libraries

    # ---- persistence -------------------------------------------------------------------------------
    def to_state(self) -> dict:
        return {
            "now": self.now, "lt": self._lt,
            "accounts": {a: s.decode() for a, s in self._accounts.items()},
            "transactions": {a: [t.decode() for t in txs] for a, txs in self._transactions.items()},
            "libraries": {h: c.decode() for h, c in self._libraries.items()},
        }

    @classmethod
    def from_state(cls, state: dict) -> "Sandbox":
        sandbox = cls(now=state["now"])
        sandbox._lt = state["lt"]
        sandbox._accounts = {a: s.encode() for a, s in state["accounts"].items()}
        sandbox._transactions = {a: [t.encode() for t in txs] for a, txs in state["transactions"].items()}
        sandbox._libraries = {h: c.encode() for h, c in state.get("libraries", {}).items()}
        return sandbox

    # ---- libraries and copies of accounts ----------------------------------------------------------
    def publish_library(self, code: Cell) -> str:
        """Make `code` a masterchain library (as the official librarian does on the real networks), so a
        contract whose code is a library reference to its hash runs it; returns the hash (hex)."""
        self._libraries[code.hash.hex()] = base64.b64encode(code.to_boc())
        return code.hash.hex()

    def libraries(self) -> dict[str, Cell]:
        return {h: _cell_from_b64(c) for h, c in self._libraries.items()}

    def install_account(self, address: Address, code: Cell, data: Cell, balance: int) -> None:
        """Put an active account with this code, data and balance at `address` (a private copy of an account
        read from a real chain: its address is not the hash of its current data, so no deploy can make it)."""
        self.fund(address, balance)
        key = raw_address(address)
        shard = ShardAccount.deserialize(_cell_from_b64(self._accounts[key]).begin_parse())
        shard.account.storage.state = AccountState("account_active", state_init=StateInit(code=code, data=data))
        cells, bits = _unique_size([code, data])     # rent is charged for what the account holds (see set_data)
        used = shard.account.storage_stat.used
        used.cells, used.bits = used.cells + cells, used.bits + bits
        self._accounts[key] = base64.b64encode(shard.serialize().to_boc())

    def _emulator(self) -> TransactionEmulator:
        if not self._libraries:
            return _shared_emulator()
        libraries = self.libraries()
        return _shared_emulator(tuple(sorted(libraries)), libraries_cell(libraries).to_boc())

    # ---- messages ----------------------------------------------------------------------------------
    def fund(self, address: Address, amount: int) -> None:
        """Faucet: a non-bounceable message from FAUCET_ADDRESS; creates the account as uninit if needed."""
        self.send_internal(sender=FAUCET_ADDRESS, to=address, value=amount, bounce=False)

    def send_internal(self, *, sender: Address, to: Address, value: int, body: Cell | None = None,
                      state_init: StateInit | None = None, bounce: bool = True) -> list[TxRecord]:
        """Inject an internal message (the sender is not debited) and run everything it causes."""
        info = InternalMsgInfo(ihr_disabled=True, bounce=bounce, bounced=False, src=sender, dest=to,
                               value=CurrencyCollection(value), ihr_fee=0, fwd_fee=0,
                               created_lt=self._lt, created_at=self.now)
        message = MessageAny(info, state_init, body if body is not None else Cell.empty()).serialize()
        return self._run([(self._lt, to, message)])

    def send_internals(self, messages: list[tuple[Address, Address, int, Cell]]) -> list[TxRecord]:
        """Inject several internal messages `(sender, to, value, body)` at once and run everything they cause,
        in logical-time order: their flows interleave hop by hop, as concurrent flows do on chain."""
        initial = []
        for sender, to, value, body in messages:
            info = InternalMsgInfo(ihr_disabled=True, bounce=True, bounced=False, src=sender, dest=to,
                                   value=CurrencyCollection(value), ihr_fee=0, fwd_fee=0,
                                   created_lt=self._lt, created_at=self.now)
            initial.append((self._lt, to, MessageAny(info, None, body).serialize()))
        return self._run(initial)

    def send_external(self, to: Address, body: Cell, state_init: StateInit | None = None) -> list[TxRecord]:
        return self.send_external_message(MessageAny(ExternalMsgInfo(None, to, 0), state_init, body).serialize())

    def send_external_message(self, message: Cell) -> list[TxRecord]:
        """Deliver a complete, already serialized external message (as a wallet builds it)."""
        parsed = MessageAny.deserialize(message.begin_parse())
        if not isinstance(parsed.info, ExternalMsgInfo):
            raise ValueError("not an external inbound message")
        return self._run([(self._lt, parsed.info.dest, message)])

    def _run(self, initial: list[tuple[int, Address, Cell]]) -> list[TxRecord]:
        queue: list[tuple[int, int, Address, Cell]] = []
        for seq, (lt, dest, message) in enumerate(initial):
            heapq.heappush(queue, (lt, seq, dest, message))
        seq = len(initial)
        records: list[TxRecord] = []
        while queue:
            _, _, dest, message = heapq.heappop(queue)
            record, out_cells = self._execute(dest, message)
            records.append(record)
            for out in out_cells:
                parsed = MessageAny.deserialize(out.begin_parse())
                if isinstance(parsed.info, InternalMsgInfo):
                    heapq.heappush(queue, (parsed.info.created_lt, seq, parsed.info.dest, out))
                    seq += 1
        return records

    def _execute(self, dest: Address, message: Cell) -> tuple[TxRecord, list[Cell]]:
        key = raw_address(dest)
        shard_account = self._accounts.get(key) or base64.b64encode(_empty_shard_account().to_boc())
        lt = self._lt
        self._lt += LT_STEP
        seed = hashlib.sha256(lt.to_bytes(8, "big") + dest.hash_part).digest()
        result = self._emulator().emulate(shard_account, message, unixtime=self.now, lt=lt, rand_seed=seed)
        if not result.success:
            if result.external_not_accepted:
                raise ExternalNotAccepted(dest, result.vm_exit_code, result.error)
            raise EmulatorError(f"transaction on {key} could not be emulated: {result.error}")
        tx_cell = _cell_from_b64(result.transaction)
        self._accounts[key] = result.shard_account
        history = self._transactions.setdefault(key, [])
        history.append(result.transaction)
        del history[:-TX_HISTORY_PER_ACCOUNT]
        msgs = tx_cell.refs[0].begin_parse()
        if msgs.load_bit():
            msgs.load_ref()
        out_cells = msgs.load_dict(15, value_deserializer=lambda s: s.load_ref())
        ordered = [out_cells[i] for i in sorted(out_cells)] if out_cells else []
        return parse_transaction(dest, tx_cell), ordered

    def set_data(self, address: Address, data: Cell) -> None:
        """Replace an active account's persistent data, as if it had grown there (tests and benchmarks of
        full contracts: building 16,000 policies by messages would take minutes). The account's storage
        statistics (the cells and bits its rent is charged for) follow: the emulator updates them only for
        what a transaction changes."""
        key = raw_address(address)
        shard = ShardAccount.deserialize(_cell_from_b64(self._accounts[key]).begin_parse())
        state_init = shard.account.storage.state.state_init
        old_cells, old_bits = _unique_size([state_init.code, state_init.data])
        new_cells, new_bits = _unique_size([state_init.code, data])
        used = shard.account.storage_stat.used
        used.cells, used.bits = used.cells - old_cells + new_cells, used.bits - old_bits + new_bits
        state_init.data = data
        self._accounts[key] = base64.b64encode(shard.serialize().to_boc())

    def storage_used(self, address: Address) -> tuple[int, int]:
        """(cells, bits) of an account's storage statistics: what its rent is charged for."""
        shard = ShardAccount.deserialize(_cell_from_b64(self._accounts[raw_address(address)]).begin_parse())
        used = shard.account.storage_stat.used
        return used.cells, used.bits

    # ---- reads -------------------------------------------------------------------------------------
    def account(self, address: Address) -> AccountInfo:
        stored = self._accounts.get(raw_address(address))
        if stored is None:
            return AccountInfo("nonexist", 0, None, None, None, None, 0, None)
        return _account_info(stored)

    def transactions(self, address: Address, limit: int = 20) -> list[TxRecord]:
        """The most recent transactions of an account, newest first."""
        history = self._transactions.get(raw_address(address), [])
        return [parse_transaction(address, _cell_from_b64(t)) for t in reversed(history[-limit:])]

    def run_get_method(self, address: Address, method: str | int, stack: list | None = None) -> list:
        return run_getter(self.account(address), address, method, stack, self.now, self.libraries())


def run_getter(info: AccountInfo, address: Address, method: str | int, stack: list | None, now: int,
               libraries: dict[str, Cell] | None = None) -> list:
    """Run a get-method on an account's state (here, or one a liteserver proved) with the bundled config and
    the masterchain libraries given (a multisig's code is a library cell)."""
    if info.status != "active" or info.code is None:
        raise GetMethodError(address, method, UNINIT_GETTER_EXIT_CODE, f"account is {info.status}")
    result = run_get_method(
        code=info.code, data=info.data if info.data is not None else Cell.empty(),
        address=raw_address(address), unixtime=now, balance=info.balance,
        method_id=method_id(method), stack=VmStack.serialize(list(stack or [])),
        rand_seed=hashlib.sha256(b"getter" + now.to_bytes(8, "big")).digest(),
        libraries=libraries_cell(libraries or {}),
    )
    if result.exit_code not in (0, 1):
        raise GetMethodError(address, method, result.exit_code, result.vm_log[-200:])
    return VmStack.deserialize(result.stack.begin_parse()) if result.stack is not None else []
