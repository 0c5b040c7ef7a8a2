"""The one interface to TON used by providers, verify steps, benchmarks and the CLI.

Callers build a client from plain, picklable settings (`chain.connect.connect(ChainSettings(...))`);
nothing here opens a socket or starts a thread at import or construction time. Backends: chain/localnet.py
(the emulated chain in a file) and chain/liteserver.py (testnet/mainnet through pytoniq) implement this
interface; it imports neither of them (nor the emulator), so code above it does not know which one it
talks to and loads only the one it uses.
"""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal, Sequence

from pytoniq_core import Address, Cell
from pytoniq_core.tlb.transaction import ExternalMsgInfo, MessageAny

from chain.errors import ChainError, ConfigError, GetMethodError, MessageRejected, NetworkError
from chain.records import AccountInfo, OutMessage, TxRecord, raw_address

Network = Literal["localnet", "testnet", "mainnet"]
NETWORKS: tuple[str, ...] = ("localnet", "testnet", "mainnet")
MAX_SCAN = 4096   # transactions of one account scanned when looking for a sent message

__all__ = [
    "AccountInfo", "AccountsNotActive", "ChainClient", "ChainError", "ChainSettings", "ConfigError", "GetMethodError",
    "MessageRejected", "MessageTimeout", "NETWORKS", "Network", "NetworkError", "OutMessage", "SentMessage", "TxRecord",
]


class AccountsNotActive(ChainError):
    """Some accounts did not become active in time; lists them with what was observed."""

    def __init__(self, waiting: dict[str, AccountInfo], total: int, waited_seconds: float):
        self.waiting = waiting
        shown = ", ".join(f"{address} ({info.status}, balance {info.balance})"
                          for address, info in list(waiting.items())[:10])
        more = f" and {len(waiting) - 10} more" if len(waiting) > 10 else ""
        super().__init__(f"{len(waiting)} of {total} account(s) not active after {waited_seconds:.1f}s: {shown}{more}")


class MessageTimeout(ChainError):
    """A sent message was not seen processed in time. Says what was sent and what was observed."""

    def __init__(self, sent: "SentMessage", waited_seconds: float, observed: str):
        self.sent, self.waited_seconds, self.observed = sent, waited_seconds, observed
        super().__init__(
            f"{sent.describe()} was not processed within {waited_seconds:.1f}s; observed: {observed}")


@dataclass(frozen=True)
class ChainSettings:
    """Everything needed to build a client; plain data so Pulumi providers can pickle it."""
    network: Network
    localnet_path: str | None = None            # localnet: the chain file (created on first use)
    liteserver_config_path: str | None = None   # testnet/mainnet: a global network config JSON file
    request_timeout_seconds: float = 10.0       # one liteserver request
    retries: int = 3                             # extra attempts on transient errors
    retry_backoff_seconds: float = 0.5           # pause before retry n: n x this
    poll_interval_seconds: float = 0.5           # how often waits look at the chain
    liteserver_quorum: int = 2                   # testnet/mainnet: liteservers drawn at random, asked every read
    max_block_age_seconds: float = 120.0         # the newest proven block must be younger (by this machine's clock)
    trust_cache_path: str | None = None          # the newest key block proven from the pin (None: not kept)
    trusted_key_block: str | None = None         # seqno:root:file instead of the pin (tests, `python -m chain trust`)

    def __post_init__(self) -> None:
        if self.network not in NETWORKS:
            raise ConfigError(f"unknown network {self.network!r}; expected one of {', '.join(NETWORKS)}")
        if self.network == "localnet" and not self.localnet_path:
            raise ConfigError("localnet needs localnet_path (the chain file, e.g. .state/localnet/local.json)")
        if self.network != "localnet" and not self.liteserver_config_path:
            raise ConfigError(f"{self.network} needs liteserver_config_path (a global network config JSON file)")
        if self.request_timeout_seconds <= 0 or self.poll_interval_seconds <= 0 or self.retries < 0 \
                or self.retry_backoff_seconds < 0:
            raise ConfigError("timeouts and poll interval must be positive, retries non-negative")
        if self.liteserver_quorum < 1:
            raise ConfigError("liteserver_quorum must be at least 1 (2 on public networks: the newest of their "
                              "proven blocks decides)")
        if self.max_block_age_seconds <= 0:
            raise ConfigError("max_block_age_seconds must be positive")


@dataclass(frozen=True)
class SentMessage:
    """What a client knows about an external message it sent: enough to find it on chain later."""
    destination: Address
    message_hash: str     # hash of the whole external message cell
    body_hash: str        # hash of its body: what the signer controls, so what identifies it on chain
    description: str = ""

    @classmethod
    def of(cls, message: Cell, description: str = "") -> "SentMessage":
        parsed = MessageAny.deserialize(message.begin_parse())
        if not isinstance(parsed.info, ExternalMsgInfo):
            raise ValueError("only inbound external messages can be sent")
        return cls(parsed.info.dest, message.hash.hex(), parsed.body.hash.hex(), description)

    def describe(self) -> str:
        what = f"{self.description} " if self.description else ""
        return (f"external message {what}to {raw_address(self.destination)} "
                f"(message hash {self.message_hash}, body hash {self.body_hash})")


class ChainClient(ABC):
    """Synchronous chain access. Addresses are pytoniq_core Addresses; amounts are nanotons."""

    def __init__(self, settings: ChainSettings):
        self.settings = settings

    @property
    def network(self) -> str:
        return self.settings.network

    @abstractmethod
    def account(self, address: Address) -> AccountInfo: ...

    @abstractmethod
    def run_get_method(self, address: Address, method: str | int, stack: list | None = None) -> list:
        """Stack items in and out as Python values (int, Cell, Slice, None); GetMethodError on non-zero exit."""

    @abstractmethod
    def send_message(self, message: Cell) -> None:
        """Broadcast a complete external message. NetworkError: it may or may not have been delivered."""

    @abstractmethod
    def transactions(self, address: Address, limit: int = 20) -> list[TxRecord]:
        """The most recent transactions of an account, newest first."""

    @abstractmethod
    def now(self) -> int:
        """The chain's current unix time (what contracts see as now()); wallets sign validity against it."""

    def close(self) -> None:
        """Release connections, if any."""

    def __enter__(self) -> "ChainClient":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def send_external(self, message: Cell, description: str = "") -> SentMessage:
        sent = SentMessage.of(message, description)
        self.send_message(message)
        return sent

    def find_processed(self, destination: Address, body_hash: str, after_lt: int = 0) -> TxRecord | None:
        """The transaction that processed an external message with this body after `after_lt`, or None.

        None is a proof of absence: the scan reaches back to `after_lt`, or this raises ChainError.
        """
        limit = 4   # most answers are in the newest few transactions: parse more only when needed
        while True:
            txs = self.transactions(destination, limit)
            for tx in txs:
                if tx.lt <= after_lt:
                    return None
                if tx.in_external and tx.in_body_hash == body_hash:
                    return tx
            if not txs or txs[-1].prev_lt <= after_lt:
                return None
            if len(txs) < limit or limit >= MAX_SCAN:
                raise ChainError(f"the transaction history of {raw_address(destination)} available here does not "
                                 f"reach back to lt {after_lt}: cannot tell whether the message was processed")
            limit *= 4

    def wait_for(self, sent: SentMessage, timeout_seconds: float, after_lt: int = 0) -> TxRecord:
        """Return the transaction that processed `sent`, or raise MessageTimeout describing the account."""
        started = time.monotonic()
        while True:
            found = self.find_processed(sent.destination, sent.body_hash, after_lt)
            if found is not None:
                return found
            waited = time.monotonic() - started
            if waited >= timeout_seconds:
                raise MessageTimeout(sent, waited, self.describe_account(sent.destination, after_lt))
            time.sleep(min(self.settings.poll_interval_seconds, max(0.0, timeout_seconds - waited)))

    def wait_for_active(self, addresses: Sequence[Address], timeout_seconds: float) -> dict[str, AccountInfo]:
        """Poll until every address is active (raw address -> AccountInfo), or raise AccountsNotActive."""
        waiting = {raw_address(a): a for a in addresses}
        ready: dict[str, AccountInfo] = {}
        started = time.monotonic()
        while True:
            observed = {key: self.account(address) for key, address in waiting.items()}
            for key, info in observed.items():
                if info.status == "active":
                    ready[key] = info
                    del waiting[key]
            if not waiting:
                return ready
            waited = time.monotonic() - started
            if waited >= timeout_seconds:
                raise AccountsNotActive({key: observed[key] for key in waiting}, len(addresses), waited)
            time.sleep(min(self.settings.poll_interval_seconds, max(0.0, timeout_seconds - waited)))

    def describe_account(self, address: Address, after_lt: int = 0) -> str:
        info = self.account(address)
        newer = [tx for tx in self.transactions(address, 16) if tx.lt > after_lt]
        externals = sum(1 for tx in newer if tx.in_external)
        return (f"account {raw_address(address)} is {info.status}, balance {info.balance} nanotons, "
                f"last transaction lt {info.last_tx_lt} hash {info.last_tx_hash}; "
                f"{len(newer)} transaction(s) since lt {after_lt} ({externals} external), none with that body; "
                f"chain time {self.now()}")
