"""Never a second deploy: the paths a review found (a delayed batch followed by another intent for the same
contracts, a journal lost between runs, two machines sharing a stack), each shown with every contract
deployed exactly once. `deploy_missing` does what the providers do: read the chain, send only what is not
active, and re-read when the wallet says an earlier message landed meanwhile."""
from __future__ import annotations

import json

import pytest

from chain.client import ChainSettings, MessageTimeout
from chain.connect import connect
from chain.records import raw_address
from chain.wallets import (EMERGENCY_QUERY_ID, FIRST_QUERY_ID, QUERY_ID_SPACE, HighloadWalletV3, JournalFence,
                           OpenMessagePending, Superseded, Transfer, WalletKey)
from tests.chain.conftest import HIGHLOAD_SEED, TON, deploy_transfers

TIMEOUT = 120   # a short highload timeout, so the fence of a lost journal is two minutes of chain time


def wallet_on(client, journal, funds: int = 100 * TON) -> HighloadWalletV3:
    wallet = HighloadWalletV3(client, WalletKey.from_seed(HIGHLOAD_SEED), journal, timeout_seconds=TIMEOUT)
    if client.account(wallet.address).balance < funds:
        client.fund(wallet.address, funds)
    return wallet


def deploy_missing(wallet: HighloadWalletV3, transfers: list[Transfer], wait_seconds: float = 0.5) -> int:
    """Send the transfers whose destination is not active yet; returns how many were sent."""
    for _ in range(3):
        wallet.settle_open()
        missing = [t for t in transfers if wallet.client.account(t.destination).status != "active"]
        if not missing:
            return 0
        try:
            return wallet.send(missing, wait_seconds=wait_seconds, rebroadcast_seconds=0.1).transfers_sent
        except Superseded:
            continue
    raise AssertionError("still superseded after three reads")


def deploy_counts(client, transfers: list[Transfer]) -> list[int]:
    """Transactions of each destination: 1 means deployed once (a second deploy would be a second transaction)."""
    return [len(client.transactions(t.destination, 10)) for t in transfers]


def external_count(client, wallet) -> int:
    return sum(1 for t in client.transactions(wallet.address, 500) if t.in_external)


def warm_up(wallet) -> None:
    """Make the wallet active with an unrelated send, as after any earlier deploy."""
    wallet.send(deploy_transfers(90_000, 1))


def test_delayed_batch_then_a_smaller_batch_for_the_same_contracts_lands_once(localnet, tmp_path):
    wallet = wallet_on(localnet, tmp_path / "journal.json")
    warm_up(wallet)
    transfers = deploy_transfers(100, 8)
    localnet.set_faults(delay_seconds=20)                        # the batch of 8 sits in the network
    with pytest.raises(MessageTimeout):
        deploy_missing(wallet, transfers, wait_seconds=0.3)
    assert deploy_counts(localnet, transfers) == [0] * 8

    # shardBatchSize changed to 4: the first half is another intent for four of the same contracts. Its copies
    # are delayed too, so it cannot sign while the batch of 8 may still land.
    with pytest.raises(OpenMessagePending, match="may still reach 4 of the same address"):
        deploy_missing(wallet, transfers[:4], wait_seconds=0.3)
    localnet.advance_time(21)                                     # the delayed batch lands
    localnet.set_faults(delay_seconds=0)
    assert deploy_missing(wallet, transfers[:4]) == 0 and deploy_missing(wallet, transfers[4:]) == 0
    assert deploy_counts(localnet, transfers) == [1] * 8
    assert external_count(localnet, wallet) == 2                 # the warm-up and the batch of 8, nothing else
    sends = json.loads((tmp_path / "journal.json").read_text())["sends"]
    assert sorted(r["status"] for r in sends.values()) == ["confirmed", "confirmed"]   # no record left `sent`


def test_an_open_message_for_the_same_contracts_is_found_behind_an_unrelated_one(localnet, tmp_path):
    """Every other open message is looked at before signing: one for other contracts that has not landed comes
    first in the journal, and the one that may still reach the same contracts is behind it."""
    wallet = wallet_on(localnet, tmp_path / "journal.json")
    warm_up(wallet)
    unrelated, transfers = deploy_transfers(150, 2), deploy_transfers(160, 4)
    localnet.set_faults(delay_seconds=20)                        # both sit in the network
    with pytest.raises(MessageTimeout):
        wallet.send(unrelated, intent_id="unrelated", wait_seconds=0.3, rebroadcast_seconds=5)
    with pytest.raises(MessageTimeout):
        wallet.send(transfers, intent_id="batch", wait_seconds=0.3, rebroadcast_seconds=5)
    with pytest.raises(OpenMessagePending, match="may still reach 4 of the same address"):
        wallet.send(transfers, intent_id="batch-again", wait_seconds=0.3, rebroadcast_seconds=5)
    localnet.advance_time(21)
    localnet.set_faults(delay_seconds=0)
    assert deploy_missing(wallet, unrelated + transfers) == 0
    assert deploy_counts(localnet, unrelated + transfers) == [1] * 6
    assert external_count(localnet, wallet) == 3                 # the warm-up and the two batches, nothing else


def test_an_unrelated_message_that_landed_meanwhile_is_recorded_and_the_new_send_goes_on(localnet, tmp_path):
    """Only a landed message that may have reached the same addresses stops a send (Superseded); one for other
    contracts is recorded as it landed and the new batch is signed."""
    journal = tmp_path / "journal.json"
    wallet = wallet_on(localnet, journal)
    warm_up(wallet)
    unrelated, transfers = deploy_transfers(400, 2), deploy_transfers(410, 3)
    localnet.set_faults(delay_seconds=5)
    with pytest.raises(MessageTimeout):
        wallet.send(unrelated, intent_id="unrelated", wait_seconds=0.3, rebroadcast_seconds=5)
    localnet.set_faults(delay_seconds=0)
    localnet.advance_time(6)                                      # it lands before the next send looks

    result = wallet.send(transfers, intent_id="batch")

    assert result.transfers_sent == 3 and result.attempts == 1 and not result.reused
    sends = json.loads(journal.read_text())["sends"]
    assert sends["unrelated"]["status"] == "confirmed" and sends["unrelated"]["transfers_sent"] == 2
    assert deploy_counts(localnet, unrelated + transfers) == [1] * 5 and external_count(localnet, wallet) == 3


def test_a_settled_earlier_intent_for_the_same_address_does_not_stop_a_new_one(localnet, tmp_path):
    """Only open messages are looked at before signing: a confirmed send to a contract never blocks a later,
    different send to the same contract."""
    journal = tmp_path / "journal.json"
    wallet = wallet_on(localnet, journal)
    deployed = deploy_transfers(450, 1)
    wallet.send(deployed, intent_id="deploy")
    top_up = [Transfer(deployed[0].destination, TON // 10)]

    result = wallet.send(top_up, intent_id="top-up")

    assert result.transfers_sent == 1 and not result.reused
    assert json.loads(journal.read_text())["sends"]["top-up"]["status"] == "confirmed"
    assert external_count(localnet, wallet) == 2


def test_a_batch_signed_while_the_network_is_down_still_holds_back_another_for_the_same_contracts(localnet, tmp_path):
    """No broadcast reached the chain: the record stays `signed`, which is open (a rerun broadcasts it; it may
    have left before an error), so a new intent for the same contracts drives it first and signs nothing."""
    journal = tmp_path / "journal.json"
    wallet = wallet_on(localnet, journal)
    warm_up(wallet)
    transfers = deploy_transfers(470, 3)
    localnet.set_faults(fail_send=100)
    with pytest.raises(MessageTimeout):
        wallet.send(transfers, intent_id="unsent", wait_seconds=0.3, rebroadcast_seconds=0.1)
    assert json.loads(journal.read_text())["sends"]["unsent"]["status"] == "signed"
    localnet.set_faults(fail_send=0)

    with pytest.raises(Superseded, match="landed meanwhile"):
        wallet.send(transfers[1:], intent_id="smaller", wait_seconds=2, rebroadcast_seconds=0.1)
    assert deploy_counts(localnet, transfers) == [1] * 3 and external_count(localnet, wallet) == 2


def test_an_earlier_batch_that_lands_while_waited_for_supersedes_the_new_intent(localnet, tmp_path):
    wallet = wallet_on(localnet, tmp_path / "journal.json")
    warm_up(wallet)
    transfers = deploy_transfers(200, 6)
    localnet.set_faults(drop_external=1)                          # the batch of 6 is lost once
    with pytest.raises(MessageTimeout):
        wallet.send(transfers, wait_seconds=0.2, rebroadcast_seconds=5)
    with pytest.raises(Superseded, match="landed meanwhile"):     # re-broadcast, it lands: nothing new signed
        wallet.send(transfers[2:], wait_seconds=2, rebroadcast_seconds=0.1)
    assert deploy_counts(localnet, transfers) == [1] * 6 and external_count(localnet, wallet) == 2
    assert deploy_missing(wallet, transfers[2:]) == 0


def test_journal_deleted_with_a_batch_in_flight_fences_the_active_wallet(localnet, tmp_path):
    journal = tmp_path / "journal.json"
    wallet = wallet_on(localnet, journal)
    warm_up(wallet)
    transfers = deploy_transfers(300, 8)
    localnet.set_faults(delay_seconds=40)
    with pytest.raises(MessageTimeout):
        deploy_missing(wallet, transfers, wait_seconds=0.3)
    journal.unlink()                                              # lost between runs (or a CI runner without it)
    localnet.set_faults(delay_seconds=0)

    before = localnet.now()
    with pytest.raises(JournalFence, match="has no record of highload wallet") as fenced:
        deploy_missing(wallet, transfers)
    # A message signed elsewhere just before is valid TIMEOUT s, and may show up to 30 s after that.
    assert before + TIMEOUT + 30 <= fenced.value.fence_until <= localnet.now() + TIMEOUT + 30
    localnet.advance_time(41)                                     # the lost batch lands meanwhile
    assert deploy_missing(wallet, transfers) == 0                 # everything is active: adopted, nothing signed
    others = deploy_transfers(350, 2)
    with pytest.raises(JournalFence):                             # anything else waits for the fence
        deploy_missing(wallet, others)
    localnet.advance_time(fenced.value.fence_until - localnet.now() + 1)
    assert deploy_missing(wallet, others) == 2
    assert deploy_counts(localnet, transfers + others) == [1] * 10 and external_count(localnet, wallet) == 3


def test_journal_deleted_with_a_lost_batch_deploys_once_after_the_fence(localnet, tmp_path):
    journal = tmp_path / "journal.json"
    wallet = wallet_on(localnet, journal)
    warm_up(wallet)
    transfers = deploy_transfers(400, 4)
    localnet.set_faults(drop_external=50)                          # never arrives
    with pytest.raises(MessageTimeout):
        deploy_missing(wallet, transfers, wait_seconds=0.3)
    journal.unlink()
    localnet.set_faults(drop_external=0)
    with pytest.raises(JournalFence) as fenced:
        deploy_missing(wallet, transfers)
    localnet.advance_time(fenced.value.fence_until - localnet.now() + 1)
    assert deploy_missing(wallet, transfers) == 4
    assert deploy_counts(localnet, transfers) == [1] * 4


def test_journal_deleted_before_the_wallets_first_message_landed_collides_on_query_id_0(localnet, tmp_path):
    journal = tmp_path / "journal.json"
    wallet = wallet_on(localnet, journal)                          # funded, not yet active: no fence possible
    transfers = deploy_transfers(500, 8)
    localnet.set_faults(delay_seconds=30)
    with pytest.raises(MessageTimeout):
        deploy_missing(wallet, transfers, wait_seconds=0.3)
    first = json.loads(journal.read_text())["sends"]
    assert [r["query_id"] for r in first.values()] == [FIRST_QUERY_ID]
    journal.unlink()
    localnet.set_faults(delay_seconds=0)

    assert deploy_missing(wallet, transfers[:4]) == 4             # another intent, the same first query id: lands
    localnet.advance_time(31)                                     # the lost first message arrives: refused
    assert deploy_counts(localnet, transfers) == [1] * 4 + [0] * 4
    assert deploy_missing(wallet, transfers) == 4
    assert deploy_counts(localnet, transfers) == [1] * 8


def test_two_machines_sharing_the_stack_share_the_journal_and_deploy_each_contract_once(chain_file, tmp_path):
    shared = tmp_path / "backend" / "journal.json"                 # beside the stack's state: both read it
    machine_a = connect(ChainSettings("localnet", localnet_path=str(chain_file), poll_interval_seconds=0.02))
    machine_b = connect(ChainSettings("localnet", localnet_path=str(chain_file), poll_interval_seconds=0.02))
    wallet_a, wallet_b = wallet_on(machine_a, shared), wallet_on(machine_b, shared)
    warm_up(wallet_a)
    transfers = deploy_transfers(600, 8)
    machine_a.set_faults(delay_seconds=15)
    with pytest.raises(MessageTimeout):                           # A's run ends with its batch in flight
        deploy_missing(wallet_a, transfers, wait_seconds=0.3)
    with pytest.raises(OpenMessagePending):                       # B sees A's open message in the journal
        deploy_missing(wallet_b, transfers[4:], wait_seconds=0.3)
    machine_b.advance_time(16)
    machine_b.set_faults(delay_seconds=0)
    assert deploy_missing(wallet_b, transfers) == 0
    assert deploy_counts(machine_b, transfers) == [1] * 8 and external_count(machine_b, wallet_b) == 2


def test_two_machines_with_separate_journals_are_fenced(chain_file, tmp_path):
    machine_a = connect(ChainSettings("localnet", localnet_path=str(chain_file), poll_interval_seconds=0.02))
    machine_b = connect(ChainSettings("localnet", localnet_path=str(chain_file), poll_interval_seconds=0.02))
    wallet_a, wallet_b = wallet_on(machine_a, tmp_path / "a.json"), wallet_on(machine_b, tmp_path / "b.json")
    warm_up(wallet_a)
    transfers = deploy_transfers(700, 4)
    machine_a.set_faults(delay_seconds=15)
    with pytest.raises(MessageTimeout):
        deploy_missing(wallet_a, transfers, wait_seconds=0.3)
    machine_b.set_faults(delay_seconds=0)
    with pytest.raises(JournalFence):
        deploy_missing(wallet_b, transfers)
    assert deploy_counts(machine_b, transfers) == [0] * 4


def test_the_query_id_allocator_never_hands_out_the_emergency_id(localnet, tmp_path):
    journal = tmp_path / "journal.json"
    wallet = wallet_on(localnet, journal, funds=1000 * TON)
    warm_up(wallet)
    data = json.loads(journal.read_text())
    data["wallets"][raw_address(wallet.address)]["next_query"] = QUERY_ID_SPACE - 3
    journal.write_text(json.dumps(data))
    ids = [wallet.send(deploy_transfers(800 + i, 1)).intent_id for i in range(3)]
    sends = json.loads(journal.read_text())["sends"]
    used = [sends[i]["query_id"] for i in ids]
    assert used == [(8191 << 10) | 1020, (8191 << 10) | 1021, 1]   # wraps past the emergency id (and past 0, used)
    assert EMERGENCY_QUERY_ID == (8191 << 10) | 1022 and EMERGENCY_QUERY_ID not in used


def test_two_first_messages_from_one_journal_do_not_share_query_id_0(localnet, tmp_path):
    journal = tmp_path / "journal.json"
    wallet = wallet_on(localnet, journal)
    first, second = deploy_transfers(900, 2), deploy_transfers(910, 2)
    localnet.set_faults(delay_seconds=10)                          # both signed while the wallet is uninitialised
    for transfers in (first, second):
        with pytest.raises(MessageTimeout):
            wallet.send(transfers, wait_seconds=0.2, rebroadcast_seconds=5)
    sends = json.loads(journal.read_text())["sends"]
    assert sorted(r["query_id"] for r in sends.values()) == [FIRST_QUERY_ID, FIRST_QUERY_ID + 1]
    localnet.advance_time(11)
    localnet.set_faults(delay_seconds=0)
    assert deploy_missing(wallet, first + second) == 0             # both landed, each carrying the wallet's StateInit
    assert deploy_counts(localnet, first + second) == [1] * 4 and external_count(localnet, wallet) == 2
