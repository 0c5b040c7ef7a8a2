"""Testnet / mainnet through liteservers: every answer the deployer acts on is proven (chain/proofs.py).

- Trust: the network's pinned key block (chain/trust.py). A liteserver's newest masterchain block is believed
  once forward links signed by the validators each key block names lead to it from there. Validator sets,
  proven blocks and the newest key block are remembered (the last one across runs, `trust_cache_path`).
- Quorum: `liteserver_quorum` liteservers (default 2) are drawn at random from the config file (one that
  fails is replaced by another drawn at random) and asked for their newest block; the newest proven block of
  them all decides, so a liteserver that lags or withholds blocks is outvoted by any one that is current. If
  even that block is older than `max_block_age_seconds` by this machine's clock, nothing is concluded
  (`LiteserversBehind`, retried like a network error).
- Answers: an account (active, uninit, frozen, or absent) only with the Merkle proofs that tie it to that
  block; get-methods (a wallet's seqno, `processed?`, the contracts' getters) run here, on the proven state,
  with the bundled config; transactions only as a hash chain from the proven account; chain time is the
  proven block's time. A message is broadcast through every liteserver of the quorum.
- An answer that does not verify stops everything with `UnprovenAnswer`, naming the liteserver and the check.
  It is not retried elsewhere: a liteserver that lies is removed from the config by an operator, not
  silently outvoted.

The network config is a file whose path comes from stack config; it is read and checked (its zero state must
be the one of the requested network) when the client is built, and never downloaded. Connections and the
private event loop are opened on the first request, so building a client opens nothing. pytoniq provides the
ADNL transport only; none of its trust levels is relied on.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import socket
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable, TypeVar

from pytoniq.liteclient.client import LiteClient, LiteServerError
from pytoniq_core import Address, Cell
from pytoniq_core.tl.block import BlockIdExt

from chain.client import ChainClient, ChainSettings
from chain.errors import ConfigError, LiteserversBehind, MessageRejected, NetworkError, UnprovenAnswer
from chain.proofs import (
    MASTERCHAIN, ROOT_SHARD, ProvenBlock, Validators, block_header, block_id, describe, merkle_roots, prove_account,
    prove_transactions, verify_forward_link,
)
from chain.records import AccountInfo, TxRecord, account_info, parse_transaction, raw_address
from chain.trust import TrustCache, trusted_key_block

log = logging.getLogger(__name__)
T = TypeVar("T")

# Zero state (masterchain block 0) root hashes: what tells one TON network from another.
ZERO_STATE_ROOT_HASHES = {
    "mainnet": "F6OpKZKqvqeFp6CQmFomXNMfMj2EnaUSOXN+Mh+wVWk=",
    "testnet": "gj+B8wb/AmlPk1z1AhVI484rhrUpgSr2oSFIh56VoSg=",
}
STARTUP_TIMEOUT_FACTOR = 3   # connecting to a liteserver may take a few request timeouts
MAX_PROOF_ROUNDS = 10_000    # partial block proofs for one block (each must move forward)
TRANSACTIONS_PER_REQUEST = 16
PROVEN_BLOCKS_KEPT = 256


def load_network_config(path: str, network: str) -> dict:
    """Read a global network config file and check it is for `network`."""
    file = Path(path)
    try:
        config = json.loads(file.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{network} network config file {file} does not exist") from None
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError(f"{network} network config file {file} is not readable JSON: {error}") from None
    if not isinstance(config, dict) or not config.get("liteservers"):
        raise ConfigError(f"{file} lists no liteservers: not a TON global network config")
    try:
        zero_state = config["validator"]["zero_state"]["root_hash"]
    except (KeyError, TypeError):
        raise ConfigError(f"{file} has no validator.zero_state.root_hash: not a TON global network config") from None
    actual = next((name for name, root in ZERO_STATE_ROOT_HASHES.items() if root == zero_state), "an unknown network")
    if actual != network:
        raise ConfigError(f"{file} is the config of {actual}, but the stack asks for {network}")
    return config


class _Transport(LiteClient):
    """pytoniq's ADNL connection to one liteserver, nothing more: which blocks to believe is decided here."""

    async def update_last_blocks(self) -> None:
        return None

    async def block_updater(self) -> None:
        return None


@dataclass
class _Peer:
    index: int
    label: str          # host:port, as errors name it
    transport: _Transport


class _PeerFailed(Exception):
    """A liteserver failed to answer (timeout, lost connection, an error it reported): try another."""

    def __init__(self, peer: _Peer, error: BaseException):
        self.peer, self.error = peer, error
        detail = f"{error.message} (code {error.code})" if isinstance(error, LiteServerError) else str(error)
        super().__init__(f"liteserver {peer.label}: {type(error).__name__}: {detail}")


class LiteserverClient(ChainClient):
    def __init__(self, settings: ChainSettings):
        super().__init__(settings)
        self._config = load_network_config(settings.liteserver_config_path, settings.network)
        count = len(self._config["liteservers"])
        if count < settings.liteserver_quorum:
            raise ConfigError(f"{settings.liteserver_config_path} lists {count} liteserver(s); liteserver_quorum asks "
                              f"{settings.liteserver_quorum} of them for every read")
        self._anchor = trusted_key_block(settings.network, settings.trusted_key_block)
        self._cache = TrustCache(settings.trust_cache_path, settings.network, self._anchor)
        self._key_blocks: list[BlockIdExt] | None = None   # known key blocks, oldest first (read on first use)
        self._validators: dict[bytes, Validators] = {}
        self._proven: dict[bytes, ProvenBlock] = {}
        self._order = list(range(count))
        random.SystemRandom().shuffle(self._order)          # independent of the config's order, per client
        self._next = 0
        self._peers: list[_Peer] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    # ---- requests, retries, peers -----------------------------------------------------------------------
    def _request(self, what: str, operation: Callable[[], Awaitable[T]]) -> T:
        attempts = self.settings.retries + 1
        loop = self._event_loop()
        for attempt in range(1, attempts + 1):
            try:
                return loop.run_until_complete(operation())
            except _PeerFailed as failed:
                last: Exception = failed
                loop.run_until_complete(self._drop(failed.peer))
            except NetworkError as error:   # too few liteservers reachable, or all of them behind
                last = error
            log.warning("%s on %s: attempt %d/%d failed (%s)", what, self.network, attempt, attempts, last)
            if attempt < attempts:
                loop.run_until_complete(asyncio.sleep(self.settings.retry_backoff_seconds * attempt))
        if isinstance(last, LiteserversBehind):
            raise last
        raise NetworkError(f"{what} on {self.network} failed after {attempts} attempt(s) (timeout "
                           f"{self.settings.request_timeout_seconds}s per request): {last}") from None

    async def _ask(self, peer: _Peer, method: str, data: dict) -> dict:
        try:
            return await asyncio.wait_for(peer.transport.liteserver_request(method, data),
                                          self.settings.request_timeout_seconds)
        except Exception as error:  # noqa: BLE001 - every failure of this liteserver: try another
            raise _PeerFailed(peer, error) from None

    async def _quorum(self) -> list[_Peer]:
        """`liteserver_quorum` connected liteservers, drawn at random from the config."""
        needed = self.settings.liteserver_quorum
        tried: list[str] = []
        while len(self._peers) < needed and len(tried) < len(self._order):
            index = self._order[self._next % len(self._order)]
            self._next += 1
            if any(p.index == index for p in self._peers):
                continue
            entry = self._config["liteservers"][index]
            label = f"{socket.inet_ntoa(struct.pack('>i', entry['ip']))}:{entry['port']}"
            tried.append(label)
            peer = None
            try:
                peer = _Peer(index, label, _Transport(label.split(":")[0], entry["port"], entry["id"]["key"],
                                                      timeout=self.settings.request_timeout_seconds, trust_level=2))
                await asyncio.wait_for(peer.transport.connect(),
                                       STARTUP_TIMEOUT_FACTOR * self.settings.request_timeout_seconds)
            except Exception as error:  # noqa: BLE001 - unreachable or a bad entry: draw another
                log.warning("liteserver %s unreachable: %s: %s", label, type(error).__name__, error)
                if peer is not None:
                    with contextlib.suppress(Exception):
                        await peer.transport.close()
                continue
            self._peers.append(peer)
        if len(self._peers) < needed:
            raise NetworkError(f"only {len(self._peers)} of the {needed} liteservers that must answer every read "
                               f"(chain settings liteserver_quorum) are reachable on {self.network} (tried "
                               f"{', '.join(tried) or 'none'}); nothing is concluded from fewer")
        return list(self._peers)

    async def _drop(self, peer: _Peer) -> None:
        if peer in self._peers:
            self._peers.remove(peer)
        with contextlib.suppress(Exception):
            await peer.transport.close()

    # ---- proven blocks ----------------------------------------------------------------------------------
    def _known_key_blocks(self) -> list[BlockIdExt]:
        if self._key_blocks is None:
            cached = self._cache.load()
            self._key_blocks = [self._anchor] + ([cached] if cached and cached.seqno > self._anchor.seqno else [])
        return self._key_blocks

    def _learn_key_block(self, block: BlockIdExt) -> None:
        known = self._known_key_blocks()
        if all(k.seqno != block.seqno for k in known):
            known.append(block)
            known.sort(key=lambda k: k.seqno)
            if block == known[-1]:
                self._cache.save(block)

    async def _prove(self, peer: _Peer, last: BlockIdExt) -> ProvenBlock:
        """The masterchain block `last` the liteserver claims as its newest, proven from the newest key block known
        before it (every key block on the way is learned, so later proofs start there)."""
        what = f"liteserver {peer.label}"
        if last.workchain != MASTERCHAIN or last.shard != ROOT_SHARD:
            raise UnprovenAnswer(f"{what}: its newest block {describe(last)} is not a masterchain block")
        if (proven := self._proven.get(last.root_hash)) is not None and proven.block == last:
            return proven
        starts = [k for k in self._known_key_blocks() if k.seqno <= last.seqno]
        if not starts:
            raise _PeerFailed(peer, LiteserversBehind(
                f"its newest block {last.seqno} is older than the trusted key block {self._anchor.seqno}"))
        current = starts[-1]
        if current == last:
            proven = await self._key_block_itself(peer, last)
        for _ in range(MAX_PROOF_ROUNDS):
            if current == last:
                break
            answer = await self._ask(peer, "getBlockProof", {"mode": 1, "known_block": current.to_dict(),
                                                             "target_block": last.to_dict()})
            if not answer.get("steps"):
                raise UnprovenAnswer(f"{what}: no proof links from {describe(current)} to its newest block")
            for step in answer["steps"]:
                proven = verify_forward_link(current, step, self._validators, what)
                current = proven.block
                if proven.key_block:
                    self._learn_key_block(current)
            if current != last and not proven.key_block:
                raise UnprovenAnswer(f"{what}: a partial proof ends at {describe(current)}, not a key block")
        if current != last:
            raise UnprovenAnswer(f"{what}: its proof never reaches its newest block {describe(last)}")
        if len(self._proven) >= PROVEN_BLOCKS_KEPT:
            self._proven.pop(next(iter(self._proven)))
        self._proven[last.root_hash] = proven
        return proven

    async def _key_block_itself(self, peer: _Peer, block: BlockIdExt) -> ProvenBlock:
        """A trusted key block that is also the liteserver's newest block: only its time is read (its header)."""
        answer = await self._ask(peer, "getBlockHeader", {"id": block.to_dict(), "mode": 0})
        (root,) = merkle_roots(answer["header_proof"], 1, f"liteserver {peer.label}: block header")
        header = block_header(root, block, f"liteserver {peer.label}: block header")
        return ProvenBlock(block, header.gen_utime, header.key_block)

    async def _newest(self) -> tuple[_Peer, ProvenBlock]:
        """The newest block the quorum's liteservers claim, proven, and a liteserver that has it. Only the newest
        claim matters (an older one is lag, harmless), so only it is proven; every distinct claim at that height
        is, so a liteserver that makes one up is caught, not ignored."""
        peers = await self._quorum()
        infos = await asyncio.gather(*(self._ask(p, "getMasterchainInfo", {}) for p in peers), return_exceptions=True)
        for info in infos:
            if isinstance(info, BaseException):
                raise info
        claims = [(peer, block_id(info["last"])) for peer, info in zip(peers, infos)]
        top = max(last.seqno for _, last in claims)
        newest: tuple[_Peer, ProvenBlock] | None = None
        for peer, last in claims:
            if last.seqno == top and (newest is None or newest[1].block != last):
                newest = (peer, await self._prove(peer, last))
        peer, proven = newest
        age = time.time() - proven.gen_utime
        if age > self.settings.max_block_age_seconds:
            raise LiteserversBehind(
                f"the newest proven masterchain block of {len(peers)} liteservers ({', '.join(p.label for p in peers)}) "
                f"is {describe(proven.block)}, {age:.0f}s old by this machine's clock (chain settings "
                f"max_block_age_seconds: {self.settings.max_block_age_seconds:.0f}); they lag or withhold newer blocks")
        return peer, proven

    async def _proven_account(self, address: Address) -> tuple[ProvenBlock, _Peer, Cell | None]:
        peer, head = await self._newest()
        answer = await self._ask(peer, "getAccountState", {"id": head.block.to_dict(),
                                                           "account": address.to_tl_account_id()})
        return head, peer, prove_account(head.block, address, answer,
                                         f"liteserver {peer.label}: account {raw_address(address)}")

    # ---- ChainClient --------------------------------------------------------------------------------------
    def account(self, address: Address) -> AccountInfo:
        return self._account_at_head(address)[1]

    def _account_at_head(self, address: Address) -> tuple[ProvenBlock, AccountInfo]:
        head, _, shard_account = self._request("account state", lambda: self._proven_account(address))
        if shard_account is None:
            return head, AccountInfo("nonexist", 0, None, None, None, None, 0, None)
        return head, account_info(shard_account)

    def run_get_method(self, address: Address, method: str | int, stack: list | None = None) -> list:
        from chain.sandbox import run_getter   # the TVM loads only when a getter runs

        head, info = self._account_at_head(address)
        return run_getter(info, address, method, stack, head.gen_utime)

    def send_message(self, message: Cell) -> None:
        boc = message.to_boc()

        async def broadcast() -> None:
            peers = await self._quorum()
            results = await asyncio.gather(*(self._ask(p, "sendMessage", {"body": boc}) for p in peers),
                                           return_exceptions=True)
            if any(not isinstance(r, BaseException) for r in results):
                return
            refused = [r.error for r in results if isinstance(r, _PeerFailed) and isinstance(r.error, LiteServerError)]
            if len(refused) == len(results):
                raise MessageRejected(f"liteservers refused the external message: {refused[0].message} "
                                      f"(code {refused[0].code})")
            raise next(r for r in results if isinstance(r, _PeerFailed))

        self._request("send external message", broadcast)

    def transactions(self, address: Address, limit: int = 20) -> list[TxRecord]:
        async def read() -> list[Cell]:
            _, peer, shard_account = await self._proven_account(address)
            info = account_info(shard_account) if shard_account is not None else None
            if info is None or info.last_tx_lt == 0 or limit <= 0:
                return []
            lt, tx_hash, cells = info.last_tx_lt, bytes.fromhex(info.last_tx_hash), []
            while len(cells) < limit and lt:
                answer = await self._ask(peer, "getTransactions", {
                    "count": min(TRANSACTIONS_PER_REQUEST, limit - len(cells)), "account": address.to_tl_account_id(),
                    "lt": lt, "hash": tx_hash.hex()})
                found = prove_transactions(answer, lt, tx_hash, f"liteserver {peer.label}: transactions of "
                                                                f"{raw_address(address)}")
                if not found:
                    break
                cells += found
                last = found[-1].begin_parse()
                last.skip_bits(4 + 256 + 64)
                tx_hash, lt = last.load_bytes(32), last.load_uint(64)
            return cells

        return [parse_transaction(address, cell) for cell in self._request("transactions", read)]

    def now(self) -> int:
        """The newest proven masterchain block's time (what contracts see as now(), give or take a block)."""
        return self._request("chain time", self._newest)[1].gen_utime

    def proven_key_blocks(self) -> list[BlockIdExt]:
        """Prove the quorum's newest blocks from the trust anchor; every key block on the way, oldest first
        (`python -m chain trust` shows them to move a pin forward)."""
        self.now()
        return list(self._known_key_blocks())

    # ---- lifecycle ----------------------------------------------------------------------------------------
    def _event_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop

    def close(self) -> None:
        if self._loop is None:
            return
        for peer in list(self._peers):
            try:
                self._loop.run_until_complete(self._drop(peer))
            except Exception as error:  # noqa: BLE001 - closing is best effort
                log.warning("closing liteserver %s: %s", peer.label, error)
        self._loop.close()
        self._loop, self._peers = None, []
