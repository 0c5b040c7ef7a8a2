"""The liteserver backend against liteservers on 127.0.0.1 (tests/liteserver/): pytoniq's ADNL client talks to
them unchanged, their answers carry real Merkle proofs and validator signatures over a real Sandbox chain, and
each of them can lag, withhold, lie or fail. What the deployer acts on is only ever what was proven."""
from __future__ import annotations

import base64
import json
import pickle
import time

import pytest
from pytoniq_core import Address, Cell
from pytoniq_core.tlb.transaction import ExternalMsgInfo, MessageAny

from chain.client import ChainSettings, ConfigError, MessageRejected, MessageTimeout, NetworkError
from chain.connect import connect
from chain.errors import GetMethodError, LiteserversBehind, UnprovenAnswer
from chain.liteserver import LiteserverClient
from chain.records import raw_address
from chain.sandbox import Sandbox
from chain.trust import PINNED_KEY_BLOCKS, block_ref, trusted_key_block
from chain.wallets import EXPIRY_MARGIN_SECONDS, HighloadWalletV3, JournalFence, SendError, WalletKey
from tests.chain.conftest import TON, address_of, counter_state_init, deploy_transfers
from tests.liteserver.fixtures import chain, liteserver_settings, liteservers, network, settings_for  # noqa: F401
from tests.liteserver.network import FakeTonNetwork
from tests.liteserver.server import LiteserverFarm
from tests.support import network_config


@pytest.fixture
def client(liteserver_settings):
    with LiteserverClient(liteserver_settings) as opened:
        yield opened


def deployed_counter(chain: Sandbox, user: Address, contract_id: int) -> Address:
    state_init = counter_state_init(contract_id)
    chain.send_internal(sender=user, to=address_of(state_init), value=TON // 10, state_init=state_init)
    return address_of(state_init)


def externals(chain: Sandbox, address: Address) -> int:
    return sum(1 for t in chain.transactions(address, 100) if t.in_external)


def test_building_a_client_opens_nothing_and_settings_pickle(liteserver_settings, liteservers):
    client = LiteserverClient(liteserver_settings)
    assert liteservers.requests("getMasterchainInfo") == 0 and client._loop is None
    assert pickle.loads(pickle.dumps(liteserver_settings)) == liteserver_settings
    client.now()
    assert liteservers.requests("getMasterchainInfo") == 2     # the quorum: both liteservers
    client.close()


def test_proven_answers_map_to_the_interface(client, chain, user):
    chain.fund(user, TON)
    contract = deployed_counter(chain, user, 1)
    assert client.account(contract) == chain.account(contract)
    assert client.account(user) == chain.account(user)
    assert client.account(Address("0:" + "00" * 32)).status == "nonexist"    # proven absent (the path is there)
    assert client.account(Address("0:" + "ff" * 32)).status == "nonexist"    # in the other shard
    mapped, expected = client.transactions(user, 5), chain.transactions(user, 5)
    assert [(t.lt, t.hash, t.in_value, t.total_fees) for t in mapped] == \
           [(t.lt, t.hash, t.in_value, t.total_fees) for t in expected]
    assert client.transactions(Address("0:" + "00" * 32)) == []
    assert client.run_get_method(contract, "get_state") == [1, 0]              # on the proven state, here
    with pytest.raises(GetMethodError) as getter:
        client.run_get_method(user, "seqno")                                   # not active: what liteservers say
    assert getter.value.exit_code == -256
    assert client.now() == chain.now


def test_a_long_history_is_read_as_one_proven_hash_chain(client, chain, user):
    chain.fund(user, TON)
    for _ in range(40):
        chain.fund(user, TON // 100)
    history = client.transactions(user, 35)
    assert [t.hash for t in history] == [t.hash for t in chain.transactions(user, 35)]


def test_the_liteservers_asked_are_drawn_at_random_from_the_config(tmp_path, network):
    farm = LiteserverFarm(network, 4)
    try:
        settings = settings_for(network, farm.config_file(tmp_path))
        pairs = {tuple(sorted(LiteserverClient(settings)._order[:2])) for _ in range(30)}
        assert len(pairs) > 1 and {i for pair in pairs for i in pair} == {0, 1, 2, 3}   # never "the first two"
    finally:
        farm.stop()


def test_an_unreachable_liteserver_is_replaced_by_another_one(tmp_path, network, liteservers, chain, user):
    chain.fund(user, TON)
    settings = settings_for(network, liteservers.config_file(tmp_path, down=2))
    for _ in range(4):      # whichever two are drawn first, two that answer are found
        with LiteserverClient(settings) as client:
            assert client.account(user).balance == TON


def test_a_quorum_that_cannot_be_reached_concludes_nothing(tmp_path, network, liteservers, user):
    settings = settings_for(network, liteservers.config_file(tmp_path, down=1), liteserver_quorum=3, retries=1)
    with LiteserverClient(settings) as client, pytest.raises(
            NetworkError, match=r"only 2 of the 3 liteservers that must answer every read .* are reachable"):
        client.account(user)


def test_transient_failures_are_retried(client, liteservers, chain, user):
    chain.fund(user, TON)
    liteservers.servers[0].behaviour.failures["getMasterchainInfo"] = ["drop"]
    liteservers.servers[1].behaviour.failures["getMasterchainInfo"] = ["651"]
    assert client.account(user).balance == TON


# Every way a liteserver fails a request: a lost connection, and the codes it answers while a block is not ready,
# not yet in its database, or it is overloaded. Listed here, not read from the module, so that a failure that
# stops being retried (a narrowed except, a code set without one of them, no retry at all) fails a test.
@pytest.mark.parametrize("failure", ["drop", "651", "652", "-400", "-503"])
def test_each_transient_liteserver_failure_is_retried(client, liteservers, chain, failure):
    liteservers.servers[0].behaviour.failures["getMasterchainInfo"] = [failure]
    assert client.now() == chain.now
    # Both liteservers of the quorum, twice: the attempt one of them failed, and the retry.
    assert liteservers.requests("getMasterchainInfo") == 4


def test_retries_run_out_into_a_network_error(tmp_path, network, liteservers, user):
    settings = settings_for(network, liteservers.config_file(tmp_path), retries=1)
    for server in liteservers.servers:
        server.behaviour.failures["getMasterchainInfo"] = ["drop"] * 10
    with LiteserverClient(settings) as client, pytest.raises(
            NetworkError, match=r"account state on testnet failed after 2 attempt\(s\)"):
        client.account(user)


def test_a_hanging_liteserver_times_out(tmp_path, network, liteservers, user):
    settings = settings_for(network, liteservers.config_file(tmp_path), request_timeout_seconds=1.0, retries=0)
    liteservers.servers[0].behaviour.failures["getMasterchainInfo"] = ["hang"]
    started = time.monotonic()
    with LiteserverClient(settings) as client, pytest.raises(NetworkError, match=r"TimeoutError"):
        client.now()
    assert time.monotonic() - started < 30


def test_a_refused_message_is_not_retried(client, liteservers, user, chain):
    chain.fund(user, TON)
    refused = MessageAny(ExternalMsgInfo(None, user, 0), None, Cell.empty()).serialize()
    with pytest.raises(MessageRejected, match="cannot apply external message"):
        client.send_message(refused)
    assert liteservers.requests("sendMessage") == 2     # through both liteservers of the quorum, once


def test_the_journaled_wallet_runs_unchanged_over_liteservers(client, chain, tmp_path):
    wallet = HighloadWalletV3(client, WalletKey.from_seed(b"\x09" * 32), tmp_path / "journal.json")
    chain.fund(wallet.address, 50 * TON)
    transfers = deploy_transfers(100, 12)
    result = wallet.send(transfers, wait_seconds=10)
    assert result.transfers_sent == 12
    assert all(chain.account(t.destination).status == "active" for t in transfers)
    assert wallet.send(transfers, wait_seconds=10).reused


def test_a_message_is_signed_again_only_30_seconds_after_valid_until(client, chain, liteservers, tmp_path):
    """Past valid-until a message may still sit in a shard block the masterchain does not show yet: "it can never
    land" is a safe verdict only 30 s later (EXPIRY_MARGIN_SECONDS, pinned here by its value), and only then is
    the intent signed again. The chain's clock stands still here, so each side of the boundary is exact."""
    journal = tmp_path / "journal.json"
    wallet = HighloadWalletV3(client, WalletKey.from_seed(b"\x0c" * 32), journal)
    chain.fund(wallet.address, 50 * TON)
    transfers = deploy_transfers(500, 3)
    for server in liteservers.servers:      # every attempt of the first broadcast is lost on the way
        server.behaviour.failures["sendMessage"] = ["drop"] * 3
    with pytest.raises(MessageTimeout):
        wallet.send(transfers, wait_seconds=0.2, rebroadcast_seconds=5)
    for server in liteservers.servers:
        server.behaviour.failures.clear()
    (first,) = json.loads(journal.read_text())["sends"].values()
    assert externals(chain, wallet.address) == 0

    chain.now = first["valid_until"] + 30   # refused by the wallet now, but the verdict is not yet safe
    with pytest.raises(SendError, match="refuses the recorded message .*; nothing new was signed") as refused:
        wallet.send(transfers, wait_seconds=0.2, rebroadcast_seconds=5)
    assert f"a retry after {first['valid_until'] + 30} (chain time)" in str(refused.value)   # when to come back
    assert json.loads(journal.read_text())["sends"][first["intent"]]["attempt"] == 1

    chain.now += 1                          # 31 s past valid-until: it can never land; signed again
    result = wallet.send(transfers, wait_seconds=10)
    assert result.attempts == 2
    assert all(chain.account(t.destination).status == "active" for t in transfers)
    assert externals(chain, wallet.address) == 1


def test_a_lost_journal_fences_the_wallet_up_to_and_including_its_fence(client, chain, tmp_path):
    """A journal that does not know an active wallet: a message signed from another journal may be in flight, valid
    `timeout` s after it was signed and visible up to the margin later; nothing is signed until chain time is past
    that fence. The chain's clock stands still here, so each side of the boundary is exact."""
    key = WalletKey.from_seed(b"\x0d" * 32)
    wallet = HighloadWalletV3(client, key, tmp_path / "journal.json")
    chain.fund(wallet.address, 50 * TON)
    wallet.send(deploy_transfers(600, 1), wait_seconds=10)             # the wallet is active
    lost = HighloadWalletV3(client, key, tmp_path / "another-journal.json")
    transfers = deploy_transfers(610, 2)
    with pytest.raises(JournalFence) as fenced:
        lost.send(transfers, wait_seconds=10)
    assert fenced.value.fence_until == chain.now + lost.timeout_seconds + EXPIRY_MARGIN_SECONDS
    # The operator is told how long to wait.
    assert f"in {lost.timeout_seconds + EXPIRY_MARGIN_SECONDS} s" in str(fenced.value)
    chain.now = fenced.value.fence_until
    with pytest.raises(JournalFence, match=r"\(in 0 s,"):
        lost.send(transfers, wait_seconds=10)
    chain.now += 1
    assert lost.send(transfers, wait_seconds=10).transfers_sent == 2
    assert externals(chain, wallet.address) == 2


@pytest.mark.parametrize("change, network_name, message", [
    ({}, "mainnet", "is the config of testnet, but the stack asks for mainnet"),
    ({"liteservers": []}, "testnet", "lists no liteservers"),
    ({"validator": {}}, "testnet", "has no validator.zero_state.root_hash"),
])
def test_wrong_or_broken_network_configs_are_refused(tmp_path, change, network_name, message):
    path = network_config(tmp_path, "testnet", **change)
    with pytest.raises(ConfigError, match=message):
        connect(ChainSettings(network_name, liteserver_config_path=path))


def test_missing_or_unreadable_config_files_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        connect(ChainSettings("mainnet", liteserver_config_path=str(tmp_path / "absent.json")))
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not readable JSON"):
        connect(ChainSettings("mainnet", liteserver_config_path=str(tmp_path / "broken.json")))
    other = json.loads(open(network_config(tmp_path, "mainnet")).read())
    other["validator"]["zero_state"]["root_hash"] = base64.b64encode(b"x" * 32).decode()
    (tmp_path / "other.json").write_text(json.dumps(other))
    with pytest.raises(ConfigError, match="config of an unknown network"):
        connect(ChainSettings("mainnet", liteserver_config_path=str(tmp_path / "other.json")))
    with pytest.raises(ConfigError, match=r"lists 2 liteserver\(s\); liteserver_quorum asks 3"):
        connect(ChainSettings("testnet", liteserver_config_path=network_config(tmp_path), liteserver_quorum=3))
    with pytest.raises(ConfigError, match="not seqno:root_hash:file_hash"):
        connect(ChainSettings("testnet", liteserver_config_path=network_config(tmp_path), trusted_key_block="1:xx"))


def test_each_public_network_has_a_pinned_key_block():
    for name, pin in PINNED_KEY_BLOCKS.items():
        block = trusted_key_block(name)
        assert block.workchain == -1 and block.seqno == pin.seqno and len(block.root_hash) == 32
        assert trusted_key_block(name, block_ref(block)) == block                 # the override form round-trips


# ---- lagging and lying liteservers ------------------------------------------------------------------------

def test_a_lagging_liteserver_never_hides_a_landed_message(client, chain, network, liteservers, tmp_path):
    wallet = HighloadWalletV3(client, WalletKey.from_seed(b"\x0a" * 32), tmp_path / "journal.json")
    chain.fund(wallet.address, 50 * TON)
    liteservers.servers[1].behaviour.lag_at = network.head().block.seqno   # frozen before the send
    transfers = deploy_transfers(300, 4)
    wallet.send(transfers, wait_seconds=10)
    for _ in range(2):   # re-runs: the current liteserver's proven block wins, the landed message is found
        assert wallet.send(transfers, wait_seconds=10).reused
    fresh = HighloadWalletV3(client, WalletKey.from_seed(b"\x0a" * 32), tmp_path / "other-journal.json")
    assert all(client.account(t.destination).status == "active" for t in transfers)
    with pytest.raises(Exception, match="JournalFence|no record of highload wallet"):
        fresh.send(transfers, wait_seconds=1)     # a lost journal: fenced, not re-signed
    assert externals(chain, wallet.address) == 1


def test_liteservers_that_all_lag_conclude_nothing(tmp_path, network, liteservers, chain, user):
    chain.now = int(time.time()) - 600
    chain.fund(user, TON)
    stale = network.head().block.seqno            # a block of ten minutes ago...
    chain.now = int(time.time())
    chain.fund(user, TON)                         # ...the chain moved on; both liteservers keep serving the old one
    for server in liteservers.servers:
        server.behaviour.lag_at = stale
    settings = settings_for(network, liteservers.config_file(tmp_path), max_block_age_seconds=300, retries=0)
    with LiteserverClient(settings) as client, pytest.raises(
            LiteserversBehind, match=r"newest proven masterchain block of 2 liteservers .* old by this machine's clock"):
        client.account(user)


LIES = {
    "hide": ("hides the contract (state left out)", r"the proof shows 0:\w+ present, but no state was sent"),
    "other_shard": ("answers from the other shard, where the contract does not exist",
                    r"state from shard block .* but the shard holding 0:\w+ is at"),
    "tamper_state": ("sends another account's state under the proof",
                     "the account state sent is not the one the proof names"),
}


@pytest.mark.parametrize("lie", sorted(LIES))
def test_a_lying_pair_cannot_make_a_deployed_contract_look_absent(client, chain, liteservers, user, lie):
    chain.fund(user, TON)
    contract = deployed_counter(chain, user, 7)
    for server in liteservers.servers:            # both liteservers of the quorum lie alike
        setattr(server.behaviour, lie, {raw_address(contract)}) if lie != "tamper_state" else \
            setattr(server.behaviour, lie, True)
    with pytest.raises(UnprovenAnswer, match=rf"liteserver 127\.0\.0\.1:\d+: account {raw_address(contract)}: "
                                             rf"{LIES[lie][1]}"):
        client.account(contract)


@pytest.mark.parametrize("forgery, message", [
    ("fork", r"the header proof is of another block than"),
    ("duplicate_signatures", r"signed .* twice"),
    ("few_signatures", r"not more than 2/3"),
    ("bad_signature", r"an invalid signature of"),
])
def test_a_newest_block_the_validators_did_not_sign_is_refused(client, chain, network, liteservers, user, forgery,
                                                                message):
    chain.fund(user, TON)
    for server in liteservers.servers:
        if forgery == "fork":   # a chain of its own, signed by validators of its own, where nothing was deployed
            fork = FakeTonNetwork(Sandbox(now=chain.now), validator_seed=9)
            fork.chain.fund(Address("0:" + "22" * 32), TON)
            server.behaviour.fork = fork
        else:
            setattr(server.behaviour, forgery, True)
    with pytest.raises(UnprovenAnswer, match=rf"liteserver 127\.0\.0\.1:\d+: .*{message}"):
        client.account(user)


def test_a_transaction_left_out_of_a_history_is_caught(client, chain, liteservers, user):
    chain.fund(user, TON)
    chain.fund(user, TON)
    chain.fund(user, TON)
    for server in liteservers.servers:
        server.behaviour.drop_transactions = True
    with pytest.raises(UnprovenAnswer, match="is not the .* named"):
        client.transactions(user, 3)


def test_new_validator_sets_are_followed_and_the_newest_key_block_is_kept(tmp_path, network, liteservers, chain,
                                                                          user):
    cache = tmp_path / "trust" / "testnet.json"
    settings = settings_for(network, liteservers.config_file(tmp_path), trust_cache_path=str(cache))
    chain.fund(user, TON)
    rotated = network.rotate_validators(7, seed=5)      # elections: a key block naming other validators
    chain.fund(user, TON)                               # blocks after it are signed by the new set only
    with LiteserverClient(settings) as client:
        assert client.account(user).balance == 2 * TON
    assert json.loads(cache.read_text())["newest_key_block"] == block_ref(rotated.block)
    chain.fund(user, TON)
    with LiteserverClient(settings) as client:          # the next run starts from the kept key block
        assert client._known_key_blocks() == [network.first_key_block, rotated.block]
        assert client.account(user).balance == 3 * TON
    assert liteservers.queries("getBlockProof")[-1]["known_block"]["seqno"] == rotated.block.seqno


def test_the_trust_command_proves_key_blocks_for_a_bump_and_refuses_others(tmp_path, network, liteservers, chain,
                                                                            user):
    from chain.__main__ import run
    config = liteservers.config_file(tmp_path)
    chain.fund(user, TON)
    rotated = network.rotate_validators(6, seed=7)
    chain.fund(user, TON)
    base = ["--network", "testnet", "--config", config, "trust", "--from-block", block_ref(network.first_key_block)]
    answer = run(base + ["--candidate", block_ref(rotated.block)])
    assert answer["candidate"] == "proven" and answer["newest_key_block"] == block_ref(rotated.block)
    assert answer["pin"]["seqno"] == rotated.block.seqno and answer["proven_key_blocks"] == 1
    not_key = network.head().block
    with pytest.raises(Exception, match="is not a key block proven from .*do not pin it"):
        run(base + ["--candidate", block_ref(not_key)])


def test_one_liar_claiming_a_newer_block_of_its_own_is_caught_not_ignored(client, chain, liteservers, user):
    chain.fund(user, TON)
    fork = FakeTonNetwork(Sandbox(now=chain.now), validator_seed=9)
    for _ in range(3):      # ahead of the honest liteserver, so its claim is the newest
        fork.chain.fund(Address("0:" + "22" * 32), TON)
        fork.head()
    liteservers.servers[1].behaviour.fork = fork
    with pytest.raises(UnprovenAnswer, match=rf"liteserver 127\.0\.0\.1:{liteservers.servers[1].port}: "):
        client.account(user)
