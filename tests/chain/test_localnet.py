"""Localnet: one chain shared by processes through a locked file, with injectable faults."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pytoniq_core import Address, Cell

from chain.__main__ import main
from chain.client import AccountsNotActive, ChainSettings, ConfigError, MessageRejected, MessageTimeout, NetworkError
from chain.connect import connect
from chain.localnet import next_block
from chain.wallets import Transfer, WalletKey, WalletV4R2
from tests.chain.conftest import TON, address_of, counter_state_init, op_body

ROOT = Path(__file__).resolve().parents[2]


def cli(chain_file: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chain", "--localnet-path", str(chain_file), *args],
                          cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


def deploy_counter(localnet, user: Address, contract_id: int) -> Address:
    state_init = counter_state_init(contract_id)
    localnet.send_internal(sender=user, to=address_of(state_init), value=TON // 10, state_init=state_init)
    return address_of(state_init)


def test_two_processes_see_each_others_state(localnet, chain_file, user):
    funded = cli(chain_file, "fund", raw(user), "3")          # another process writes
    assert funded.returncode == 0, funded.stderr
    assert localnet.account(user).balance == 3 * TON        # this one sees it

    contract = deploy_counter(localnet, user, 9)            # this process writes
    localnet.send_internal(sender=user, to=contract, value=TON // 10, body=op_body(1))
    shown = cli(chain_file, "account", raw(contract))        # the other one sees it
    assert json.loads(shown.stdout)["status"] == "active"
    assert json.loads(shown.stdout)["code_hash"] == counter_state_init(9).code.hash.hex()
    got = cli(chain_file, "get", raw(contract), "get_state")
    assert json.loads(got.stdout) == [9, 1]


def test_concurrent_writers_lose_no_update(localnet, chain_file, user):
    script = ("import sys, time; from pytoniq_core import Address; from chain.client import ChainSettings; from chain.connect import connect\n"
              "c = connect(ChainSettings('localnet', localnet_path=sys.argv[1]))\n"
              "time.sleep(max(0, float(sys.argv[3]) - time.time()))  # start together\n"
              "for _ in range(8): c.fund(Address(sys.argv[2]), 10**9)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = str(time.time() + 2)
    writers = [subprocess.Popen([sys.executable, "-c", script, str(chain_file), raw(user), start], cwd=ROOT, env=env)
               for _ in range(3)]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0]
    txs = localnet.transactions(user, 100)
    assert len(txs) == 24 and len({t.lt for t in txs}) == 24
    assert localnet.account(user).balance == 24 * TON - sum(t.total_fees for t in txs)  # storage fees only


def test_cli_reports_errors_without_a_traceback(chain_file, user):
    result = cli(chain_file, "get", raw(user), "seqno")
    assert result.returncode == 1
    assert "exit code -256" in result.stderr and "Traceback" not in result.stderr
    testnet = subprocess.run([sys.executable, "-m", "chain", "--network", "testnet", "fund", raw(user), "1"],
                             cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert testnet.returncode == 1 and "liteserver_config_path" in testnet.stderr


def test_rejected_external_message_raises_and_changes_nothing(localnet, user):
    localnet.fund(user, TON)
    contract = deploy_counter(localnet, user, 10)
    before = localnet.account(contract)
    with pytest.raises(MessageRejected):
        localnet.send_external(external_to(contract))
    assert localnet.account(contract) == before


def test_drop_fault_loses_exactly_the_next_messages(localnet):
    wallet, transfer = funded_wallet(localnet)
    localnet.set_faults(drop_external=1)
    first = v4r2_message(wallet, transfer, seqno=0)
    localnet.send_message(first)                               # acknowledged, silently lost
    assert localnet.account(wallet.address).status == "uninit"
    assert localnet.faults().drop_external == 0
    localnet.send_message(first)                               # the next one goes through
    assert localnet.account(wallet.address).status == "active"


def test_fail_send_fault_raises_before_delivery(localnet):
    wallet, transfer = funded_wallet(localnet)
    localnet.set_faults(fail_send=1)
    with pytest.raises(NetworkError):
        localnet.send_message(v4r2_message(wallet, transfer, seqno=0))
    assert localnet.account(wallet.address).status == "uninit"


def test_fail_after_send_fault_raises_after_delivery(localnet):
    wallet, transfer = funded_wallet(localnet)
    localnet.set_faults(fail_after_send=1)
    with pytest.raises(NetworkError):
        localnet.send_message(v4r2_message(wallet, transfer, seqno=0))
    assert localnet.account(wallet.address).status == "active"


def test_delay_fault_executes_the_message_later(localnet):
    wallet, transfer = funded_wallet(localnet)
    localnet.set_faults(delay_seconds=30)
    localnet.send_message(v4r2_message(wallet, transfer, seqno=0))
    assert localnet.account(wallet.address).status == "uninit"
    assert localnet.pending() == 1
    localnet.advance_time(31)
    assert localnet.pending() == 0
    assert localnet.account(wallet.address).status == "active"   # delivered by the reader that asked


def test_timeout_error_says_what_was_sent_and_what_was_observed(localnet):
    wallet, transfer = funded_wallet(localnet)
    localnet.set_faults(drop_external=1)
    sent = localnet.send_external(v4r2_message(wallet, transfer, seqno=0), "deploy of the test wallet")
    with pytest.raises(MessageTimeout) as timeout:
        localnet.wait_for(sent, timeout_seconds=0.1)
    text = str(timeout.value)
    assert "deploy of the test wallet" in text and sent.body_hash in text and sent.message_hash in text
    assert raw(wallet.address) in text
    assert "is uninit, balance 10000000000 nanotons" in text and "none with that body" in text


def test_chain_time_follows_the_wall_clock_and_moves_forward_on_demand(localnet):
    start = localnet.now()
    assert localnet.advance_time(3600) >= start + 3600
    assert localnet.now() >= start + 3600


def test_a_file_that_is_not_a_localnet_chain_is_refused(chain_file, user):
    chain_file.parent.mkdir(parents=True)
    chain_file.write_text("{\"hello\": 1}")
    client = connect(ChainSettings("localnet", localnet_path=str(chain_file)))
    with pytest.raises(ConfigError, match="not a localnet chain file"):
        client.account(user)
    chain_file.write_text("garbage")
    with pytest.raises(ConfigError, match="not a localnet chain file"):
        client.account(user)


@pytest.mark.parametrize("settings, message", [
    (dict(network="devnet"), "unknown network"),
    (dict(network="localnet"), "needs localnet_path"),
    (dict(network="mainnet"), "needs liteserver_config_path"),
    (dict(network="localnet", localnet_path="x.json", retries=-1), "non-negative"),
])
def test_bad_settings_fail_before_any_action(settings, message):
    with pytest.raises(ConfigError, match=message):
        ChainSettings(**settings)


# ---- helpers ------------------------------------------------------------------------------------------
def raw(address: Address) -> str:
    return address.to_str(is_user_friendly=False)


def external_to(address: Address) -> Cell:
    from pytoniq_core.tlb.transaction import ExternalMsgInfo, MessageAny
    return MessageAny(ExternalMsgInfo(None, address, 0), None, Cell.empty()).serialize()


def funded_wallet(localnet, seed: bytes = bytes(32)) -> tuple[WalletV4R2, Transfer]:
    wallet = WalletV4R2(localnet, WalletKey.from_seed(seed), "/dev/null")
    localnet.fund(wallet.address, 10 * TON)
    state_init = counter_state_init(77 + seed[0])
    return wallet, Transfer(address_of(state_init), TON // 10, state_init=state_init)


def v4r2_message(wallet: WalletV4R2, transfer: Transfer, seqno: int) -> Cell:
    """A signed deploy-and-transfer message built by hand (the journaled path is tested in test_wallets)."""
    from pytoniq_core import begin_cell
    from pytoniq_core.tlb.transaction import ExternalMsgInfo, MessageAny
    signed = (begin_cell().store_uint(698983191, 32).store_uint(wallet.client.now() + 60, 32).store_uint(seqno, 32)
              .store_uint(0, 8).store_uint(1, 8).store_ref(transfer.message).end_cell())
    body = begin_cell().store_bytes(wallet.key.sign(signed)).store_cell(signed).end_cell()
    return MessageAny(ExternalMsgInfo(None, wallet.address, 0), wallet.state_init, body).serialize()


def test_wait_for_active_returns_once_delayed_deploys_land(localnet, user):
    wallet, transfer = funded_wallet(localnet)
    localnet.set_faults(delay_seconds=1)
    localnet.send_message(v4r2_message(wallet, transfer, seqno=0))
    ready = localnet.wait_for_active([wallet.address, transfer.destination], timeout_seconds=10)
    assert set(ready) == {raw(wallet.address), raw(transfer.destination)}
    assert all(info.status == "active" for info in ready.values())


def test_wait_for_active_names_the_accounts_that_are_not(localnet, user):
    localnet.fund(user, TON)
    missing = address_of(counter_state_init(123))
    with pytest.raises(AccountsNotActive) as not_active:
        localnet.wait_for_active([user, missing], timeout_seconds=0.1)
    assert set(not_active.value.waiting) == {raw(user), raw(missing)}
    text = str(not_active.value)
    assert text.startswith("2 of 2 account(s) not active") and f"{raw(user)} (uninit, balance" in text
    assert f"{raw(missing)} (nonexist, balance 0)" in text


def test_threads_of_one_process_are_serialized_too(localnet, user):
    # the Pulumi provider serves resources from several threads of one process
    workers = [threading.Thread(target=lambda: [localnet.fund(user, TON) for _ in range(10)]) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(localnet.transactions(user, 100)) == 40


def test_block_interval_includes_messages_only_at_the_next_boundary(localnet, chain_file):
    first, first_transfer = funded_wallet(localnet)
    second, second_transfer = funded_wallet(localnet, seed=b"\x05" * 32)
    assert localnet.block_interval() == 0
    assert main(["--localnet-path", str(chain_file), "blocks", "60"]) == 0     # the CLI sets it in the file
    assert localnet.block_interval() == 60
    localnet.advance_time(60 - localnet.now() % 60 + 5)                      # 5 s into a block: 55 s to go
    boundary = next_block(localnet.now(), 60)
    localnet.send_message(v4r2_message(first, first_transfer, seqno=0))
    localnet.send_message(v4r2_message(second, second_transfer, seqno=0))
    assert [localnet.account(w.address).status for w in (first, second)] == ["uninit", "uninit"]
    localnet.advance_time(boundary - localnet.now() - 2)                     # the block before: still nothing
    assert [localnet.account(w.address).status for w in (first, second)] == ["uninit", "uninit"]
    localnet.advance_time(2)                                                 # the boundary: both in one block
    assert [localnet.account(w.address).status for w in (first, second)] == ["active", "active"]
    localnet.set_block_interval(0)
    third, third_transfer = funded_wallet(localnet, seed=b"\x06" * 32)
    localnet.send_message(v4r2_message(third, third_transfer, seqno=0))
    assert localnet.account(third.address).status == "active"                # off again: at once
    with pytest.raises(ValueError):
        localnet.set_block_interval(-1)
