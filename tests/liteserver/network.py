"""A TON network as liteservers see it, built from a Sandbox: real blocks, real Merkle proofs, real signatures.

Validators (test keys) sign masterchain blocks. Workchain 0 is split into two shards (the first address bit);
every masterchain block records the top block of each shard, and every block commits to its state through a
Merkle update, as on TON. A new masterchain block is produced whenever the Sandbox's accounts or time changed.
Key blocks carry the config with the validator set (param 34) that signs the blocks after them.

Everything a liteserver answers is produced here as the TL answer (dicts with BOCs): block proof links,
account states with their shard and account proofs, transaction lists. The ways a liteserver can lie are
made here too (tests/liteserver/server.py picks them per liteserver): an account left out of the proof, a
state from the other shard, blocks signed by keys of its own, a lagging head.

Serialization follows block.tlb closely enough for the parts a verifier reads; what a proof prunes is a
hash only. Dictionaries are built as trees here (labels in their shortest form) and the proof paths are
taken from those trees, not from the cells the verifier parses.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Callable

from nacl.signing import SigningKey
from pytoniq_core import Address, Builder, Cell, begin_cell
from pytoniq_core.boc.exotic import CellTypes
from pytoniq_core.tl.block import BlockIdExt
from pytoniq_core.tlb.account import ShardAccount

from chain.records import raw_address
from chain.sandbox import Sandbox

GLOBAL_ID = -3
MC_SHARD = -(2**63)
FIRST_SEQNO = 1000
VALIDATOR_WEIGHT = 10
NODE_ID_PREFIX = bytes.fromhex("c6b41348")
SIGNED_BLOCK_ID = bytes.fromhex("706e0bc5")
Path = tuple[int, ...]


def signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def node_id(public_key: bytes) -> bytes:
    return hashlib.sha256(NODE_ID_PREFIX + public_key).digest()


def validator_keys(seed: int, count: int) -> list[SigningKey]:
    return [SigningKey(hashlib.sha256(f"validator {seed} {i}".encode()).digest()) for i in range(count)]


# ---- cells: pruning and proofs --------------------------------------------------------------------------

def pruned(cell: Cell) -> Cell:
    b = Builder(type_=CellTypes.pruned_branch)
    b.store_uint(1, 8).store_uint(1, 8).store_bytes(cell.get_hash(0)).store_uint(cell.get_depth(), 16)
    return b.end_cell()


def merkle_update(old: Cell, new: Cell) -> Cell:
    b = Builder(type_=CellTypes.merkle_update)
    b.store_uint(4, 8).store_bytes(old.hash).store_bytes(new.hash).store_uint(old.get_depth(), 16)
    b.store_uint(new.get_depth(), 16).store_ref(pruned(old)).store_ref(pruned(new))
    return b.end_cell()


def virtualized(cell: Cell, keep: set[Path], full: set[Path], path: Path = ()) -> Cell:
    """`cell` with every subtree off the kept paths replaced by its pruned branch."""
    if path in full or cell.type_ != CellTypes.ordinary:
        return cell
    if path not in keep:
        return pruned(cell)
    refs = [virtualized(ref, keep, full, path + (i,)) for i, ref in enumerate(cell.refs)]
    return Cell(cell.bits.copy(), refs, cell.type_)


def merkle_proof(root: Cell, paths: list[Path], full: list[Path] = ()) -> Cell:
    """A Merkle proof of `root` keeping every cell on `paths` (ref indices from the root) and the whole subtrees
    at `full`."""
    keep = {p[:i] for p in [*paths, *full] for i in range(len(p) + 1)}
    inner = virtualized(root, keep, set(full))
    b = Builder(type_=CellTypes.merkle_proof)
    b.store_uint(3, 8).store_bytes(root.hash).store_uint(root.get_depth(), 16).store_ref(inner)
    return b.end_cell()


def boc_of(*roots: Cell) -> bytes:
    """A bag of cells with several roots (pytoniq_core serializes one)."""
    order: dict[Cell, None] = {}

    def visit(cell: Cell) -> None:
        order.pop(cell, None)
        order[cell] = None
        for ref in cell.refs:
            visit(ref)

    for root in roots:
        visit(root)
    index = {cell: i for i, cell in enumerate(order)}
    size = max(1, (len(index).bit_length() + 7) // 8)
    payload = b"".join(cell._descriptors + cell._data_bytes + b"".join(index[r].to_bytes(size, "big") for r in cell.refs)
                       for cell in order)
    offset = max(1, (len(payload).bit_length() + 7) // 8)
    header = (b"\xb5\xee\x9c\x72" + bytes([size]) + bytes([offset]) + len(index).to_bytes(size, "big")
              + len(roots).to_bytes(size, "big") + bytes(size) + len(payload).to_bytes(offset, "big")
              + b"".join(index[r].to_bytes(size, "big") for r in roots))
    return header + payload


# ---- dictionaries --------------------------------------------------------------------------------------

@dataclass
class DictNode:
    label: str                                  # bits
    children: tuple["DictNode", "DictNode"] | None = None
    key: str | None = None                      # at a leaf: the whole key


def build_dict(keys: list[str]) -> DictNode:
    """The Patricia tree of distinct keys of equal length (bit strings)."""
    common = keys[0]
    for key in keys[1:]:
        while not key.startswith(common):
            common = common[:-1]
    if len(keys) == 1:
        return DictNode(common, key=keys[0])
    depth = len(common)
    left = [k[depth + 1:] for k in keys if k[depth] == "0"]
    right = [k[depth + 1:] for k in keys if k[depth] == "1"]
    node = DictNode(common, (build_dict(left), build_dict(right)))
    _rekey(node.children[0], keys, common + "0")
    _rekey(node.children[1], keys, common + "1")
    return node


def _rekey(node: DictNode, keys: list[str], prefix: str) -> None:
    if node.children is None:
        node.key = prefix + node.label
    else:
        _rekey(node.children[0], keys, prefix + node.label + "0")
        _rekey(node.children[1], keys, prefix + node.label + "1")


def store_label(b: Builder, label: str, m: int) -> None:
    """HmLabel in its shortest form, as TON writes it."""
    n, width = len(label), m.bit_length()
    short, long_, same = 2 * n + 2, 2 + width + n, (3 + width) if n and len(set(label)) == 1 else None
    if same is not None and same < min(short, long_):
        b.store_bits("11").store_bit(int(label[0])).store_uint(n, width)
    elif short <= long_:
        b.store_bit(0).store_bits("1" * n + "0")
        if n:
            b.store_bits(label)
    else:
        b.store_bits("10").store_uint(n, width)
        if n:
            b.store_bits(label)


def dict_cell(node: DictNode, m: int, leaf: Callable[[Builder, str], None],
              fork_extra: Callable[[Builder, DictNode], None] | None = None) -> Cell:
    b = begin_cell()
    store_label(b, node.label, m)
    if node.children is None:
        leaf(b, node.key)
    else:
        rest = m - len(node.label) - 1
        b.store_ref(dict_cell(node.children[0], rest, leaf, fork_extra))
        b.store_ref(dict_cell(node.children[1], rest, leaf, fork_extra))
        if fork_extra:
            fork_extra(b, node)
    return b.end_cell()


def dict_path(node: DictNode, key: str) -> Path:
    """The ref indices from the root to where `key` is or would be."""
    path: list[int] = []
    while True:
        if not key.startswith(node.label) or node.children is None:
            return tuple(path)
        bit = int(key[len(node.label)])
        key = key[len(node.label) + 1:]
        path.append(bit)
        node = node.children[bit]


def leaves(node: DictNode) -> list[str]:
    return [node.key] if node.children is None else leaves(node.children[0]) + leaves(node.children[1])


def bits(value: int, width: int) -> str:
    return format(value & ((1 << width) - 1), f"0{width}b")


# ---- block pieces ---------------------------------------------------------------------------------------

def currency(b: Builder, grams: int = 0) -> Builder:
    return b.store_coins(grams).store_bit(0)


def shard_ident(b: Builder, workchain: int, prefix_bits: int, prefix: int) -> Builder:
    return b.store_uint(0, 2).store_uint(prefix_bits, 6).store_int(workchain, 32).store_uint(prefix, 64)


def ext_blk_ref(end_lt: int, block: BlockIdExt) -> Cell:
    return (begin_cell().store_uint(end_lt, 64).store_uint(block.seqno, 32).store_bytes(block.root_hash)
            .store_bytes(block.file_hash).end_cell())


def dummy(tag: str) -> Cell:
    """Content a verifier never reads (message descriptions, value flow...): only its hash matters."""
    return begin_cell().store_bytes(hashlib.sha256(tag.encode()).digest()).end_cell()


def validator_set(keys: list[SigningKey], weight: int = VALIDATOR_WEIGHT, main: int | None = None) -> Cell:
    """validators_ext#12 with validator_addr#73 entries (ConfigParam 34)."""
    entries = {bits(i, 16): k for i, k in enumerate(keys)}
    root = build_dict(list(entries))

    def leaf(b: Builder, key: str) -> None:
        b.store_uint(0x73, 8).store_uint(0x8E81278A, 32).store_bytes(bytes(entries[key].verify_key))
        b.store_uint(weight, 64).store_bytes(bytes(32))

    return (begin_cell().store_uint(0x12, 8).store_uint(0, 32).store_uint(2**32 - 1, 32)
            .store_uint(len(keys), 16).store_uint(main or len(keys), 16).store_uint(weight * len(keys), 64)
            .store_bit(1).store_ref(dict_cell(root, 16, leaf)).end_cell())


def catchain_config() -> Cell:
    """catchain_config_new#c2 (ConfigParam 28): masterchain validators shuffled, as on mainnet."""
    return (begin_cell().store_uint(0xC2, 8).store_uint(0, 7).store_bit(1).store_uint(250, 32).store_uint(250, 32)
            .store_uint(1000, 32).store_uint(7, 32).end_cell())


def config_dict(params: dict[int, Cell]) -> tuple[Cell, DictNode]:
    entries = {bits(i, 32): cell for i, cell in params.items()}
    root = build_dict(sorted(entries))
    return dict_cell(root, 32, lambda b, key: b.store_ref(entries[key])), root


# ---- the network ----------------------------------------------------------------------------------------

@dataclass
class ShardBlock:
    block: BlockIdExt
    cell: Cell
    state: Cell
    accounts: DictNode | None       # None: no account in this shard
    prefix_bit: int


@dataclass
class MasterBlock:
    block: BlockIdExt
    cell: Cell
    state: Cell
    shards: list[ShardBlock]
    gen_utime: int
    key_block: bool
    config: DictNode | None         # key blocks: the config tree (param 34 in it)
    signers: list[SigningKey]       # the validator set that signs it (the previous key block's)
    validators: list[SigningKey] = field(default_factory=list)   # key blocks: the set it names


class FakeTonNetwork:
    def __init__(self, chain: Sandbox, validators: int = 5, validator_seed: int = 1, main: int | None = None):
        self.chain = chain
        self.main = main                # masterchain validators: the first `main` of each set (all if None)
        self.validators = validator_keys(validator_seed, validators)
        self.blocks: list[MasterBlock] = []
        self._shard_seqno = [0, 0]
        self._seen: tuple | None = None
        self._lt = 0
        self._produce(key_block=True, validators=self.validators)

    # ---- the chain --------------------------------------------------------------------------------------
    @property
    def first_key_block(self) -> BlockIdExt:
        """The block tests pin as the trusted key block."""
        return self.blocks[0].block

    def head(self) -> MasterBlock:
        """The newest masterchain block, produced now if the Sandbox changed since the last one."""
        seen = (self.chain.now, tuple(sorted(self.chain._accounts.items())))
        if seen != self._seen:
            self._produce(key_block=False)
        return self.blocks[-1]

    def block(self, seqno: int) -> MasterBlock:
        return self.blocks[seqno - FIRST_SEQNO]

    def rotate_validators(self, count: int, seed: int) -> MasterBlock:
        """A key block naming a new validator set (signed by the current one), as elections do."""
        self.head()
        return self._produce(key_block=True, validators=validator_keys(seed, count))

    def _produce(self, key_block: bool, validators: list[SigningKey] | None = None) -> MasterBlock:
        self._seen = (self.chain.now, tuple(sorted(self.chain._accounts.items())))
        seqno = FIRST_SEQNO + len(self.blocks)
        previous = self.blocks[-1] if self.blocks else None
        # signed by the set the newest key block names (the first block is the trusted one: signed by its own)
        named = next(b.validators for b in reversed(self.blocks) if b.key_block) if self.blocks else validators
        signers = named[: self.main or len(named)]
        self._lt += 1_000_000
        shards = [self._shard_block(bit, previous) for bit in (0, 1)]
        config, params = None, {}
        if key_block:
            params = {0: dummy("config address"), 1: dummy("elector"), 15: dummy("election timing"),
                      28: catchain_config(), 34: validator_set(validators, main=self.main)}
            config = config_dict(params)[1]
        state = self._mc_state(seqno, shards)
        cell = self._mc_block(seqno, previous, shards, state, key_block, params)
        block = BlockIdExt(-1, MC_SHARD, seqno, cell.hash, hashlib.sha256(cell.to_boc()).digest())
        produced = MasterBlock(block, cell, state, shards, self.chain.now, key_block, config, signers,
                               validators or [])
        self.blocks.append(produced)
        return produced

    def _accounts(self, bit: int) -> dict[str, Cell]:
        found = {}
        for raw, boc in self.chain._accounts.items():
            address = Address(raw)
            if address.wc != 0 or address.hash_part[0] >> 7 != bit:
                continue
            cell = Cell.one_from_boc(base64.b64decode(boc))
            if cell.refs[0].begin_parse().preload_bit():        # account_none$0 is not in the dictionary
                found[bits(int.from_bytes(address.hash_part, "big"), 256)] = cell
        return found

    def _shard_block(self, bit: int, previous: MasterBlock | None) -> ShardBlock:
        self._shard_seqno[bit] += 1
        seqno = self._shard_seqno[bit]
        prefix = bit << 63
        accounts = self._accounts(bit)
        tree = build_dict(sorted(accounts)) if accounts else None
        accounts_cell = begin_cell()
        if tree is None:
            currency(accounts_cell.store_bit(0).store_uint(0, 5))
        else:
            balances = {key: ShardAccount.deserialize(cell.begin_parse()) for key, cell in accounts.items()}
            grams = {key: (s.account.storage.balance.grams if s.account else 0) for key, s in balances.items()}

            def leaf(b: Builder, key: str) -> None:
                currency(b.store_uint(0, 5), grams[key])        # DepthBalanceInfo, then ShardAccount inline
                b.store_cell(accounts[key])

            def fork_extra(b: Builder, node: DictNode) -> None:
                currency(b.store_uint(0, 5), sum(grams[k] for k in leaves(node)))

            root = dict_cell(tree, 256, leaf, fork_extra)
            currency(accounts_cell.store_bit(1).store_ref(root).store_uint(0, 5), sum(grams.values()))
        state = (shard_ident(begin_cell().store_uint(0x9023AFE2, 32).store_int(GLOBAL_ID, 32), 0, 1, prefix)
                 .store_uint(seqno, 32).store_uint(0, 32).store_uint(self.chain.now, 32).store_uint(self._lt, 64)
                 .store_uint(0, 32).store_ref(dummy(f"out queue {bit} {seqno}")).store_bit(0)
                 .store_ref(accounts_cell.end_cell()).store_ref(dummy(f"shard extra {bit} {seqno}")).store_bit(0)
                 .end_cell())
        prev_state = previous.shards[bit].state if previous else dummy("genesis shard state")
        prev_block = previous.shards[bit].block if previous else BlockIdExt(0, signed(prefix | 1 << 62), 0, bytes(32),
                                                                           bytes(32))
        master = previous.block if previous else BlockIdExt(-1, MC_SHARD, 0, bytes(32), bytes(32))
        info = self._info(seqno, 0, signed(prefix | 1 << 62), 1, prefix, not_master=True, key_block=False,
                          master=master, prev=prev_block)
        cell = (begin_cell().store_uint(0x11EF55AA, 32).store_int(GLOBAL_ID, 32).store_ref(info)
                .store_ref(dummy(f"value flow {bit} {seqno}")).store_ref(merkle_update(prev_state, state))
                .store_ref(dummy(f"shard block extra {bit} {seqno}")).end_cell())
        block = BlockIdExt(0, signed(prefix | 1 << 62), seqno, cell.hash, hashlib.sha256(cell.to_boc()).digest())
        return ShardBlock(block, cell, state, tree, bit)

    def _info(self, seqno: int, workchain: int, shard: int, prefix_bits: int, prefix: int, *, not_master: bool,
              key_block: bool, master: BlockIdExt | None, prev: BlockIdExt) -> Cell:
        b = (begin_cell().store_uint(0x9BC7A987, 32).store_uint(0, 32).store_bit(int(not_master)).store_uint(0, 5)
             .store_bit(int(key_block)).store_bit(0).store_uint(0, 8).store_uint(seqno, 32).store_uint(0, 32))
        shard_ident(b, workchain, prefix_bits, prefix)
        b.store_uint(self.chain.now, 32).store_uint(self._lt - 1000, 64).store_uint(self._lt, 64)
        b.store_uint(0, 32).store_uint(0, 32).store_uint(FIRST_SEQNO, 32).store_uint(FIRST_SEQNO, 32)
        if not_master:
            b.store_ref(ext_blk_ref(self._lt, master))
        return b.store_ref(ext_blk_ref(self._lt - 1000, prev)).end_cell()

    def _shard_hashes(self, shards: list[ShardBlock]) -> Cell:
        def descr(shard: ShardBlock) -> Cell:
            b = (begin_cell().store_bit(0).store_uint(0xB, 4).store_uint(shard.block.seqno, 32).store_uint(0, 32)
                 .store_uint(self._lt - 1000, 64).store_uint(self._lt, 64).store_bytes(shard.block.root_hash)
                 .store_bytes(shard.block.file_hash).store_uint(0, 5).store_uint(0, 3).store_uint(0, 32)
                 .store_uint(signed(shard.prefix_bit << 63 | 1 << 62) & (2**64 - 1), 64).store_uint(0, 32)
                 .store_uint(self.chain.now, 32).store_bit(0))
            return currency(currency(b)).end_cell()

        tree = begin_cell().store_bit(1).store_ref(descr(shards[0])).store_ref(descr(shards[1])).end_cell()
        return dict_cell(build_dict([bits(0, 32)]), 32, lambda b, key: b.store_ref(tree))

    def _mc_state(self, seqno: int, shards: list[ShardBlock]) -> Cell:
        config_cell = config_dict({0: dummy("config address")})[0]
        extra = (begin_cell().store_uint(0xCC26, 16).store_bit(1).store_ref(self._shard_hashes(shards))
                 .store_bytes(bytes(32)).store_ref(config_cell).store_ref(dummy(f"mc state info {seqno}")))
        extra = currency(extra).end_cell()
        empty_accounts = currency(begin_cell().store_bit(0).store_uint(0, 5)).end_cell()
        return (shard_ident(begin_cell().store_uint(0x9023AFE2, 32).store_int(GLOBAL_ID, 32), -1, 0, 0)
                .store_uint(seqno, 32).store_uint(0, 32).store_uint(self.chain.now, 32).store_uint(self._lt, 64)
                .store_uint(0, 32).store_ref(dummy(f"mc out queue {seqno}")).store_bit(0).store_ref(empty_accounts)
                .store_ref(dummy(f"mc state other {seqno}")).store_bit(1).store_ref(extra).end_cell())

    def _mc_block(self, seqno: int, previous: MasterBlock | None, shards: list[ShardBlock], state: Cell,
                  key_block: bool, params: dict[int, Cell]) -> Cell:
        prev_block = previous.block if previous else BlockIdExt(-1, MC_SHARD, seqno - 1, bytes(32), bytes(32))
        info = self._info(seqno, -1, MC_SHARD, 0, 0, not_master=False, key_block=key_block, master=None,
                          prev=prev_block)
        mc_extra = (begin_cell().store_uint(0xCCA5, 16).store_bit(int(key_block)).store_bit(1)
                    .store_ref(self._shard_hashes(shards)).store_bit(0))
        currency(currency(mc_extra)).store_ref(dummy(f"signatures {seqno}"))
        if key_block:
            mc_extra.store_bytes(bytes(32)).store_ref(config_dict(params)[0])
        extra = (begin_cell().store_uint(0x4A33F6FD, 32).store_ref(dummy(f"in msgs {seqno}"))
                 .store_ref(dummy(f"out msgs {seqno}")).store_ref(dummy(f"account blocks {seqno}"))
                 .store_bytes(bytes(32)).store_bytes(bytes(32)).store_bit(1).store_ref(mc_extra.end_cell()).end_cell())
        prev_state = previous.state if previous else dummy("zero state")
        return (begin_cell().store_uint(0x11EF55AA, 32).store_int(GLOBAL_ID, 32).store_ref(info)
                .store_ref(dummy(f"mc value flow {seqno}")).store_ref(merkle_update(prev_state, state))
                .store_ref(extra).end_cell())

    # ---- proofs -----------------------------------------------------------------------------------------
    @staticmethod
    def header_proof(cell: Cell) -> Cell:
        """A block with its info and state update: what a header proof carries."""
        return merkle_proof(cell, [], full=[(0,), (2,)])

    def config_proof(self, block: MasterBlock) -> Cell:
        """A key block with the paths to its catchain config and validator set (params 28, 34) in the config."""
        params = [(3, 3, 2) + dict_path(block.config, bits(i, 32)) + (0,) for i in (28, 34)]
        return merkle_proof(block.cell, [(3, 3, 2)], full=[(0,), (2,), *params])

    def signatures(self, block: BlockIdExt, keys: list[SigningKey]) -> list[dict]:
        signed_id = SIGNED_BLOCK_ID + block.root_hash + block.file_hash
        return [{"node_id_short": node_id(bytes(k.verify_key)).hex(), "signature": k.sign(signed_id).signature}
                for k in keys]

    def forward_link(self, source: MasterBlock, target: MasterBlock, signers: list[SigningKey] | None = None,
                     config_proof: Cell | None = None) -> dict:
        keys = signers if signers is not None else target.signers
        quorum = keys[: len(keys) * 2 // 3 + 1]
        return {"@type": "liteServer.blockLinkForward", "to_key_block": target.key_block,
                "from": source.block.to_dict(), "to": target.block.to_dict(),
                "dest_proof": self.header_proof(target.cell).to_boc(),
                "config_proof": (config_proof or self.config_proof(source)).to_boc(),
                "signatures": {"@type": "liteServer.signatureSet.ordinary", "validator_set_hash": 0,
                               "catchain_seqno": 0, "signatures": self.signatures(target.block, quorum)}}

    def block_proof(self, known: BlockIdExt, target: BlockIdExt) -> dict:
        """liteServer.partialBlockProof: forward links through every key block from `known` to `target`."""
        start = self.block(known.seqno)
        assert start.block == known and start.key_block
        steps, current = [], start
        for block in self.blocks[known.seqno - FIRST_SEQNO + 1: target.seqno - FIRST_SEQNO + 1]:
            if block.key_block or block.block == target:
                steps.append(self.forward_link(current, block))
                current = block
        return {"complete": True, "from": known.to_dict(), "to": target.to_dict(), "steps": steps}

    def shard_of(self, address: Address, block: MasterBlock) -> ShardBlock:
        return block.shards[address.hash_part[0] >> 7]

    def account_state(self, block: MasterBlock, address: Address, *, shard: ShardBlock | None = None,
                      hide: bool = False) -> dict:
        """liteServer.accountState at `block`: the shard proof, the account proof and the state.
        `shard`: answer from another shard's block (a lie); `hide`: leave the account out (a lie)."""
        shard = shard or self.shard_of(address, block)
        key = bits(int.from_bytes(address.hash_part, "big"), 256)
        shard_proof = boc_of(self.header_proof(block.cell), merkle_proof(block.state, [], full=[(3, 0)]))
        account_path = (1, 0) + dict_path(shard.accounts, key) if shard.accounts else (1,)
        present = shard.accounts is not None and key in leaves(shard.accounts)
        proof = boc_of(self.header_proof(shard.cell), merkle_proof(shard.state, [account_path]))
        state = b""
        if present and not hide:
            account = Cell.one_from_boc(base64.b64decode(self.chain._accounts[raw_address(address)]))
            state = account.refs[0].to_boc()
        return {"id": block.block.to_dict(), "shardblk": shard.block.to_dict(), "shard_proof": shard_proof,
                "proof": proof, "state": state}

    def transactions(self, address: Address, count: int, lt: int, tx_hash: bytes) -> dict:
        cells = [Cell.one_from_boc(base64.b64decode(c)) for c in reversed(self.chain._transactions.get(
            raw_address(address), []))]
        start = next(i for i, c in enumerate(cells) if c.hash == tx_hash)
        chosen = cells[start:start + count]
        ids = [self.blocks[-1].shards[address.hash_part[0] >> 7].block.to_dict() for _ in chosen]
        return {"ids": ids, "transactions": boc_of(*chosen) if chosen else b""}
