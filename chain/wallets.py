"""Wallets that never send the same intent twice: wallet v4r2 (single messages) and highload wallet v3 (batches).

The send protocol, identical for localnet, testnet and mainnet:

1. Under an exclusive lock on the journal file, look up the intent (caller-given id, or the fingerprint
   of its transfers). A recorded intent with other transfers is refused.
2. Nothing recorded, or the recorded message expired / failed without sending anything: before signing,
   settle every other open message of the wallet. One that could reach any of the same destinations is
   re-broadcast and waited for until it lands or can never land (created_at + timeout, plus a margin);
   if it landed, nothing is signed (`Superseded`: the caller re-reads the chain and sends only what is
   still missing). Highload wallet: a journal that does not know an active wallet cannot know its open
   messages, so it records a fence (now + timeout + margin) and signs nothing before it (`JournalFence`).
   Then sign a new message and write it to the journal (query id or seqno, valid-until, destinations,
   body and message hashes, the wallet's last lt, the signed BOC) *before* it leaves the process. An
   expired intent is re-signed with the *same* query id, so the chain itself lets at most one of the two land.
3. Look for the recorded message on chain (a proof of absence back to the recorded lt). Found: settle.
4. Not found and still valid: broadcast the *same* signed message (the wallet's replay protection
   makes a re-broadcast land at most once) and wait, re-broadcasting every few seconds.
5. Not found, chain time past valid-until (plus a margin for block lag), and the wallet confirms the slot
   (seqno / query id) was not consumed: the message can never land; mark it expired and go to 2.

Without the journal the chain still keeps a re-signed intent single: the first message of a highload
wallet always has query id 0 and re-signed intents reuse theirs, so two signers of the same first or
re-signed message collide on the wallet's replay protection (v4r2: the seqno does this by itself).

A crash or timeout anywhere leaves the journal in a state from which a re-run converges by the same
steps. Keys: WalletKey keeps the secret in memory only; it is never logged, pickled or journaled.

Highload wallet v3 message layout (the official contract; code cell from pytoniq 0.1.43):
  external body   = signature:bits512 ^signed
  signed          = subwallet_id:uint32 ^message_to_send send_mode:uint8 query_id:uint23
                    created_at:uint64 timeout:uint22            (query_id = shift:13 bit_number:10)
  message_to_send = internal message to the wallet itself, body
                    internal_transfer#ae42e5a4 query_id:uint64 ^actions
  actions         = OutList of action_send_msg#0ec3c86d mode:uint8 ^MessageRelaxed (first message deepest);
                    at most 253 transfers per list, the 254th action carries the rest in another
                    internal_transfer to the wallet itself (a chain of links).
The message is valid while created_at > now - timeout, so valid_until = created_at + timeout. For both
wallets a message is accepted only while now < valid_until.
"""
from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import logging
import os
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from nacl.bindings import crypto_sign_seed_keypair
from pytoniq.contract.wallets.highload_v3 import HIGHLOAD_V3_WALLET_CODE
from pytoniq.contract.wallets.wallet import WALLET_V4_R2_CODE
from pytoniq_core import Address, Cell, StateInit, begin_cell
from pytoniq_core.crypto.keys import mnemonic_is_valid, mnemonic_to_private_key
from pytoniq_core.crypto.signature import sign_message
from pytoniq_core.tlb.custom.wallet import HighloadWalletV3Data, WalletV4Data
from pytoniq_core.tlb.transaction import CurrencyCollection, ExternalMsgInfo, InternalMsgInfo, MessageAny

from chain.client import ChainClient, ChainError, MessageRejected, MessageTimeout, NetworkError, SentMessage
from chain.fees import forward_fee
from chain.files import exclusive_lock, write_json_atomically
from chain.records import AccountInfo, TxRecord, raw_address

log = logging.getLogger(__name__)

V4R2_WALLET_ID = 698983191           # + workchain, as every wallet app derives it
V4R2_MAX_TRANSFERS = 4
HIGHLOAD_V3_WALLET_ID = 0x10AD       # + workchain, pytoniq's default subwallet
HIGHLOAD_V3_TIMEOUT = 3600
HIGHLOAD_MAX_TRANSFERS = 253 * 253   # two levels of links are plenty; one external message either way
TRANSFERS_PER_LINK = 253
INTERNAL_TRANSFER_OP = 0xAE42E5A4
ACTION_SEND_MSG = 0x0EC3C86D
QUERY_ID_SPACE = 8192 * 1023         # shift:13 bits x bit_number 0..1022
# The last query id (shift 8191, bit 1022) is reserved by the wallet's authors for emergency withdrawals
# (their README: 8,380,415 = QUERY_ID_SPACE - 1 usable ids); the allocator never hands it out.
EMERGENCY_QUERY_ID = (8191 << 10) | 1022
FIRST_QUERY_ID = 0                   # every first message of an uninitialised wallet: signers collide on it
OPEN = ("signed", "sent")            # a record whose message may still land
SEND_MODE_PAY_FEES_SEPARATELY = 1    # no +2: a transfer that cannot be sent fails the whole action list
FEE_RESERVE_PER_TRANSFER = 10_000_000  # 0.01 TON: the wallet's own gas per message, generously
MAX_EXTERNAL_MESSAGE_BYTES = 65_535  # config param 43 (size limits): max_ext_msg_size
CLOCK_SKEW_SECONDS = 30              # highload: created_at must not be ahead of the block time
# A message past valid-until may still sit in a shard block not yet visible through the masterchain (and
# liteserver time is not block time): only this long after valid-until is "never landed" a safe verdict.
EXPIRY_MARGIN_SECONDS = 30


class SendError(ChainError):
    """A send could not be completed; the journal says where it stands."""


class IntentConflict(SendError):
    """The intent id is already recorded for other transfers or another wallet."""


class InsufficientFunds(SendError):
    pass


class SendFailed(SendError):
    """The wallet processed the message but its actions failed (partial: some transfers went out)."""

    def __init__(self, message: str, partial: bool):
        self.partial = partial
        super().__init__(message)


class Superseded(SendError):
    """An earlier open message of the wallet landed while this intent waited for it and reached some of the
    same destinations; nothing was signed: re-read the chain and send only what is still missing."""


class OpenMessagePending(SendError):
    """An earlier message that could reach the same destinations may still land; nothing was signed."""


class JournalFence(SendError):
    """The journal does not know this (active) highload wallet, so it cannot know its open messages; nothing
    is signed before chain time `fence_until`, when any message signed elsewhere has landed or expired."""

    def __init__(self, message: str, fence_until: int):
        self.fence_until = fence_until
        super().__init__(message)


class AmbiguousSend(SendError):
    """The recorded message is not on chain but its seqno / query id was consumed: an operator must look."""


class WalletKey:
    """An Ed25519 key pair. The secret never leaves this object: no repr, no pickling, no journal."""

    __slots__ = ("public_key", "_secret")

    def __init__(self, public_key: bytes, secret_key: bytes):
        self.public_key = public_key
        self._secret = secret_key

    @classmethod
    def from_mnemonic(cls, mnemonic: str | Sequence[str]) -> "WalletKey":
        words = mnemonic.split() if isinstance(mnemonic, str) else list(mnemonic)
        if len(words) != 24 or not mnemonic_is_valid(words):
            raise ValueError("the wallet mnemonic is not a valid 24-word TON mnemonic")  # never echo words
        public, secret = mnemonic_to_private_key(words)
        return cls(public, secret)

    @classmethod
    def from_seed(cls, seed: bytes) -> "WalletKey":
        if len(seed) != 32:
            raise ValueError("an Ed25519 seed is 32 bytes")
        public, secret = crypto_sign_seed_keypair(seed)
        return cls(public, secret)

    def sign(self, cell: Cell) -> bytes:
        return sign_message(cell.hash, self._secret)

    def __repr__(self) -> str:
        return f"WalletKey(public_key={self.public_key.hex()})"

    def __reduce__(self):
        raise TypeError("WalletKey holds a secret and is never pickled; build it inside the method that sends")


@dataclass(frozen=True)
class Transfer:
    """One outgoing internal message a wallet should send."""
    destination: Address
    value: int                      # nanotons
    body: Cell | None = None
    state_init: StateInit | None = None
    bounce: bool = True

    @functools.cached_property
    def message(self) -> Cell:
        """The internal message (MessageRelaxed) the wallet sends for this transfer."""
        info = InternalMsgInfo(ihr_disabled=True, bounce=self.bounce, bounced=False, src=None, dest=self.destination,
                               value=CurrencyCollection(self.value), ihr_fee=0, fwd_fee=0, created_lt=0, created_at=0)
        return MessageAny(info, self.state_init, self.body if self.body is not None else Cell.empty()).serialize()


def fingerprint(transfers: Sequence[Transfer]) -> str:
    """What the transfers do, as one hash: two sends of the same fingerprint are the same intent."""
    digest = hashlib.sha256()
    for transfer in transfers:
        digest.update(transfer.message.hash)
    return digest.hexdigest()


@dataclass(frozen=True)
class SendResult:
    intent_id: str
    wallet: str                 # raw address
    external_tx_lt: int
    external_tx_hash: str
    transfers_sent: int
    fees: int                   # nanotons burnt by the wallet's transactions for this send
    attempts: int               # messages signed for this intent (more than 1 only after an expiry)
    reused: bool                # already settled before this call


class SendJournal:
    """The record of every signed message: one JSON document, no secret in it. This one is a file shared by the
    processes of a machine (fcntl-locked, replaced atomically); ton_deploy/journal.py keeps the same document in
    the store beside the stack's state (S3 with conditional writes) for runners on other machines."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def location(self) -> str:
        """Where the journal lives, for messages."""
        return str(self.path)

    @contextlib.contextmanager
    def session(self) -> Iterator[dict]:
        """The journal, held exclusively for the block; `save` writes it."""
        with exclusive_lock(self.path):
            yield self.read()

    def read(self) -> dict:
        if not self.path.exists():
            return empty_journal()
        return parse_journal(self.path.read_bytes(), self.location)

    def save(self, data: dict) -> None:
        write_json_atomically(self.path, data)


def empty_journal() -> dict:
    return {"format": 1, "wallets": {}, "sends": {}}


def parse_journal(raw: bytes, location: str) -> dict:
    """A journal document, or SendError: a journal that cannot be read is never taken as empty."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict) or not {"wallets", "sends"} <= data.keys():
        raise SendError(f"send journal {location} is unreadable; refusing to send without knowing what was sent")
    return data


class JournaledWallet(ABC):
    kind = ""
    max_transfers = 0

    def __init__(self, client: ChainClient, key: WalletKey, journal: SendJournal | str | Path, workchain: int = 0):
        self.client = client
        self.key = key
        self.journal = journal if isinstance(journal, SendJournal) else SendJournal(journal)
        self.workchain = workchain
        self.state_init = StateInit(code=self.code(), data=self.initial_data())
        self.address = Address((workchain, self.state_init.serialize().hash))

    # ---- per wallet kind -----------------------------------------------------------------------------
    @abstractmethod
    def code(self) -> Cell: ...

    @abstractmethod
    def initial_data(self) -> Cell: ...

    @abstractmethod
    def _sign(self, data: dict, transfers: list[Transfer], active: bool, previous: dict | None) -> dict:
        """Sign a message for the transfers: {"body": external body, "valid_until": ..., seqno or query id, ...}.
        `previous` is the intent's earlier record (expired or failed), if any."""

    def _check_fence(self, data: dict, info: AccountInfo) -> None:
        """Refuse to sign while the journal cannot know the wallet's open messages (highload only)."""

    @abstractmethod
    def _slot_consumed(self, record: dict) -> bool:
        """Whether the wallet on chain shows the record's seqno / query id as used."""

    def _carried(self, transfers: list[Transfer]) -> list[Cell]:
        """The messages the external message itself carries: importing it costs as much as forwarding them."""
        return [t.message for t in transfers]

    def _forwarded(self, transfers: list[Transfer]) -> list[Cell]:
        """Every internal message the wallet sends, and pays forwarding for, to make these transfers."""
        return [t.message for t in transfers]

    def required_balance(self, transfers: Sequence[Transfer]) -> int:
        """What the wallet must hold to send `transfers`: their values, importing the external message,
        forwarding every internal message, and gas."""
        transfers = list(transfers)
        messages = self._carried(transfers) + self._forwarded(transfers)
        return (sum(t.value for t in transfers) + FEE_RESERVE_PER_TRANSFER * (len(transfers) + 1)
                + sum(forward_fee(m) for m in messages))

    # ---- the protocol --------------------------------------------------------------------------------
    def send(self, transfers: Sequence[Transfer], *, intent_id: str | None = None, wait_seconds: float = 60.0,
             rebroadcast_seconds: float = 10.0) -> SendResult:
        transfers = list(transfers)
        if not 1 <= len(transfers) <= self.max_transfers:
            raise ValueError(f"{self.kind} sends 1 to {self.max_transfers} transfers at once, not {len(transfers)}")
        prints = fingerprint(transfers)
        intent = intent_id or f"transfers:{prints}"
        deadline = time.monotonic() + wait_seconds
        with self.journal.session() as data:
            record = data["sends"].get(intent)
            if record is not None and (record["fingerprint"], record["wallet"]) != (prints, raw_address(self.address)):
                raise IntentConflict(f"intent {intent!r} is recorded for other transfers or another wallet")
            if record is not None and record["status"] == "confirmed":
                return self._result(record, reused=True)
            while True:
                if record is None or record["status"] in ("expired", "failed"):
                    record = self._sign_and_record(data, intent, prints, transfers, record, deadline,
                                                   rebroadcast_seconds)
                tx = self._drive(data, record, deadline, rebroadcast_seconds, wait_seconds)
                if tx is None:
                    log.info("intent %s: message %s expired unprocessed; signing it again", intent, record["body_hash"])
                    continue
                return self._settle(data, record, tx, deadline)

    def settle_open(self, wait_seconds: float = 10.0) -> list[str]:
        """Settle every open message of this wallet that landed or can no longer land (callers run this before
        reading the chain, so a message that landed since the last run is recorded, not left `sent`); returns
        the intents still open (a landed one whose links are still running within `wait_seconds` included)."""
        wallet = raw_address(self.address)
        deadline = time.monotonic() + wait_seconds
        with self.journal.session() as data:
            still_open = []
            for record in list(data["sends"].values()):
                if record["wallet"] != wallet or record["status"] not in OPEN:
                    continue
                tx = self.client.find_processed(self.address, record["body_hash"], record["after_lt"])
                if tx is not None:
                    with contextlib.suppress(SendError):    # failed / partial are recorded; running links stay open
                        self._settle(data, record, tx, deadline)
                elif self._expired_unused(record):
                    self._update(data, record, status="expired")
                if record["status"] in OPEN:
                    still_open.append(record["intent"])
            return still_open

    def _drive(self, data: dict, record: dict, deadline: float, rebroadcast_seconds: float,
               wait_seconds: float) -> TxRecord | None:
        """Bring a recorded message on chain: its transaction, None once it can never land, or MessageTimeout."""
        sent = self._sent(record)
        while True:
            tx = self.client.find_processed(self.address, record["body_hash"], record["after_lt"])
            if tx is not None:
                return tx
            if self._expired_unused(record):
                self._update(data, record, status="expired")
                return None
            self._broadcast(data, record)
            remaining = deadline - time.monotonic()
            try:
                return self.client.wait_for(sent, max(0.0, min(rebroadcast_seconds, remaining)), record["after_lt"])
            except MessageTimeout as timeout:
                if time.monotonic() >= deadline:
                    journaled = (f"; journal {self.journal.location} keeps it as {record['status']}, "
                                 f"valid until {record['valid_until']}")
                    raise MessageTimeout(sent, wait_seconds, timeout.observed + journaled) from None

    def _settle_others(self, data: dict, intent: str, destinations: set[str], deadline: float,
                       rebroadcast_seconds: float) -> None:
        """Before signing for `intent`: settle every other open message of this wallet. One that may reach any
        of the same destinations is driven until it lands or can never land; if it landed, raise Superseded."""
        wallet = raw_address(self.address)
        for other in list(data["sends"].values()):
            if other["wallet"] != wallet or other["intent"] == intent or other["status"] not in OPEN:
                continue
            shared = destinations & set(other.get("destinations") or destinations)  # unknown: assume shared
            if shared:
                try:
                    tx = self._drive(data, other, deadline, rebroadcast_seconds, 0.0)
                except MessageTimeout:
                    raise OpenMessagePending(
                        f"intent {intent!r}: the open message of intent {other['intent']!r} (body hash "
                        f"{other['body_hash']}) may still reach {len(shared)} of the same address(es); nothing new "
                        f"is signed until it lands or can no longer land (chain time {other['valid_until']} + "
                        f"{EXPIRY_MARGIN_SECONDS} s): run again later") from None
            else:
                tx = self.client.find_processed(self.address, other["body_hash"], other["after_lt"])
            if tx is None:
                continue
            with contextlib.suppress(SendError):   # failed / partial are recorded; links still running stay open
                self._settle(data, other, tx, deadline)
            if shared and other["status"] != "failed":   # it sent something, or its links may still be running
                raise Superseded(
                    f"intent {intent!r}: the earlier message of intent {other['intent']!r} landed meanwhile "
                    f"(transaction {tx.hash}) and may have reached {len(shared)} of the same address(es); nothing "
                    f"was signed: re-read the chain and send only what is still missing")

    def _sign_and_record(self, data: dict, intent: str, prints: str, transfers: list[Transfer],
                         previous: dict | None, deadline: float, rebroadcast_seconds: float) -> dict:
        destinations = {raw_address(t.destination) for t in transfers}
        self._settle_others(data, intent, destinations, deadline, rebroadcast_seconds)
        info = self.client.account(self.address)
        self._check_fence(data, info)
        needed = self.required_balance(transfers)
        if info.balance < needed:
            raise InsufficientFunds(f"{self.kind} wallet {raw_address(self.address)} holds {info.balance} nanotons; "
                                    f"sending {len(transfers)} transfer(s) needs about {needed}")
        signed = self._sign(data, transfers, info.status == "active", previous)
        message = MessageAny(ExternalMsgInfo(None, self.address, 0),
                             None if info.status == "active" else self.state_init, signed.pop("body")).serialize()
        size = len(message.to_boc())
        if size > MAX_EXTERNAL_MESSAGE_BYTES:
            raise SendError(f"intent {intent!r}: the external message for {len(transfers)} transfer(s) would be "
                            f"{size} bytes; validators refuse more than {MAX_EXTERNAL_MESSAGE_BYTES}: send fewer at once")
        record = {
            "intent": intent, "fingerprint": prints, "wallet": raw_address(self.address), "kind": self.kind,
            "status": "signed", "attempt": (previous["attempt"] + 1) if previous else 1,
            "after_lt": info.last_tx_lt, "message_hash": message.hash.hex(),
            "body_hash": MessageAny.deserialize(message.begin_parse()).body.hash.hex(),
            "message_boc": base64.b64encode(message.to_boc()).decode(),
            "transfer_hashes": [t.message.hash.hex() for t in transfers], "broadcasts": 0,
            "destinations": sorted(destinations),
            "history": (previous.get("history", []) + [_summary(previous)]) if previous else [],
            **signed,
        }
        data["sends"][intent] = record
        self.journal.save(data)  # recorded before it can leave the process
        log.info("intent %s: signed %s message %s (attempt %d, valid until %d)", intent, self.kind,
                 record["body_hash"], record["attempt"], record["valid_until"])
        return record

    def _broadcast(self, data: dict, record: dict) -> None:
        try:
            self.client.send_message(Cell.one_from_boc(base64.b64decode(record["message_boc"])))
        except NetworkError as error:
            log.warning("intent %s: broadcast may not have reached the network (%s); will look and retry",
                        record["intent"], error)
            return
        except MessageRejected as rejected:
            if self.client.find_processed(self.address, record["body_hash"], record["after_lt"]) is None \
                    and not self._expired_unused(record):
                raise SendError(f"the network refuses the recorded message of intent {record['intent']!r} "
                                f"({rejected}); nothing new was signed. It is valid until {record['valid_until']}; "
                                f"a retry after {record['valid_until'] + EXPIRY_MARGIN_SECONDS} (chain time) may "
                                f"replace it") from None
            return
        self._update(data, record, status="sent", broadcasts=record["broadcasts"] + 1)

    def _expired_unused(self, record: dict) -> bool:
        if self.client.now() <= record["valid_until"] + EXPIRY_MARGIN_SECONDS:
            return False
        if self._slot_consumed(record):
            raise AmbiguousSend(
                f"intent {record['intent']!r}: the recorded message (body hash {record['body_hash']}) is not among "
                f"the wallet's transactions since lt {record['after_lt']}, yet its {self._slot_name(record)} was "
                f"used on chain; not signing again")
        return True

    def _settle(self, data: dict, record: dict, tx: TxRecord, deadline: float) -> SendResult:
        txs = [tx] + self._follow_links(record, tx, deadline)
        outside = [m for t in txs for m in t.out_messages if m.dest is not None and m.dest != self.address]
        failed = next((t for t in txs if not t.success), None)
        fields = {"tx_lt": tx.lt, "tx_hash": tx.hash, "fees": sum(t.total_fees for t in txs),
                  "transfers_sent": len(outside)}
        if failed is not None or len(outside) != len(record["transfer_hashes"]):
            partial = bool(outside)
            self._update(data, record, status="partial" if partial else "failed",
                         failure=f"transaction {failed.hash if failed else tx.hash} exit code "
                                 f"{failed.exit_code if failed else tx.exit_code}", **fields)
            raise SendFailed(f"intent {record['intent']!r}: the wallet processed the message but sent "
                             f"{len(outside)} of {len(record['transfer_hashes'])} transfers "
                             f"({record['failure']})" + ("; not retrying a partial batch" if partial else
                                                          "; nothing was sent, a retry signs anew"), partial)
        self._update(data, record, status="confirmed", **fields)
        return self._result(record, reused=False)

    def _follow_links(self, record: dict, tx: TxRecord, deadline: float) -> list[TxRecord]:
        """Highload: the wallet transactions that executed the internal_transfer links this send emitted.

        Waits only for links some transaction actually sent: one that failed, or sent nothing (a wallet short
        of funds), ends the chain, and the caller settles with what ran.
        """
        wanted = set(record.get("link_body_hashes", []))
        if not wanted:   # a wallet v4r2 message: no links
            return []
        while True:
            recent = self.client.transactions(self.address, 16 + 2 * len(wanted))
            found = {t.in_body_hash: t for t in recent if t.lt > tx.lt and not t.in_external
                     and t.in_sender == self.address and t.in_body_hash in wanted}
            emitted = {m.body.hash.hex() for t in [tx, *found.values()] for m in t.out_messages
                       if m.dest == self.address and m.body.hash.hex() in wanted}
            if emitted <= found.keys():
                return sorted(found.values(), key=lambda t: t.lt)
            if time.monotonic() >= deadline:
                raise SendError(f"intent {record['intent']!r}: the external message was processed (tx {tx.hash}) "
                                f"but {len(emitted - found.keys())} internal batch link(s) are not yet")
            time.sleep(self.client.settings.poll_interval_seconds)

    def _update(self, data: dict, record: dict, **fields) -> None:
        record.update(fields)
        self.journal.save(data)

    def _sent(self, record: dict) -> SentMessage:
        return SentMessage(self.address, record["message_hash"], record["body_hash"],
                           f"of intent {record['intent']!r} ({self._slot_name(record)})")

    @staticmethod
    def _slot_name(record: dict) -> str:
        return f"seqno {record['seqno']}" if "seqno" in record else f"query id {record['query_id']}"

    def _result(self, record: dict, reused: bool) -> SendResult:
        return SendResult(record["intent"], record["wallet"], record["tx_lt"], record["tx_hash"],
                          record["transfers_sent"], record["fees"], record["attempt"], reused)


def _summary(record: dict) -> dict:
    return {k: record[k] for k in ("attempt", "status", "body_hash", "valid_until") if k in record}


class WalletV4R2(JournaledWallet):
    """The standard wallet v4r2: up to 4 transfers per message, replay-protected by seqno."""
    kind = "wallet_v4r2"
    max_transfers = V4R2_MAX_TRANSFERS

    def __init__(self, client: ChainClient, key: WalletKey, journal: SendJournal | str | Path, workchain: int = 0,
                 ttl_seconds: int = 120):
        self.ttl_seconds = ttl_seconds
        super().__init__(client, key, journal, workchain)

    def code(self) -> Cell:
        return WALLET_V4_R2_CODE

    def initial_data(self) -> Cell:
        return WalletV4Data(seqno=0, wallet_id=V4R2_WALLET_ID + self.workchain, public_key=self.key.public_key,
                            plugins=None).serialize()

    def seqno(self) -> int:
        if self.client.account(self.address).status != "active":
            return 0
        return self.client.run_get_method(self.address, "seqno")[0]

    def _sign(self, data: dict, transfers: list[Transfer], active: bool, previous: dict | None) -> dict:
        seqno = self.seqno() if active else 0
        valid_until = self.client.now() + self.ttl_seconds
        signed = (begin_cell().store_uint(V4R2_WALLET_ID + self.workchain, 32).store_uint(valid_until, 32)
                  .store_uint(seqno, 32).store_uint(0, 8))  # op 0: simple send
        for transfer in transfers:
            signed.store_uint(SEND_MODE_PAY_FEES_SEPARATELY, 8).store_ref(transfer.message)
        signed = signed.end_cell()
        body = begin_cell().store_bytes(self.key.sign(signed)).store_cell(signed).end_cell()
        return {"body": body, "seqno": seqno, "valid_until": valid_until}

    def _slot_consumed(self, record: dict) -> bool:
        return self.seqno() > record["seqno"]


class HighloadWalletV3(JournaledWallet):
    """Highload wallet v3: hundreds of transfers in one external message, replay-protected by query id."""
    kind = "highload_wallet_v3"
    max_transfers = HIGHLOAD_MAX_TRANSFERS

    def __init__(self, client: ChainClient, key: WalletKey, journal: SendJournal | str | Path, workchain: int = 0,
                 timeout_seconds: int = HIGHLOAD_V3_TIMEOUT):
        if not 5 < timeout_seconds < (1 << 22):
            raise ValueError("highload wallet timeout must be between 6 seconds and 2^22")
        self.timeout_seconds = timeout_seconds
        super().__init__(client, key, journal, workchain)

    def code(self) -> Cell:
        return HIGHLOAD_V3_WALLET_CODE

    def initial_data(self) -> Cell:
        return HighloadWalletV3Data(wallet_id=HIGHLOAD_V3_WALLET_ID + self.workchain, public_key=self.key.public_key,
                                    last_clean_time=0, old_queries=None, queries=None,
                                    timeout=self.timeout_seconds).serialize()

    def processed(self, query_id: int) -> bool:
        if self.client.account(self.address).status != "active":
            return False
        return self.client.run_get_method(self.address, "processed?", [query_id, 0])[0] != 0

    def _allocate_query_id(self, data: dict, active: bool, previous: dict | None) -> int:
        """A query id for a new message. An expired intent keeps its id (so at most one of its messages can ever
        be processed); otherwise the next id not yet processed, never the reserved emergency id. A journal that
        has not signed for this wallet starts at FIRST_QUERY_ID, so every first message of an uninitialised
        wallet carries it, whichever journal signed it."""
        slot = data["wallets"].setdefault(raw_address(self.address), {"next_query": FIRST_QUERY_ID})
        if previous is not None and previous["status"] == "expired":
            return previous["query_id"]
        for _ in range(1024):
            n = slot["next_query"]
            slot["next_query"] = (n + 1) % (QUERY_ID_SPACE - 1)   # the last id is the emergency one
            query_id = ((n // 1023) << 10) | (n % 1023)
            if not active or not self.processed(query_id):
                return query_id
        raise SendError(f"no free query id found on highload wallet {raw_address(self.address)}")

    def _check_fence(self, data: dict, info: AccountInfo) -> None:
        wallet = raw_address(self.address)
        now = self.client.now()
        slot = data["wallets"].get(wallet)
        if slot is None and info.status == "active":
            # A lost or unshared journal: messages signed elsewhere may be in flight, and the chain does not show
            # them before they land. Each is valid at most `timeout` seconds after it was signed (before now).
            slot = data["wallets"][wallet] = {"next_query": 0, "fence_until": now + self.timeout_seconds
                                              + EXPIRY_MARGIN_SECONDS}
            self.journal.save(data)
        fence = (slot or {}).get("fence_until", 0)
        if now <= fence:
            raise JournalFence(
                f"the send journal {self.journal.location} has no record of highload wallet {wallet}, which is already "
                f"active: a message signed from another journal may still be in flight, so nothing is signed "
                f"before chain time {fence} (in {fence - now} s, when any such message has landed or expired). "
                f"Keep the journal beside the stack's state so every operator reads it; run again after that time",
                fence)

    def _link(self, transfers: list[Transfer], query_id: int) -> tuple[Cell, int, list[str], list[Cell]]:
        """The internal_transfer message to self for these transfers: (message, value, link body hashes,
        every link message, this one first)."""
        here, rest = (transfers, []) if len(transfers) <= TRANSFERS_PER_LINK + 1 else \
            (transfers[:TRANSFERS_PER_LINK], transfers[TRANSFERS_PER_LINK:])
        actions = [(SEND_MODE_PAY_FEES_SEPARATELY, t.message) for t in here]
        value = sum(t.value for t in here) + FEE_RESERVE_PER_TRANSFER * (len(here) + 1)
        later: list[str] = []
        later_links: list[Cell] = []
        if rest:
            next_message, next_value, later, later_links = self._link(rest, query_id)
            actions.append((SEND_MODE_PAY_FEES_SEPARATELY, next_message))
            value += next_value
        out_list = Cell.empty()
        for mode, message in actions:
            out_list = (begin_cell().store_ref(out_list).store_uint(ACTION_SEND_MSG, 32).store_uint(mode, 8)
                        .store_ref(message).end_cell())
        body = begin_cell().store_uint(INTERNAL_TRANSFER_OP, 32).store_uint(query_id, 64).store_ref(out_list).end_cell()
        message = Transfer(self.address, value, body, bounce=False).message
        return message, value, [body.hash.hex()] + later, [message] + later_links

    def _sign(self, data: dict, transfers: list[Transfer], active: bool, previous: dict | None) -> dict:
        query_id = self._allocate_query_id(data, active, previous)
        created_at = self.client.now() - CLOCK_SKEW_SECONDS
        message, _, links, _ = self._link(transfers, query_id)
        signed = (begin_cell().store_uint(HIGHLOAD_V3_WALLET_ID + self.workchain, 32).store_ref(message)
                  .store_uint(SEND_MODE_PAY_FEES_SEPARATELY, 8).store_uint(query_id, 23).store_uint(created_at, 64)
                  .store_uint(self.timeout_seconds, 22).end_cell())
        body = begin_cell().store_bytes(self.key.sign(signed)).store_ref(signed).end_cell()
        return {"body": body, "query_id": query_id, "created_at": created_at,
                "valid_until": created_at + self.timeout_seconds, "link_body_hashes": links}

    def _slot_consumed(self, record: dict) -> bool:
        return self.processed(record["query_id"])

    def _carried(self, transfers: list[Transfer]) -> list[Cell]:
        return [self._link(transfers, 0)[0]]

    def _forwarded(self, transfers: list[Transfer]) -> list[Cell]:
        return super()._forwarded(transfers) + self._link(transfers, 0)[3]


def deployer_wallet_addresses(mnemonic: str, workchain: int = 0) -> dict[str, Address]:
    """The addresses of both deployer wallets a mnemonic controls (v4r2 for contracts, highload v3 for shard
    batches), computed offline. Config and policy rules use them: no admin address may be one of these."""
    key = WalletKey.from_mnemonic(mnemonic)
    # The wallets only derive their address here: no client is used and the journal is never opened.
    return {cls.kind: cls(None, key, SendJournal(os.devnull), workchain).address  # type: ignore[arg-type]
            for cls in (WalletV4R2, HighloadWalletV3)}
