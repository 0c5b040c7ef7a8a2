"""Liteserver answers proven against a trusted key block: parsing and checking only, no I/O.

What is checked follows the reference lite client (ton: crypto/block/check-proof.cpp):

- a masterchain block is trusted when a chain of forward links leads to it from a trusted key block. For each
  link: its source proof is a Merkle proof of the trusted block itself (same root hash) and that block is a key
  block whose config (param 34) names the validators; the destination's header proof hashes to the
  destination's root hash; validators holding more than 2/3 of the masterchain validators' weight signed
  (root hash, file hash), each validator once, every signature valid; a destination declared a key block is one;
- an account state at a trusted masterchain block: the masterchain block's header and state prove the top block
  of the shard that contains the address (found by walking the shard tree along the address bits); that shard
  block's header and state prove the account's entry in the accounts dictionary, or its absence: the path to
  where it would be, with no pruned branch on it. "Absent" is only ever concluded from such a proof;
- a transaction list: each transaction hashes to what its successor (or the proven account state) names, and
  carries the logical time named there.

pytoniq's own checks (trust levels) are not relied on: its 0.1.43 forward-link check takes the validator set
from a config proof it never ties to the trusted block, counts a repeated signature twice, and its account query
returns "absent" with no proof at all.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from pytoniq_core import Address, Cell, Slice, begin_cell
from pytoniq_core.boc.exotic import CellTypes
from pytoniq_core.tl.block import BlockIdExt

from chain.errors import UnprovenAnswer

MASTERCHAIN = -1
ROOT_SHARD = -(2**63)                # the whole workchain: prefix of length 0
BLOCK_TAG = 0x11EF55AA
BLOCK_INFO_TAG = 0x9BC7A987
BLOCK_EXTRA_TAG = 0x4A33F6FD
MC_BLOCK_EXTRA_TAG = 0xCCA5
SHARD_STATE_TAG = 0x9023AFE2
MC_STATE_EXTRA_TAG = 0xCC26
SIGNED_BLOCK_ID = bytes.fromhex("706e0bc5")   # ton.blockId root_cell_hash:int256 file_hash:int256 (TL id, little endian)
NODE_ID_PREFIX = bytes.fromhex("c6b41348")    # pub.ed25519#4813b4c6 key:int256 (TL id, little endian)
MERKLE_UPDATE_BITS = 8 + 256 + 256 + 16 + 16


@dataclass(frozen=True)
class Validator:
    public_key: bytes
    weight: int


@dataclass(frozen=True)
class Validators:
    """The masterchain validators of a key block's config, by short node id."""
    by_node_id: dict[bytes, Validator]
    total_weight: int


@dataclass(frozen=True)
class ProvenBlock:
    """A masterchain block proven from a trusted key block, with what its header says."""
    block: BlockIdExt
    gen_utime: int
    key_block: bool


@dataclass(frozen=True)
class Header:
    seqno: int
    workchain: int
    shard: int            # signed 64-bit shard id
    key_block: bool
    gen_utime: int
    state_hash: bytes     # the new state's hash, from the block's Merkle update


def block_id(data: dict) -> BlockIdExt:
    """A block id as the TL answer gives it (hex hashes)."""
    return BlockIdExt.from_dict(data)


def describe(block: BlockIdExt) -> str:
    return f"({block.workchain},{block.shard & (2**64 - 1):016x},{block.seqno}) {block.root_hash.hex()[:16]}…"


# ---- cells ---------------------------------------------------------------------------------------------

def merkle_roots(boc: bytes, count: int, what: str) -> list[Cell]:
    """The virtual roots of `count` Merkle proofs in one BOC (each checked: the proof's stated hash is its content's)."""
    try:
        roots = Cell.from_boc(boc) if boc else []
    except Exception as error:  # noqa: BLE001 - any parse failure is an unproven answer
        raise UnprovenAnswer(f"{what}: not a valid bag of cells ({error})") from None
    if len(roots) != count:
        raise UnprovenAnswer(f"{what}: expected {count} Merkle proof(s), got {len(roots)}")
    inner = []
    for root in roots:
        if root.type_ != CellTypes.merkle_proof or not root.refs:
            raise UnprovenAnswer(f"{what}: not a Merkle proof")
        if root.data[1:33] != root[0].get_hash(0):
            raise UnprovenAnswer(f"{what}: the Merkle proof's stated hash is not its content's")
        inner.append(root[0])
    return inner


def _ordinary(cell: Cell, what: str) -> Cell:
    """A cell whose content the proof actually carries (a pruned branch only stands for a hash)."""
    if cell.type_ != CellTypes.ordinary:
        raise UnprovenAnswer(f"{what} is not in the proof (pruned)")
    return cell


def _ref(cell: Cell, index: int, what: str) -> Cell:
    if index >= len(cell.refs):
        raise UnprovenAnswer(f"{what}: missing reference")
    return cell.refs[index]


def _label(s: Slice, m: int) -> tuple[int, int]:
    """A dictionary edge label (HmLabel ~l m): (bits as int, length)."""
    if not s.load_bit():                        # hml_short$0 len:(Unary ~n) s:(n * Bit)
        n = 0
        while s.load_bit():
            n += 1
        return (s.load_uint(n) if n else 0), n
    if not s.load_bit():                        # hml_long$10 n:(#<= m) s:(n * Bit)
        n = s.load_uint(m.bit_length())
        return (s.load_uint(n) if n else 0), n
    bit = s.load_bit()                          # hml_same$11 v:Bit n:(#<= m)
    n = s.load_uint(m.bit_length())
    return ((1 << n) - 1 if bit else 0), n


def dict_lookup(root: Cell, key_bits: int, key: int, what: str) -> Slice | None:
    """The value slice of `key` in a (Hashmap key_bits X) rooted at `root` (augmented ones too: the extra comes
    first in a leaf), or None when the proof shows it absent. A pruned cell on the path proves nothing."""
    cell, remaining = root, key_bits
    while True:
        s = _ordinary(cell, f"{what}: dictionary node").begin_parse()
        label, length = _label(s, remaining)
        if length > remaining:
            raise UnprovenAnswer(f"{what}: malformed dictionary label")
        if label != (key >> (remaining - length)) & ((1 << length) - 1):
            return None
        remaining -= length
        if remaining == 0:
            return s
        remaining -= 1
        cell = _ref(cell, (key >> remaining) & 1, what)


def dict_items(root: Cell, key_bits: int, what: str, below: int | None = None) -> dict[int, Slice]:
    """Every entry of a (Hashmap key_bits X) rooted at `root` (with a key below `below`, if given); all of it
    must be in the proof."""
    found: dict[int, Slice] = {}

    def visit(cell: Cell, remaining: int, prefix: int) -> None:
        if below is not None and prefix << remaining >= below:
            return                              # every key under this node is too large
        s = _ordinary(cell, f"{what}: dictionary node").begin_parse()
        label, length = _label(s, remaining)
        if length > remaining:
            raise UnprovenAnswer(f"{what}: malformed dictionary label")
        prefix, remaining = (prefix << length) | label, remaining - length
        if remaining == 0:
            found[prefix] = s
            return
        for bit in (0, 1):
            visit(_ref(cell, bit, what), remaining - 1, (prefix << 1) | bit)

    visit(root, key_bits, 0)
    return found


def _skip_currency_collection(s: Slice) -> None:
    s.load_coins()                              # grams:(VarUInteger 16)
    if s.load_bit():                            # other:ExtraCurrencyCollection (HashmapE 32 ...)
        s.load_ref()


# ---- blocks ---------------------------------------------------------------------------------------------

def block_header(root: Cell, block: BlockIdExt, what: str) -> Header:
    """Check a block header proof against the block's id and read what the checks need."""
    if root.get_hash(0) != block.root_hash:
        raise UnprovenAnswer(f"{what}: the header proof is of another block than {describe(block)}")
    s = _ordinary(root, f"{what}: block").begin_parse()
    if s.load_uint(32) != BLOCK_TAG:
        raise UnprovenAnswer(f"{what}: not a block")
    info = _ordinary(_ref(root, 0, what), f"{what}: block info").begin_parse()
    if info.load_uint(32) != BLOCK_INFO_TAG:
        raise UnprovenAnswer(f"{what}: not a block info")
    info.load_uint(32)                          # version
    not_master = info.load_bit()
    info.skip_bits(5)                           # after_merge before_split after_split want_split want_merge
    key_block = bool(info.load_bit())
    info.skip_bits(1 + 8)                       # vert_seqno_incr flags
    seqno = info.load_uint(32)
    info.load_uint(32)                          # vert_seq_no
    if info.load_uint(2) != 0:
        raise UnprovenAnswer(f"{what}: malformed shard ident")
    prefix_bits, workchain, prefix = info.load_uint(6), info.load_int(32), info.load_uint(64)
    gen_utime = info.load_uint(32)
    update = _ref(root, 2, what)
    if update.type_ != CellTypes.merkle_update or len(update.bits) != MERKLE_UPDATE_BITS or len(update.refs) != 2:
        raise UnprovenAnswer(f"{what}: invalid Merkle update in the block header")
    shard = prefix | (1 << (63 - prefix_bits))
    header = Header(seqno, workchain, shard - (1 << 64) if shard >= 1 << 63 else shard, key_block, gen_utime,
                    update.refs[1].get_hash(0))
    if (header.seqno, header.workchain, header.shard) != (block.seqno, block.workchain, block.shard) \
            or bool(not_master) != (workchain != MASTERCHAIN):
        raise UnprovenAnswer(f"{what}: the header says block ({workchain},{seqno}), not {describe(block)}")
    return header


def key_block_validators(root: Cell, block: BlockIdExt, what: str) -> Validators:
    """The masterchain validators in the config of the key block `block`, from a proof of that very block."""
    header = block_header(root, block, what)
    if not header.key_block or header.workchain != MASTERCHAIN:
        raise UnprovenAnswer(f"{what}: {describe(block)} is not a masterchain key block")
    extra = _ordinary(_ref(root, 3, what), f"{what}: block extra")
    s = extra.begin_parse()
    if s.load_uint(32) != BLOCK_EXTRA_TAG:
        raise UnprovenAnswer(f"{what}: not a block extra")
    s.skip_bits(256 + 256)                      # rand_seed created_by (refs 0-2: message and account blocks)
    if not s.load_bit():
        raise UnprovenAnswer(f"{what}: the key block has no masterchain extra")
    mc = _ordinary(_ref(extra, 3, what), f"{what}: masterchain block extra").begin_parse()
    if mc.load_uint(16) != MC_BLOCK_EXTRA_TAG or not mc.load_bit():
        raise UnprovenAnswer(f"{what}: the key block carries no config")
    if mc.load_bit():                           # shard_hashes:(HashmapE 32 ...)
        mc.load_ref()
    if mc.load_bit():                           # shard_fees:(HashmapAugE 96 ...) root, then its extra
        mc.load_ref()
    _skip_currency_collection(mc)               # ShardFeeCreated: fees, create
    _skip_currency_collection(mc)
    mc.load_ref()                               # ^[ prev_blk_signatures recover_create_msg mint_msg ]
    mc.skip_bits(256)                           # config_addr
    found = dict_lookup(mc.load_ref(), 32, 34, f"{what}: config")
    if found is None:
        raise UnprovenAnswer(f"{what}: the key block's config has no validator set (param 34)")
    return _masterchain_validators(_ordinary(found.load_ref(), f"{what}: config param 34"), what)


def _masterchain_validators(cell: Cell, what: str) -> Validators:
    """ValidatorSet -> the masterchain subset: the first `main` of the list (ton: Config::do_compute_validator_set;
    shuffling changes their order, never who they are)."""
    s = cell.begin_parse()
    tag = s.load_uint(8)
    s.skip_bits(32 + 32)                        # utime_since utime_until
    total, main = s.load_uint(16), s.load_uint(16)
    count = min(main, total)
    if tag == 0x11:                             # validators#11 ... list:(Hashmap 16 ValidatorDescr): inline root
        items = dict_items(s.to_cell(), 16, f"{what}: validator list", below=count)
    elif tag == 0x12:                           # validators_ext#12 ... total_weight:uint64 list:(HashmapE 16 ...)
        s.load_uint(64)
        items = dict_items(s.load_ref(), 16, f"{what}: validator list", below=count) if s.load_bit() else {}
    else:
        raise UnprovenAnswer(f"{what}: config param 34 is not a validator set")
    if count < 1 or any(i not in items for i in range(count)):
        raise UnprovenAnswer(f"{what}: the validator set lists fewer than its {count} masterchain validators")
    by_node_id: dict[bytes, Validator] = {}
    for i in range(count):
        descr = items[i]
        kind = descr.load_uint(8)
        if kind not in (0x53, 0x73) or descr.load_uint(32) != 0x8E81278A:
            raise UnprovenAnswer(f"{what}: validator {i} is not an ed25519 validator description")
        key, weight = descr.load_bytes(32), descr.load_uint(64)
        by_node_id[hashlib.sha256(NODE_ID_PREFIX + key).digest()] = Validator(key, weight)
    return Validators(by_node_id, sum(v.weight for v in by_node_id.values()))


def check_signatures(validators: Validators, signatures: list[dict], block: BlockIdExt, what: str) -> None:
    """More than 2/3 of the validators' weight signed the block's (root hash, file hash); every signature is valid
    and from a distinct validator of the set."""
    signed = SIGNED_BLOCK_ID + block.root_hash + block.file_hash
    seen: set[bytes] = set()
    weight = 0
    for signature in signatures:
        node = bytes.fromhex(signature["node_id_short"])
        validator = validators.by_node_id.get(node)
        if validator is None:
            raise UnprovenAnswer(f"{what}: a signature of {describe(block)} is by {node.hex()[:16]}…, not a validator")
        if node in seen:
            raise UnprovenAnswer(f"{what}: validator {node.hex()[:16]}… signed {describe(block)} twice")
        try:
            VerifyKey(validator.public_key).verify(signed, bytes(signature["signature"]))
        except (BadSignatureError, ValueError, TypeError):
            raise UnprovenAnswer(f"{what}: an invalid signature of {describe(block)} by validator "
                                 f"{node.hex()[:16]}…") from None
        seen.add(node)
        weight += validator.weight
    if 3 * weight <= 2 * validators.total_weight:
        raise UnprovenAnswer(f"{what}: {describe(block)} is signed by {weight} of {validators.total_weight} validator "
                             "weight, not more than 2/3")


def verify_forward_link(trusted: BlockIdExt, link: dict[str, Any], known: dict[bytes, Validators],
                        what: str) -> ProvenBlock:
    """Prove `link['to']` from the trusted key block `trusted`. `known`: validators of key blocks already read,
    by root hash (filled in here)."""
    if link.get("@type") != "liteServer.blockLinkForward":
        raise UnprovenAnswer(f"{what}: a {link.get('@type')} step; only forward links from a trusted key block "
                             "are accepted")
    source, target = block_id(link["from"]), block_id(link["to"])
    if source != trusted:
        raise UnprovenAnswer(f"{what}: a link starts at {describe(source)}, not at the trusted {describe(trusted)}")
    if target.workchain != MASTERCHAIN or target.shard != ROOT_SHARD or target.seqno <= source.seqno:
        raise UnprovenAnswer(f"{what}: a forward link to {describe(target)} is not to a later masterchain block")
    validators = known.get(source.root_hash)
    if validators is None:
        (root,) = merkle_roots(link["config_proof"], 1, f"{what}: key block proof")
        validators = known[source.root_hash] = key_block_validators(root, source, f"{what}: key block proof")
    (root,) = merkle_roots(link["dest_proof"], 1, f"{what}: destination proof")
    header = block_header(root, target, f"{what}: destination proof")
    if header.key_block != bool(link["to_key_block"]):
        raise UnprovenAnswer(f"{what}: {describe(target)} is {'' if header.key_block else 'not '}a key block, the "
                             "link says otherwise")
    signature_set = link["signatures"]
    if signature_set.get("@type") != "liteServer.signatureSet.ordinary":
        raise UnprovenAnswer(f"{what}: unsupported signature set {signature_set.get('@type')}")
    check_signatures(validators, signature_set["signatures"], target, what)
    return ProvenBlock(target, header.gen_utime, header.key_block)


# ---- accounts and transactions ----------------------------------------------------------------------------

def _shard_state(root: Cell, shard_block: BlockIdExt, what: str) -> Cell:
    """The checked state root of a shard (or masterchain) block: its workchain, shard and seqno match."""
    s = _ordinary(root, f"{what}: state").begin_parse()
    if s.load_uint(32) != SHARD_STATE_TAG:
        raise UnprovenAnswer(f"{what}: not a shard state")
    s.load_int(32)                              # global_id
    if s.load_uint(2) != 0:
        raise UnprovenAnswer(f"{what}: malformed shard ident")
    prefix_bits, workchain, prefix = s.load_uint(6), s.load_int(32), s.load_uint(64)
    shard = prefix | (1 << (63 - prefix_bits))
    shard = shard - (1 << 64) if shard >= 1 << 63 else shard
    if (workchain, shard, s.load_uint(32)) != (shard_block.workchain, shard_block.shard, shard_block.seqno):
        raise UnprovenAnswer(f"{what}: the state is not the one of {describe(shard_block)}")
    return root


def _state_root(proof_roots: list[Cell], block: BlockIdExt, what: str) -> Cell:
    """[block header proof, state proof] -> the state root, tied to the block by the header's state hash."""
    header = block_header(proof_roots[0], block, f"{what}: block header")
    if proof_roots[1].get_hash(0) != header.state_hash:
        raise UnprovenAnswer(f"{what}: the state proof is not of the state {describe(block)} names")
    return _shard_state(proof_roots[1], block, what)


def shard_block_of(head: BlockIdExt, address: Address, shard_proof: bytes, what: str) -> BlockIdExt:
    """The top block of the shard holding `address`, as the trusted masterchain block `head` records it."""
    mc_state = _state_root(merkle_roots(shard_proof, 2, f"{what}: shard proof"), head, f"{what}: masterchain")
    s = mc_state.begin_parse()
    s.skip_bits(32 + 32 + 104 + 32 + 32 + 32 + 64 + 32 + 1)   # up to before_split (refs 0-2 not read)
    if not s.load_bit():
        raise UnprovenAnswer(f"{what}: the masterchain state has no extra")
    extra = _ordinary(_ref(mc_state, 3, what), f"{what}: masterchain state extra")
    e = extra.begin_parse()
    if e.load_uint(16) != MC_STATE_EXTRA_TAG or not e.load_bit():
        raise UnprovenAnswer(f"{what}: the masterchain state lists no shards")
    found = dict_lookup(extra.refs[0], 32, address.wc & 0xFFFFFFFF, f"{what}: shard hashes")
    if found is None:
        raise UnprovenAnswer(f"{what}: workchain {address.wc} is not in the masterchain state")
    tree, depth, path = found.load_ref(), 0, 0
    account_id = int.from_bytes(address.hash_part, "big")
    while True:
        node = _ordinary(tree, f"{what}: shard tree").begin_parse()
        if not node.load_bit():                 # bt_leaf$0 leaf:ShardDescr
            break
        bit = (account_id >> (255 - depth)) & 1
        tree, depth, path = _ref(tree, bit, what), depth + 1, (path << 1) | bit
    tag = node.load_uint(4)
    if tag not in (0xA, 0xB):
        raise UnprovenAnswer(f"{what}: unknown shard description")
    seqno = node.load_uint(32)
    node.skip_bits(32 + 64 + 64)                # reg_mc_seqno start_lt end_lt
    root_hash, file_hash = node.load_bytes(32), node.load_bytes(32)
    shard = ((path << (64 - depth)) | (1 << (63 - depth))) if depth else 1 << 63
    return BlockIdExt(address.wc, shard - (1 << 64) if shard >= 1 << 63 else shard, seqno, root_hash, file_hash)


def prove_account(head: BlockIdExt, address: Address, answer: dict[str, Any], what: str) -> Cell | None:
    """A liteServer.accountState for `address` at the trusted block `head`: the ShardAccount cell, or None when the
    proof shows the account absent."""
    if block_id(answer["id"]) != head:
        raise UnprovenAnswer(f"{what}: answered for {describe(block_id(answer['id']))}, asked for {describe(head)}")
    shard_block = block_id(answer["shardblk"])
    if address.wc == MASTERCHAIN:
        expected = head
    else:
        expected = shard_block_of(head, address, answer["shard_proof"], what)
    if shard_block != expected:
        raise UnprovenAnswer(f"{what}: state from shard block {describe(shard_block)}, but the shard holding "
                             f"{address.to_str(False)} is at {describe(expected)}")
    state = _state_root(merkle_roots(answer["proof"], 2, f"{what}: account proof"), shard_block, f"{what}: shard")
    accounts = _ordinary(_ref(state, 1, what), f"{what}: accounts").begin_parse()
    found = None
    if accounts.load_bit():                     # ahme_root$1 root:^(HashmapAug 256 ShardAccount DepthBalanceInfo)
        found = dict_lookup(accounts.load_ref(), 256, int.from_bytes(address.hash_part, "big"), f"{what}: accounts")
    data = answer.get("state") or b""
    if found is None:
        if data:
            raise UnprovenAnswer(f"{what}: the proof shows {address.to_str(False)} absent, but a state was sent")
        return None
    found.load_uint(5)                          # DepthBalanceInfo: split_depth:(#<= 30)
    _skip_currency_collection(found)            # balance
    account_ref, last_hash, last_lt = found.load_ref(), found.load_bytes(32), found.load_uint(64)
    if not data:
        raise UnprovenAnswer(f"{what}: the proof shows {address.to_str(False)} present, but no state was sent")
    try:
        account = Cell.one_from_boc(data)
    except Exception:  # noqa: BLE001
        raise UnprovenAnswer(f"{what}: the account state is not a valid bag of cells") from None
    if account.get_hash(0) != account_ref.get_hash(0):
        raise UnprovenAnswer(f"{what}: the account state sent is not the one the proof names")
    return begin_cell().store_ref(account).store_bytes(last_hash).store_uint(last_lt, 64).end_cell()


def prove_transactions(answer: dict[str, Any], lt: int, tx_hash: bytes, what: str) -> list[Cell]:
    """A liteServer.transactionList read backwards from the proven (lt, hash): each transaction is the one named."""
    try:
        cells = Cell.from_boc(answer["transactions"]) if answer.get("transactions") else []
    except Exception:  # noqa: BLE001
        raise UnprovenAnswer(f"{what}: the transactions are not a valid bag of cells") from None
    for cell in cells:
        if cell.hash != tx_hash:
            raise UnprovenAnswer(f"{what}: transaction {cell.hash.hex()[:16]}… is not the {tx_hash.hex()[:16]}… named")
        s = cell.begin_parse()
        s.skip_bits(4 + 256)                    # transaction$0111 account_addr
        if s.load_uint(64) != lt:
            raise UnprovenAnswer(f"{what}: transaction {tx_hash.hex()[:16]}… has another logical time than {lt}")
        tx_hash, lt = s.load_bytes(32), s.load_uint(64)   # prev_trans_hash prev_trans_lt
    return cells
