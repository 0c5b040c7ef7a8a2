"""chain/proofs.py on its own: honest answers of the fake network (tests/liteserver/network.py) verify, and each
way of bending one is refused with a message that says which check failed."""
from __future__ import annotations

import asyncio
import copy

import pytest
from pytoniq.liteclient.client import LiteClient
from pytoniq_core import Address, Cell
from pytoniq_core.tl.block import BlockIdExt

from chain import proofs
from chain.errors import UnprovenAnswer
from chain.records import account_info
from chain.sandbox import Sandbox
from tests.chain.conftest import TON, address_of, counter_state_init
from tests.liteserver.network import FakeTonNetwork, boc_of, merkle_proof


@pytest.fixture
def chain() -> Sandbox:
    return Sandbox(now=1_800_000_000)


@pytest.fixture
def network(chain) -> FakeTonNetwork:
    return FakeTonNetwork(chain)


@pytest.fixture
def deployed(chain, network, user) -> Address:
    chain.fund(user, TON)
    state_init = counter_state_init(3)
    chain.send_internal(sender=user, to=address_of(state_init), value=TON // 10, state_init=state_init)
    return address_of(state_init)


def head_link(network: FakeTonNetwork) -> dict:
    return network.block_proof(network.first_key_block, network.head().block)["steps"][0]


def verify(network: FakeTonNetwork, link: dict):
    return proofs.verify_forward_link(network.first_key_block, link, {}, "test")


def test_an_honest_head_account_and_history_verify(network, deployed, user, chain):
    head = network.head()
    proven = verify(network, head_link(network))
    assert proven.block == head.block and proven.gen_utime == chain.now and not proven.key_block
    state = proofs.prove_account(head.block, deployed, network.account_state(head, deployed), "test")
    assert account_info(state) == chain.account(deployed)
    for absent in (Address("0:" + "00" * 32), Address("0:" + "7f" * 32), Address("0:" + "ff" * 32)):
        assert proofs.prove_account(head.block, absent, network.account_state(head, absent), "test") is None
    info = chain.account(user)
    answer = network.transactions(user, 16, info.last_tx_lt, bytes.fromhex(info.last_tx_hash))
    cells = proofs.prove_transactions(answer, info.last_tx_lt, bytes.fromhex(info.last_tx_hash), "test")
    assert [c.hash.hex() for c in cells] == [t.hash for t in chain.transactions(user, 16)]


def test_an_account_in_a_shard_with_no_accounts_is_proven_absent(network, chain):
    head = network.head()            # nothing deployed: both shards' account dictionaries are empty
    address = Address("0:" + "42" * 32)
    assert proofs.prove_account(head.block, address, network.account_state(head, address), "test") is None


@pytest.mark.parametrize("bend, message", [
    (lambda link, net: link.update({"@type": "liteServer.blockLinkBack"}), "only forward links"),
    (lambda link, net: link.update({"from": net.head().block.to_dict()}), "not at the trusted"),
    (lambda link, net: link.update({"to": net.first_key_block.to_dict()}), "not to a later masterchain block"),
    (lambda link, net: link.update({"to_key_block": True}), "the link says otherwise"),
    (lambda link, net: link["signatures"].update({"@type": "liteServer.signatureSet.simplex"}), "unsupported signature"),
    (lambda link, net: link["signatures"]["signatures"][0].update({"node_id_short": "ab" * 32}), "not a validator"),
    (lambda link, net: link.update({"dest_proof": net.header_proof(net.blocks[0].cell).to_boc()}),
     "header proof is of another block"),
    (lambda link, net: link.update({"config_proof": net.header_proof(net.blocks[0].cell).to_boc()}),
     "block extra is not in the proof"),
    (lambda link, net: link.update({"config_proof": b"\xb5\xee\x9c\x72garbage"}), "not a valid bag of cells"),
])
def test_a_bent_link_is_refused(network, chain, bend, message):
    chain.fund(Address("0:" + "11" * 32), TON)
    link = head_link(network)
    bend(link, network)
    with pytest.raises(UnprovenAnswer, match=message):
        verify(network, link)


def test_a_link_from_a_block_that_is_not_a_key_block_is_refused(network, chain):
    chain.fund(Address("0:" + "11" * 32), TON)
    middle = network.head()
    chain.fund(Address("0:" + "11" * 32), TON)
    link = network.forward_link(middle, network.head(), config_proof=network.header_proof(middle.cell))
    with pytest.raises(UnprovenAnswer, match="is not a masterchain key block"):
        proofs.verify_forward_link(middle.block, link, {}, "test")


def test_a_proof_that_prunes_the_path_to_the_account_proves_nothing(network, deployed):
    head = network.head()
    answer = network.account_state(head, deployed)
    shard = network.shard_of(deployed, head)
    answer["proof"] = boc_of(network.header_proof(shard.cell), merkle_proof(shard.state, [(1,)]))   # dict root pruned
    answer["state"] = b""
    with pytest.raises(UnprovenAnswer, match="dictionary node is not in the proof"):
        proofs.prove_account(head.block, deployed, answer, "test")


def test_state_of_another_block_or_for_another_request_is_refused(network, deployed, chain):
    old = network.head()
    chain.fund(Address("0:" + "11" * 32), TON)
    new = network.head()
    with pytest.raises(UnprovenAnswer, match="answered for .* asked for"):
        proofs.prove_account(new.block, deployed, network.account_state(old, deployed), "test")
    answer = network.account_state(new, deployed)
    answer["shard_proof"] = network.account_state(old, deployed)["shard_proof"]
    with pytest.raises(UnprovenAnswer, match="header proof is of another block"):
        proofs.prove_account(new.block, deployed, answer, "test")


def test_a_merkle_proof_whose_stated_hash_is_not_its_content_is_refused(network, chain, user):
    chain.fund(user, TON)
    head = network.head()
    proof = Cell.one_from_boc(network.header_proof(head.cell).to_boc())
    forged = Cell(proof.bits.copy(), [network.header_proof(network.blocks[0].cell)[0]], proof.type_)
    with pytest.raises(UnprovenAnswer, match="stated hash is not its content"):
        proofs.merkle_roots(forged.to_boc(), 1, "test")


def test_a_transaction_with_another_logical_time_is_refused(network, user, chain):
    chain.fund(user, TON)
    info = chain.account(user)
    answer = network.transactions(user, 1, info.last_tx_lt, bytes.fromhex(info.last_tx_hash))
    with pytest.raises(UnprovenAnswer, match="another logical time"):
        proofs.prove_transactions(answer, info.last_tx_lt + 1, bytes.fromhex(info.last_tx_hash), "test")


def test_pytoniq_alone_would_take_a_forged_link_that_this_verifier_refuses(network, chain):
    """Why pytoniq's trust levels are not relied on: its forward-link check (0.1.43) reads the validator set from
    a config proof it never ties to the trusted block, so a liteserver with keys of its own passes it."""
    fork = FakeTonNetwork(Sandbox(now=chain.now), validator_seed=9)
    fork.chain.fund(Address("0:" + "22" * 32), TON)
    link = fork.forward_link(fork.blocks[0], fork.head())
    link["from"] = network.first_key_block.to_dict()
    with pytest.raises(UnprovenAnswer, match="header proof is of another block"):
        verify(network, copy.deepcopy(link))

    client = LiteClient("127.0.0.1", 9, "Hh0aHh0eHh4dHR0eHh0eHh4eHh0eHR4eHh4eHR4dHh4=", trust_level=0,
                        init_key_block=network.first_key_block)

    async def answer(_name, _data):
        return {"complete": True, "from": network.first_key_block.to_dict(), "to": link["to"], "steps": [link]}

    client.liteserver_request = answer
    loop = asyncio.new_event_loop()   # not asyncio.run: it would leave no current loop for later tests
    try:
        complete, last, _, _ = loop.run_until_complete(client.raw_get_mc_block_proof(
            network.first_key_block, BlockIdExt.from_dict(link["to"])))
    finally:
        loop.close()
    assert complete and last == BlockIdExt.from_dict(link["to"])
