"""The trust anchor of each public network: a pinned key block, and the newest key block proven from it.

Every liteserver answer the deployer acts on is proven from the pinned key block of its network
(chain/proofs.py): a chain of forward links signed by the validators each key block names. The pin is code,
reviewed like code; how it was obtained and how to move it forward are in docs/chain.md ("Trusted key
blocks"). In short: a pin is the `validator.init_block` of the network's official global config
(ton.org/global-config.json, served from github.com/ton-blockchain/ton-blockchain.github.io), and a new pin
is accepted only once `python -m chain trust` has proven it from the current one through the liteservers.

Walking from an old pin to today costs one forward link per key block since the pin (about one or two a
day on mainnet). The newest key block proven so far is kept in a local cache file (the stack's `.state/`),
bound to the pin it was proven from, so the next run starts there; the cache only ever shortens the walk
(it is written after a proof and read only for the same pin and network).
"""
from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path

from pytoniq_core.tl.block import BlockIdExt

from chain.errors import ConfigError

MASTERCHAIN_SHARD = -(2**63)


@dataclass(frozen=True)
class PinnedKeyBlock:
    seqno: int
    root_hash: str     # base64, as global configs write it
    file_hash: str
    source: str        # where the value was taken from, and when

    @property
    def block(self) -> BlockIdExt:
        return BlockIdExt(-1, MASTERCHAIN_SHARD, self.seqno, base64.b64decode(self.root_hash),
                          base64.b64decode(self.file_hash))


PINNED_KEY_BLOCKS: dict[str, PinnedKeyBlock] = {
    "mainnet": PinnedKeyBlock(
        seqno=43792209, root_hash="AvaCaskwbUZCAOkULgK9zqtArFavpqg/KMTu9qO4M1U=",
        file_hash="mlMbjSH0ahszX7yNIQOOawmCJxzofpaTeqlsrQspqUk=",
        source="validator.init_block of ton.org/global-config.json (ton-blockchain/ton-blockchain.github.io "
               "commit 30e3111, 2025-02-20, 'Update persistent state to seqno 43792209')"),
    "testnet": PinnedKeyBlock(
        seqno=17908219, root_hash="y6qWqhCnLgzWHjUFmXysaiOljuK5xVoCRMLzUwGInVM=",
        file_hash="Y/GziXxwuYte0AM4WT7tTWsCx+6rcfLpGmRaEQwhUKI=",
        source="validator.init_block of ton.org/testnet-global.config.json (ton-blockchain/ton-blockchain.github.io "
               "commit a76d5a2, 2024-05-07)"),
}


def block_ref(block: BlockIdExt) -> str:
    """`seqno:root_hash_hex:file_hash_hex`, the form settings and the CLI take."""
    return f"{block.seqno}:{block.root_hash.hex()}:{block.file_hash.hex()}"


def parse_block_ref(text: str) -> BlockIdExt:
    """A masterchain block from `seqno:root_hash:file_hash` (hashes in hex or base64)."""
    try:
        seqno, root, file = text.split(":")
        hashes = [bytes.fromhex(h) if len(h) == 64 else base64.b64decode(h, validate=True) for h in (root, file)]
        if any(len(h) != 32 for h in hashes):
            raise ValueError("a hash is 32 bytes")
        return BlockIdExt(-1, MASTERCHAIN_SHARD, int(seqno), hashes[0], hashes[1])
    except (ValueError, TypeError) as error:
        raise ConfigError(f"trusted key block {text!r} is not seqno:root_hash:file_hash ({error})") from None


def trusted_key_block(network: str, override: str | None = None) -> BlockIdExt:
    """The key block every proof of `network` starts from: the pin, or an explicit one (tests, `chain trust`)."""
    if override:
        return parse_block_ref(override)
    if network not in PINNED_KEY_BLOCKS:
        raise ConfigError(f"no trusted key block is pinned for {network}")
    return PINNED_KEY_BLOCKS[network].block


class TrustCache:
    """The newest key block proven from `anchor`, in a small JSON file (nothing if `path` is None)."""

    def __init__(self, path: str | None, network: str, anchor: BlockIdExt):
        self.path = Path(path) if path else None
        self.network, self.anchor = network, anchor

    def load(self) -> BlockIdExt | None:
        if self.path is None or not self.path.exists():
            return None
        try:
            data = json.loads(self.path.read_text())
            if data.get("network") != self.network or data.get("anchor") != block_ref(self.anchor):
                return None
            return parse_block_ref(data["newest_key_block"])
        except (OSError, ValueError, KeyError, ConfigError):
            return None   # a damaged cache only costs a longer walk from the pin

    def save(self, newest: BlockIdExt) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            temporary.write_text(json.dumps({"network": self.network, "anchor": block_ref(self.anchor),
                                             "newest_key_block": block_ref(newest)}))
            os.replace(temporary, self.path)
        except OSError:
            pass          # the next run walks a little further; nothing is trusted less
