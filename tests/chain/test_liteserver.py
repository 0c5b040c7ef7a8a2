"""The liteserver backend without a network: pytoniq's balancer is replaced at its boundary by a fake
that answers from a real Sandbox chain, so mapping, retries and timeouts are checked against real cells."""
from __future__ import annotations

import asyncio
import base64
import json
import pickle
import time

import pytest
from pytoniq import LiteBalancer
from pytoniq.liteclient.client import LiteServerError
from pytoniq_core import Address, Cell

from chain.client import AccountsNotActive, ChainSettings, ConfigError, MessageRejected, MessageTimeout, NetworkError
from chain.connect import connect
from chain.errors import GetMethodError, LiteserversDisagree
from chain.liteserver import LiteserverClient, _pytoniq_balancer, load_network_config
from chain.records import raw_address
from chain.sandbox import Sandbox
from chain.wallets import EXPIRY_MARGIN_SECONDS, HighloadWalletV3, SendError, WalletKey
from tests.chain.conftest import TON, address_of, counter_state_init, deploy_transfers
from tests.support import FakeBalancer, network_config


@pytest.fixture
def chain():
    return Sandbox(now=1_800_000_000)


@pytest.fixture
def fake(chain):
    return FakeBalancer(chain)


@pytest.fixture
def settings(tmp_path):
    return ChainSettings("testnet", liteserver_config_path=network_config(tmp_path), request_timeout_seconds=0.5,
                         retries=2, retry_backoff_seconds=0.01, poll_interval_seconds=0.01)


@pytest.fixture
def client(settings, fake):
    return LiteserverClient(settings, balancer_factory=lambda config, timeout: fake)


def test_building_a_client_opens_nothing_and_settings_pickle(settings, fake):
    built = []
    client = LiteserverClient(settings, balancer_factory=lambda config, timeout: built.append(config) or fake)
    assert built == [] and fake.started == 0
    assert pickle.loads(pickle.dumps(settings)) == settings
    client.now()
    assert len(built) == 1 and built[0]["liteservers"] and fake.started == 1
    client.close()
    assert fake.closed == 1


def test_default_factory_builds_a_balancer_from_the_file_without_connecting(settings):
    client = connect(settings)
    assert isinstance(client, LiteserverClient)
    balancer = _pytoniq_balancer(client._config, settings.request_timeout_seconds)
    assert isinstance(balancer, LiteBalancer) and balancer.peers_num == 2 and not balancer.inited


def test_account_and_transactions_map_to_the_interface(client, chain, user):
    chain.fund(user, TON)
    state_init = counter_state_init(1)
    contract = address_of(state_init)
    chain.send_internal(sender=user, to=contract, value=TON // 10, state_init=state_init)
    assert client.account(contract) == chain.account(contract)
    assert client.account(Address("0:" + "00" * 32)).status == "nonexist"
    mapped, expected = client.transactions(user, 5), chain.transactions(user, 5)
    assert [(t.lt, t.hash, t.in_value, t.total_fees) for t in mapped] == \
           [(t.lt, t.hash, t.in_value, t.total_fees) for t in expected]
    assert client.transactions(Address("0:" + "00" * 32)) == []
    assert client.run_get_method(contract, "get_state") == [1, 0]
    assert client.now() == chain.now


def test_transient_errors_are_retried(client, fake, chain, user):
    chain.fund(user, TON)
    fake.failures["raw_get_account_state"] = [asyncio.TimeoutError(), ConnectionResetError("peer gone")]
    assert client.account(user).balance == TON
    assert fake.calls.count("raw_get_account_state") == 3


# The codes a liteserver answers while a block is not ready, not yet in its database or it is overloaded: asked
# again, it answers. Listed here, not read from the module, so that a code dropped from the set fails a test.
@pytest.mark.parametrize("code", [651, 652, -400, -503])
def test_liteserver_not_ready_codes_are_retried(client, fake, chain, code):
    # Armed under the method chain time really calls (ChainClient.now -> getMasterchainInfoExt).
    fake.failures["get_masterchain_info_ext"] = [LiteServerError(code, "block is not ready")]
    assert client.now() == chain.now
    assert fake.calls.count("get_masterchain_info_ext") == 2   # the failed attempt and the retry


def test_a_liteserver_not_ready_code_is_retried_until_the_attempts_run_out(client, fake):
    fake.failures["get_masterchain_info_ext"] = [LiteServerError(651, "block is not ready")] * 3
    with pytest.raises(NetworkError, match=r"chain time on testnet failed after 3 attempt\(s\).*LiteServerError"):
        client.now()
    assert fake.calls.count("get_masterchain_info_ext") == 3


def test_other_liteserver_errors_are_definite_and_not_retried(client, fake):
    fake.failures["get_masterchain_info_ext"] = [LiteServerError(0, "error parsing query")]
    with pytest.raises(LiteServerError):
        client.now()
    assert fake.calls.count("get_masterchain_info_ext") == 1


def test_a_failed_start_is_closed_and_retried_with_a_new_balancer(settings, chain, user):
    built: list[FakeBalancer] = []

    def factory(config, timeout):
        built.append(FakeBalancer(chain))
        if len(built) == 1:
            built[0].start_failures = [ConnectionRefusedError("no liteserver reachable")]
        return built[-1]

    chain.fund(user, TON)
    client = LiteserverClient(settings, balancer_factory=factory)
    assert client.account(user).balance == TON
    assert len(built) == 2 and built[0].closed == 1 and built[1].started == 1


def test_retries_run_out_into_a_network_error(client, fake, user):
    fake.failures["raw_get_account_state"] = [ConnectionRefusedError("refused")] * 3
    with pytest.raises(NetworkError, match=r"account state on testnet failed after 3 attempt\(s\)"):
        client.account(user)


def test_a_hanging_liteserver_times_out(tmp_path, fake):
    settings = ChainSettings("testnet", liteserver_config_path=network_config(tmp_path),
                             request_timeout_seconds=0.05, retries=1, retry_backoff_seconds=0.01)
    client = LiteserverClient(settings, balancer_factory=lambda config, timeout: fake)
    fake.delay_seconds = 5
    started = time.monotonic()
    with pytest.raises(NetworkError, match=r"chain time on testnet failed after 2 attempt\(s\) \(timeout 0.05s"):
        client.now()
    assert time.monotonic() - started < 3


def test_definite_answers_are_not_retried(client, fake, chain, user):
    chain.fund(user, TON)
    with pytest.raises(GetMethodError) as getter:
        client.run_get_method(user, "seqno")
    assert getter.value.exit_code == -256 and fake.calls.count("run_get_method") == 1
    from pytoniq_core.tlb.transaction import ExternalMsgInfo, MessageAny
    refused = MessageAny(ExternalMsgInfo(None, user, 0), None, Cell.empty()).serialize()
    with pytest.raises(MessageRejected, match="cannot apply external message"):
        client.send_message(refused)
    assert fake.calls.count("raw_send_message") == 1


def test_the_journaled_wallet_runs_unchanged_over_liteservers(client, chain, tmp_path):
    wallet = HighloadWalletV3(client, WalletKey.from_seed(b"\x09" * 32), tmp_path / "journal.json")
    chain.fund(wallet.address, 50 * TON)
    transfers = deploy_transfers(100, 12)
    result = wallet.send(transfers, wait_seconds=5)
    assert result.transfers_sent == 12
    assert all(chain.account(t.destination).status == "active" for t in transfers)
    assert wallet.send(transfers, wait_seconds=5).reused


@pytest.mark.parametrize("change, network, message", [
    ({}, "mainnet", "is the config of testnet, but the stack asks for mainnet"),
    ({"liteservers": []}, "testnet", "lists no liteservers"),
    ({"validator": {}}, "testnet", "has no validator.zero_state.root_hash"),
])
def test_wrong_or_broken_network_configs_are_refused(tmp_path, change, network, message):
    path = network_config(tmp_path, "testnet", **change)
    with pytest.raises(ConfigError, match=message):
        connect(ChainSettings(network, liteserver_config_path=path))


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


# ---- lying and lagging liteservers -----------------------------------------------------------------------

def deploy_counts(chain: Sandbox, transfers) -> list[int]:
    return [len(chain.transactions(t.destination, 10)) for t in transfers]


def externals(chain: Sandbox, wallet) -> int:
    return sum(1 for t in chain.transactions(wallet.address, 100) if t.in_external)


def test_the_default_balancer_checks_proofs(settings):
    balancer = _pytoniq_balancer(load_network_config(settings.liteserver_config_path, "testnet"), 1.0)
    assert [peer.trust_level for peer in balancer._peers] == [1, 1]   # 2 would take answers unchecked


def test_a_liteserver_hiding_a_landed_message_never_causes_a_second_send(client, fake, chain, tmp_path):
    wallet = HighloadWalletV3(client, WalletKey.from_seed(b"\x0a" * 32), tmp_path / "journal.json")
    chain.fund(wallet.address, 50 * TON)
    fake._peers[1].lag_behind(Sandbox.from_state(chain.to_state()), 0)   # frozen before the send: it never sees it
    transfers = deploy_transfers(300, 4)
    for _ in range(2):   # the run and a re-run: the landed message is neither found nor declared absent
        with pytest.raises(LiteserversDisagree, match="different answers"):
            wallet.send(transfers, wait_seconds=1)
    assert fake.calls.count("raw_send_message") == 1 and externals(chain, wallet) == 1
    assert deploy_counts(chain, transfers) == [1] * 4
    fake._peers[1].chain = chain                                    # it catches up: the send settles as it was
    result = wallet.send(transfers, wait_seconds=1)
    assert result.attempts == 1 and externals(chain, wallet) == 1


def test_a_liteserver_reporting_a_fake_active_account_is_never_believed(client, fake, chain):
    state_init = counter_state_init(42)
    address = address_of(state_init)
    elsewhere = Sandbox(now=chain.now)
    elsewhere.send_internal(sender=Address("0:" + "22" * 32), to=address, value=TON, state_init=state_init)
    assert elsewhere.account(address).status == "active"
    fake._peers[1].fake_accounts[raw_address(address)] = elsewhere
    with pytest.raises(LiteserversDisagree):
        client.account(address)
    with pytest.raises(AccountsNotActive, match="unknown"):         # a wait never takes it as active
        client.wait_for_active([address], 0.2)
    assert chain.account(address).status == "nonexist"


def test_a_clock_60_seconds_behind_only_delays_the_expiry_verdict(client, fake, chain, tmp_path):
    fake._peers[1].clock_behind = 60
    assert client.now() == chain.now - 60                           # the earliest masterchain time of the quorum
    wallet = HighloadWalletV3(client, WalletKey.from_seed(b"\x0b" * 32), tmp_path / "journal.json")
    chain.fund(wallet.address, 50 * TON)
    transfers = deploy_transfers(400, 3)
    lost = lambda: [ConnectionError("lost")] * 3                    # noqa: E731 - every attempt of one broadcast
    fake.failures["raw_send_message"] = lost()
    with pytest.raises(MessageTimeout):
        wallet.send(transfers, wait_seconds=0.2, rebroadcast_seconds=5)
    record = json.loads((tmp_path / "journal.json").read_text())["sends"]
    (first,) = record.values()
    chain.now = first["valid_until"] + EXPIRY_MARGIN_SECONDS + 10    # expired by the true clock, not the lagging one
    fake.failures["raw_send_message"] = lost()
    with pytest.raises(MessageTimeout):
        wallet.send(transfers, wait_seconds=0.2, rebroadcast_seconds=5)
    assert json.loads((tmp_path / "journal.json").read_text())["sends"][first["intent"]]["attempt"] == 1
    chain.now += 60                                                 # now expired by every clock: signed again
    result = wallet.send(transfers, wait_seconds=1)
    again = json.loads((tmp_path / "journal.json").read_text())["sends"][first["intent"]]
    assert result.attempts == 2 and again["query_id"] == first["query_id"]
    assert deploy_counts(chain, transfers) == [1] * 3 and externals(chain, wallet) == 1


def test_a_message_is_signed_again_only_30_seconds_after_valid_until(client, fake, chain, tmp_path):
    """Past valid-until a message may still sit in a shard block the masterchain does not show yet: "it can never
    land" is a safe verdict only 30 s later (EXPIRY_MARGIN_SECONDS, pinned here by its value), and only then is
    the intent signed again. The chain's clock stands still here, so each side of the boundary is exact."""
    journal = tmp_path / "journal.json"
    wallet = HighloadWalletV3(client, WalletKey.from_seed(b"\x0c" * 32), journal)
    chain.fund(wallet.address, 50 * TON)
    transfers = deploy_transfers(500, 3)
    fake.failures["raw_send_message"] = [ConnectionError("lost")] * 3   # every attempt of the first broadcast
    with pytest.raises(MessageTimeout):
        wallet.send(transfers, wait_seconds=0.2, rebroadcast_seconds=5)
    (first,) = json.loads(journal.read_text())["sends"].values()

    chain.now = first["valid_until"] + 30          # refused by the wallet now, but the verdict is not yet safe
    with pytest.raises(SendError, match="refuses the recorded message .*; nothing new was signed"):
        wallet.send(transfers, wait_seconds=0.2, rebroadcast_seconds=5)
    assert json.loads(journal.read_text())["sends"][first["intent"]]["attempt"] == 1

    chain.now += 1                                  # 31 s past valid-until: it can never land; signed again
    result = wallet.send(transfers, wait_seconds=1)
    assert result.attempts == 2
    assert deploy_counts(chain, transfers) == [1] * 3 and externals(chain, wallet) == 1


def test_too_few_liteservers_to_agree_conclude_nothing(client, fake, user):
    fake._alive_peers = {0}
    with pytest.raises(NetworkError, match="1 liteserver\\(s\\) answer, 2 must agree"):
        client.account(user)
