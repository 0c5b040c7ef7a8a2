"""Localnet: the Sandbox chain persisted in one JSON file so separate processes share one chain.

Every change is a read-modify-write of the file under an exclusive fcntl lock on `<file>.lock`, written
to a temporary file and atomically renamed, so concurrent writers are serialized and readers never see a
torn file. Chain time is the wall clock plus an offset kept in the file (tests move it forward to expire
messages) and never goes backwards.

Fault injection lives in the same file (so it reaches the Pulumi provider process too):
  drop_external    the next N external messages are acknowledged but silently lost
  fail_send        the next N sends raise NetworkError before the message reaches the chain
  fail_after_send  the next N sends deliver the message, then raise NetworkError (the ambiguous case)
  delay_seconds    external messages are executed only this many seconds after they were sent

Block latency (`set_block_interval`, default 0 = off) is the normal path, not a fault: with an interval of
S seconds an external message is included only at the next block boundary (chain time a multiple of S),
as a validator would include it, so every wait costs what it costs on a real network. The whole cascade
of internal messages it causes runs in that block (TON needs about one more block per hop; see
docs/chain.md). Like faults it lives in the file, so every process sharing the chain sees it.
"""
from __future__ import annotations

import base64
import contextlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, TypeVar

from pytoniq_core import Address, Cell

from chain.client import ChainClient, ChainSettings
from chain.errors import ConfigError, MessageRejected, NetworkError
from chain.files import exclusive_lock, write_json_atomically
from chain.records import AccountInfo, TxRecord
from chain.sandbox import ExternalNotAccepted, Sandbox

FORMAT_VERSION = 1
DEFAULT_PATH = ".state/localnet/local.json"   # relative to the project root; callers pass their own
T = TypeVar("T")


@dataclass
class Faults:
    drop_external: int = 0
    fail_send: int = 0
    fail_after_send: int = 0
    delay_seconds: float = 0.0


def _fresh_state() -> dict:
    return {"format": FORMAT_VERSION, "time_offset": 0, "faults": asdict(Faults()), "pending": [],
            "block_interval": 0, "chain": Sandbox(now=int(time.time())).to_state()}


def next_block(now: int, interval: int) -> int:
    """The chain time of the first block boundary strictly after `now` (0: no blocks, now)."""
    return (now // interval + 1) * interval if interval > 0 else now


class LocalnetClient(ChainClient):
    def __init__(self, settings: ChainSettings):
        super().__init__(settings)
        self.path = Path(settings.localnet_path)
        self._cache: tuple[tuple, dict] | None = None   # (file stat signature, parsed state)
        self._read_sandbox: tuple[dict, Sandbox] | None = None   # (parsed state, its sandbox for reads)

    # ---- file ----------------------------------------------------------------------------------------
    def _load(self) -> dict:
        """The chain state, parsed again only when the file was replaced since the last read."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return _fresh_state()
        signature = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if self._cache is None or self._cache[0] != signature:
            self._cache = (signature, self._parse(self.path.read_text()))
        return self._cache[1]

    def _parse(self, text: str) -> dict:
        try:
            state = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"{self.path}: not a localnet chain file ({error})") from None
        if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
            raise ConfigError(f"{self.path}: not a localnet chain file of format {FORMAT_VERSION}")
        return state

    def _update(self, change: Callable[[dict, Sandbox], T]) -> T:
        """Apply `change` to the chain under the lock and persist it; an exception persists nothing."""
        with exclusive_lock(self.path):
            state = self._parse(self.path.read_text()) if self.path.exists() else _fresh_state()
            sandbox = self._sandbox(state)
            self._deliver_due(state, sandbox)
            result = change(state, sandbox)
            state["chain"] = sandbox.to_state()
            write_json_atomically(self.path, state)
            return result

    def _sandbox(self, state: dict) -> Sandbox:
        sandbox = Sandbox.from_state(state["chain"])
        sandbox.now = max(sandbox.now, int(time.time()) + state["time_offset"])
        return sandbox

    @staticmethod
    def _deliver_due(state: dict, sandbox: Sandbox) -> None:
        due = [p for p in state["pending"] if p["deliver_at"] <= sandbox.now]
        state["pending"] = [p for p in state["pending"] if p["deliver_at"] > sandbox.now]
        for pending in due:
            with contextlib.suppress(ExternalNotAccepted):  # a late message nobody accepts just disappears
                sandbox.send_external_message(Cell.one_from_boc(base64.b64decode(pending["message"])))

    def _reader(self) -> Sandbox:
        state = self._load()
        if any(p["deliver_at"] <= int(time.time()) + state["time_offset"] for p in state["pending"]):
            return self._update(lambda _state, sandbox: sandbox)
        # Reads never change the sandbox: build it once per parsed state (every account's BOC is converted),
        # only its clock moves.
        if self._read_sandbox is None or self._read_sandbox[0] is not state:
            self._read_sandbox = (state, self._sandbox(state))
        sandbox = self._read_sandbox[1]
        sandbox.now = max(sandbox.now, int(time.time()) + state["time_offset"])
        return sandbox

    # ---- ChainClient ---------------------------------------------------------------------------------
    def account(self, address: Address) -> AccountInfo:
        return self._reader().account(address)

    def run_get_method(self, address: Address, method: str | int, stack: list | None = None) -> list:
        return self._reader().run_get_method(address, method, stack)

    def transactions(self, address: Address, limit: int = 20) -> list[TxRecord]:
        return self._reader().transactions(address, limit)

    def now(self) -> int:
        return self._reader().now

    def send_message(self, message: Cell) -> None:
        def send(state: dict, sandbox: Sandbox) -> str:
            faults = state["faults"]
            if faults["fail_send"] > 0:
                faults["fail_send"] -= 1
                return "fail"
            if faults["drop_external"] > 0:
                faults["drop_external"] -= 1
                return "dropped"
            interval = state.get("block_interval", 0)
            if faults["delay_seconds"] > 0 or interval > 0:
                arrives = sandbox.now + faults["delay_seconds"]
                state["pending"].append({"deliver_at": next_block(int(arrives), interval) if interval else arrives,
                                         "message": base64.b64encode(message.to_boc()).decode()})
                return "queued"
            try:
                sandbox.send_external_message(message)
            except ExternalNotAccepted as rejected:
                return f"rejected:{rejected}"
            if faults["fail_after_send"] > 0:
                faults["fail_after_send"] -= 1
                return "fail_after"
            return "delivered"

        outcome = self._update(send)
        if outcome in ("fail", "fail_after"):
            raise NetworkError(f"localnet {self.path}: injected network failure while sending an external message")
        if outcome.startswith("rejected:"):
            raise MessageRejected(outcome.removeprefix("rejected:"))

    # ---- localnet only -------------------------------------------------------------------------------
    def fund(self, address: Address, amount: int) -> AccountInfo:
        """Faucet: credit `amount` nanotons to `address` (a non-bounceable message from the faucet)."""
        if amount <= 0:
            raise ValueError("amount must be positive")
        return self._update(lambda _state, sandbox: (sandbox.fund(address, amount), sandbox.account(address))[1])

    def publish_library(self, code: Cell) -> str:
        """Make `code` a masterchain library of this chain (the real networks have the official ones, e.g.
        the multisig v2 order code); returns its hash (hex)."""
        return self._update(lambda _state, sandbox: sandbox.publish_library(code))

    def send_internal(self, **message) -> list[TxRecord]:
        """Deliver an internal message from any sender (tests and tools; see Sandbox.send_internal)."""
        return self._update(lambda _state, sandbox: sandbox.send_internal(**message))

    def advance_time(self, seconds: int) -> int:
        """Move chain time forward (expiring valid-until windows in tests); returns the new chain time."""
        def advance(state: dict, sandbox: Sandbox) -> int:
            state["time_offset"] += seconds
            sandbox.now += seconds
            return sandbox.now
        return self._update(advance)

    def pending(self) -> int:
        """External messages sent but not executed yet (a delay fault or block latency), after delivering those
        that are due: 0 means every message sent so far has either landed or been refused."""
        self._reader()
        return len(self._load()["pending"])

    def block_interval(self) -> int:
        return int(self._load().get("block_interval", 0))

    def set_block_interval(self, seconds: int) -> int:
        """Include external messages only at block boundaries every `seconds` of chain time (0: at once)."""
        if seconds < 0:
            raise ValueError("the block interval is a non-negative number of seconds")

        def store(state: dict, _sandbox: Sandbox) -> int:
            state["block_interval"] = int(seconds)
            return state["block_interval"]
        return self._update(store)

    def faults(self) -> Faults:
        return Faults(**self._load()["faults"])

    def set_faults(self, **faults) -> Faults:
        def store(state: dict, _sandbox: Sandbox) -> Faults:
            state["faults"] = asdict(Faults(**{**state["faults"], **faults}))
            return Faults(**state["faults"])
        return self._update(store)
