"""Journaled wallets on localnet: batches, retries, crashes and expiry never lead to a double send."""
from __future__ import annotations

import base64
import json
import logging
import os
import pickle
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from pytoniq_core import Address, Cell, StateInit, begin_cell
from pytoniq_core.crypto.keys import mnemonic_new

from chain.client import ChainSettings, MessageRejected, MessageTimeout
from chain.connect import connect
from chain.wallets import (EXPIRY_MARGIN_SECONDS, FEE_RESERVE_PER_TRANSFER, AmbiguousSend, HighloadWalletV3,
                           InsufficientFunds, IntentConflict, SendError, SendFailed, Transfer, WalletKey, WalletV4R2,
                           TRANSFERS_PER_LINK, forward_fee)
from tests.chain.conftest import HIGHLOAD_SEED, TON, address_of, counter_state_init, deploy_transfers

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def journal(tmp_path) -> Path:
    return tmp_path / "journal.json"


def highload(localnet, journal, funds: int = 100 * TON) -> HighloadWalletV3:
    wallet = HighloadWalletV3(localnet, WalletKey.from_seed(HIGHLOAD_SEED), journal)
    localnet.fund(wallet.address, funds)
    return wallet


def transactions_of(localnet, transfers: list[Transfer]) -> list[int]:
    return [len(localnet.transactions(t.destination, 10)) for t in transfers]


def external_txs(localnet, wallet) -> list:
    return [t for t in localnet.transactions(wallet.address, 500) if t.in_external]


def test_256_contracts_deploy_with_one_highload_external_message(localnet, journal):
    wallet = highload(localnet, journal, funds=1000 * TON)
    transfers = deploy_transfers(1000, 256)
    result = wallet.send(transfers, intent_id="deploy-256")
    assert result.transfers_sent == 256 and result.attempts == 1 and not result.reused
    assert all(localnet.account(t.destination).status == "active" for t in transfers)
    assert localnet.run_get_method(transfers[255].destination, "get_state") == [1255, 0]
    assert len(external_txs(localnet, wallet)) == 1          # one external message did it all
    assert json.loads(journal.read_text())["sends"]["deploy-256"]["status"] == "confirmed"

    again = wallet.send(transfers, intent_id="deploy-256")    # re-running converges, sends nothing
    assert again.reused and again.external_tx_hash == result.external_tx_hash
    assert len(external_txs(localnet, wallet)) == 1


def test_dropped_message_then_retry_deploys_each_contract_once_for_one_messages_fees(localnet, journal, tmp_path):
    baseline = connect(ChainSettings("localnet", localnet_path=str(tmp_path / "baseline.json")))
    base_wallet = highload(baseline, tmp_path / "baseline-journal.json")
    transfers = deploy_transfers(2000, 16)
    before = baseline.account(base_wallet.address).balance
    base_wallet.send(transfers, intent_id="batch")
    spent_once = before - baseline.account(base_wallet.address).balance

    wallet = highload(localnet, journal)
    before = localnet.account(wallet.address).balance
    localnet.set_faults(drop_external=1)
    with pytest.raises(MessageTimeout) as timeout:
        wallet.send(transfers, intent_id="batch", wait_seconds=0.3, rebroadcast_seconds=5)
    assert "batch" in str(timeout.value) and "keeps it as sent" in str(timeout.value)
    assert transactions_of(localnet, transfers) == [0] * 16

    result = wallet.send(transfers, intent_id="batch")       # the retry re-broadcasts the same signed message
    assert result.attempts == 1 and result.transfers_sent == 16
    assert transactions_of(localnet, transfers) == [1] * 16
    assert len(external_txs(localnet, wallet)) == 1
    spent = before - localnet.account(wallet.address).balance
    assert abs(spent - spent_once) <= 1_000                   # the same fees as a single clean send (storage aside)


def test_rebroadcast_within_one_call_survives_a_dropped_message(localnet, journal):
    wallet = highload(localnet, journal)
    localnet.set_faults(drop_external=2)
    transfers = deploy_transfers(2100, 4)
    result = wallet.send(transfers, wait_seconds=10, rebroadcast_seconds=0.1)
    assert result.attempts == 1 and transactions_of(localnet, transfers) == [1] * 4
    broadcasts = json.loads(journal.read_text())["sends"][result.intent_id]["broadcasts"]
    assert broadcasts == 3  # two were lost, the third landed


def test_network_error_after_delivery_is_not_a_reason_to_send_again(localnet, journal):
    wallet = highload(localnet, journal)
    localnet.set_faults(fail_after_send=1)
    transfers = deploy_transfers(2200, 3)
    result = wallet.send(transfers)
    assert result.attempts == 1 and transactions_of(localnet, transfers) == [1] * 3
    assert len(external_txs(localnet, wallet)) == 1


@pytest.mark.parametrize("crash_point", ["before_send", "after_send"])
def test_crash_between_sign_and_send_then_rerun_converges_without_double_send(localnet, chain_file, journal,
                                                                               crash_point):
    wallet = highload(localnet, journal)
    crashed = subprocess.run(
        [sys.executable, str(ROOT / "tests/chain/send_and_crash.py"), str(chain_file), str(journal), crash_point,
         "3000", "8"], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    record = json.loads(journal.read_text())["sends"]["crash-test"]
    assert record["status"] == "signed"                       # recorded before it left the process
    transfers = deploy_transfers(3000, 8)
    expected_before = [1] * 8 if crash_point == "after_send" else [0] * 8
    assert transactions_of(localnet, transfers) == expected_before

    result = wallet.send(transfers, intent_id="crash-test")
    assert result.attempts == 1
    assert transactions_of(localnet, transfers) == [1] * 8
    assert len(external_txs(localnet, wallet)) == 1
    broadcasts = json.loads(journal.read_text())["sends"]["crash-test"]["broadcasts"]
    assert broadcasts == (0 if crash_point == "after_send" else 1)


def test_expired_message_is_replaced_only_after_valid_until(localnet, journal):
    wallet = highload(localnet, journal)
    transfers = deploy_transfers(4000, 5)
    localnet.set_faults(drop_external=1)
    with pytest.raises(MessageTimeout):
        wallet.send(transfers, intent_id="expiring", wait_seconds=0.2, rebroadcast_seconds=5)
    first = json.loads(journal.read_text())["sends"]["expiring"]

    localnet.advance_time(first["valid_until"] - localnet.now() - 1)   # its last valid second: re-broadcast only
    localnet.set_faults(drop_external=1)
    with pytest.raises(MessageTimeout):
        wallet.send(transfers, intent_id="expiring", wait_seconds=0.2, rebroadcast_seconds=5)
    assert json.loads(journal.read_text())["sends"]["expiring"]["attempt"] == 1
    localnet.advance_time(EXPIRY_MARGIN_SECONDS + 2)                   # past valid-until and the margin: replace
    result = wallet.send(transfers, intent_id="expiring")
    assert result.attempts == 2                               # a new message, because the old one can never land
    record = json.loads(journal.read_text())["sends"]["expiring"]
    assert record["history"][0]["status"] == "expired" and record["body_hash"] != first["body_hash"]
    assert record["query_id"] == first["query_id"]            # re-signed with the same query id: one of them at most
    assert transactions_of(localnet, transfers) == [1] * 5
    with pytest.raises(MessageRejected):                      # the expired message is dead on chain too
        localnet.send_message(Cell.one_from_boc(base64.b64decode(first["message_boc"])))


def test_wallet_v4r2_deploys_itself_then_counts_seqno(localnet, journal):
    wallet = WalletV4R2(localnet, WalletKey.from_seed(b"\x03" * 32), journal)
    localnet.fund(wallet.address, 10 * TON)
    first = wallet.send(deploy_transfers(5000, 1))
    assert localnet.account(wallet.address).status == "active" and wallet.seqno() == 1
    second = wallet.send(deploy_transfers(5001, 4))
    assert wallet.seqno() == 2 and second.transfers_sent == 4 and second.external_tx_lt > first.external_tx_lt
    assert wallet.send(deploy_transfers(5000, 1)).reused      # same transfers, same intent: nothing sent
    assert wallet.seqno() == 2
    with pytest.raises(ValueError, match="1 to 4 transfers"):
        wallet.send(deploy_transfers(5010, 5))


def test_failed_actions_are_reported_and_nothing_was_sent(localnet, journal):
    wallet = WalletV4R2(localnet, WalletKey.from_seed(b"\x04" * 32), journal)
    localnet.fund(wallet.address, 10 * TON)
    nowhere = Transfer(Address("1:" + "ab" * 32), TON)       # workchain 1 does not exist: the action phase fails
    with pytest.raises(SendFailed) as failed:
        wallet.send([nowhere], intent_id="to-nowhere")
    assert not failed.value.partial and "sent 0 of 1" in str(failed.value)
    assert json.loads(journal.read_text())["sends"]["to-nowhere"]["status"] == "failed"
    with pytest.raises(SendFailed):
        wallet.send([nowhere], intent_id="to-nowhere")       # a retry may sign anew: nothing had left
    assert json.loads(journal.read_text())["sends"]["to-nowhere"]["attempt"] == 2


def failed_after_it_was_left(localnet, journal, seed: bytes, byte: str, intent: str) -> tuple[WalletV4R2, Transfer]:
    """A v4r2 wallet whose message (one transfer to workchain 1, which does not exist, so its action phase fails)
    is still in flight when the send gives up waiting, then lands and fails: the wallet and that transfer."""
    wallet = WalletV4R2(localnet, WalletKey.from_seed(seed), journal)
    localnet.fund(wallet.address, 10 * TON)
    nowhere = Transfer(Address("1:" + byte * 32), TON)
    localnet.set_faults(delay_seconds=5)
    with pytest.raises(MessageTimeout):
        wallet.send([nowhere], intent_id=intent, wait_seconds=0.2, rebroadcast_seconds=5)
    localnet.set_faults(delay_seconds=0)
    localnet.advance_time(6)                                 # it lands, and fails
    return wallet, nowhere


def test_a_landed_failure_for_the_same_address_does_not_stop_a_new_send(localnet, journal):
    """An earlier message that landed and sent nothing (its actions failed) supersedes nothing: a new intent for
    the same address is signed (and fails the same way here), never refused as Superseded."""
    wallet, nowhere = failed_after_it_was_left(localnet, journal, b"\x0b" * 32, "ef", "first")

    with pytest.raises(SendFailed, match="sent 0 of 1"):
        wallet.send([nowhere], intent_id="second")
    sends = json.loads(journal.read_text())["sends"]
    assert sends["first"]["status"] == "failed" and sends["second"]["status"] == "failed"


@pytest.mark.parametrize("kind, seed", [(WalletV4R2, b"\x0c"), (HighloadWalletV3, b"\x0e")])
def test_a_wallet_on_the_masterchain_signs_for_its_own_wallet_id(localnet, tmp_path, kind, seed):
    """The signed wallet id is the one in the wallet's data (base id + workchain): on workchain -1 a wrong sign
    (base id - workchain) is refused by the wallet and nothing is sent."""
    wallet = kind(localnet, WalletKey.from_seed(seed * 32), tmp_path / "journal.json", workchain=-1)
    assert wallet.address.wc == -1
    localnet.fund(wallet.address, 10 * TON)
    transfers = deploy_transfers(9700 + seed[0] * 10, 2)
    assert wallet.send(transfers, wait_seconds=5).transfers_sent == 2
    assert all(localnet.account(t.destination).status == "active" for t in transfers)


def test_intent_ids_cannot_be_reused_for_other_transfers(localnet, journal):
    wallet = highload(localnet, journal)
    wallet.send(deploy_transfers(6000, 2), intent_id="shards-0-1")
    with pytest.raises(IntentConflict, match="intent 'shards-0-1' is recorded for other transfers"):
        wallet.send(deploy_transfers(6002, 2), intent_id="shards-0-1")


def test_insufficient_funds_are_refused_before_signing(localnet, journal):
    wallet = highload(localnet, journal, funds=TON)
    with pytest.raises(InsufficientFunds, match="holds 1000000000 nanotons"):
        wallet.send(deploy_transfers(7000, 3, value=TON))
    assert not journal.exists() or not json.loads(journal.read_text())["sends"]


def test_secrets_never_reach_logs_journal_repr_or_pickles(localnet, journal, caplog):
    words = mnemonic_new(24)
    key = WalletKey.from_mnemonic(" ".join(words))
    secret_hex = key._secret.hex()
    caplog.set_level(logging.DEBUG)
    wallet = WalletV4R2(localnet, key, journal)
    localnet.fund(wallet.address, 10 * TON)
    localnet.set_faults(drop_external=1)
    with pytest.raises(MessageTimeout) as timeout:
        wallet.send(deploy_transfers(8000, 1), wait_seconds=0.2, rebroadcast_seconds=5)
    wallet.send(deploy_transfers(8000, 1))
    for text in (journal.read_text(), caplog.text, repr(key), repr(wallet.__dict__), str(timeout.value)):
        assert secret_hex not in text and secret_hex[:16] not in text
        # Single words can occur in ordinary messages ("account"); any two adjacent words of the phrase cannot.
        assert not [pair for pair in zip(words, words[1:]) if re.search(rf"\b{pair[0]}\W+{pair[1]}\b", text)]
    with pytest.raises(TypeError, match="never pickled"):
        pickle.dumps(key)
    with pytest.raises(ValueError) as bad:
        WalletKey.from_mnemonic("abandon " * 23 + "zebra")
    assert "abandon" not in str(bad.value) and "zebra" not in str(bad.value)


def test_an_unreadable_journal_stops_the_send(localnet, journal):
    wallet = highload(localnet, journal)
    journal.write_text("{truncated")
    with pytest.raises(SendError, match="unreadable; refusing to send") as refused:
        wallet.send(deploy_transfers(9000, 1))
    assert str(journal) in str(refused.value)  # the operator is told which file
    assert len(external_txs(localnet, wallet)) == 0


def test_a_journal_with_only_its_wallets_and_sends_is_read(localnet, journal):
    """A journal restored by hand (no `format` key) still counts: what it records is never signed again."""
    wallet = highload(localnet, journal)
    transfers = deploy_transfers(9100, 1)
    first = wallet.send(transfers, intent_id="restored")
    kept = json.loads(journal.read_text())
    journal.write_text(json.dumps({"wallets": kept["wallets"], "sends": kept["sends"]}))
    again = wallet.send(transfers, intent_id="restored")
    assert again.reused and again.external_tx_hash == first.external_tx_hash
    assert len(external_txs(localnet, wallet)) == 1


def test_a_message_that_landed_unseen_is_adopted_by_a_rerun_long_after_it_expired(localnet, journal):
    """The run that sent it stopped before it saw it land; a rerun after its valid-until (and the margin) looks for
    its transaction first: recorded as sent once, never taken as lost (AmbiguousSend) nor signed again."""
    wallet = WalletV4R2(localnet, WalletKey.from_seed(b"\x0f" * 32), journal)
    localnet.fund(wallet.address, 10 * TON)
    transfers = deploy_transfers(9800, 2)
    localnet.set_faults(delay_seconds=5)
    with pytest.raises(MessageTimeout):
        wallet.send(transfers, intent_id="unseen", wait_seconds=0.2, rebroadcast_seconds=5)
    localnet.set_faults(delay_seconds=0)
    localnet.advance_time(6)                                 # it lands; nobody looks
    record = json.loads(journal.read_text())["sends"]["unseen"]
    localnet.advance_time(record["valid_until"] - localnet.now() + EXPIRY_MARGIN_SECONDS + 60)

    result = wallet.send(transfers, intent_id="unseen")

    assert result.attempts == 1 and result.transfers_sent == 2 and not result.reused
    assert json.loads(journal.read_text())["sends"]["unseen"]["status"] == "confirmed"
    assert len(external_txs(localnet, wallet)) == 1


def test_settle_open_records_a_message_that_landed_and_failed_and_does_not_raise(localnet, journal):
    """A message that landed with its actions failed is recorded `failed` by settle_open (a later send may sign
    anew: nothing left), not raised: settle_open runs before reading the chain and must go on."""
    wallet, _ = failed_after_it_was_left(localnet, journal, b"\x0a" * 32, "cd", "late-failure")

    assert wallet.settle_open() == []
    record = json.loads(journal.read_text())["sends"]["late-failure"]
    assert record["status"] == "failed" and record["transfers_sent"] == 0


def test_settle_open_records_what_landed_and_what_expired_and_names_what_is_still_open(localnet, journal):
    wallet = highload(localnet, journal)
    other = WalletV4R2(localnet, WalletKey.from_seed(b"\x08" * 32), journal)   # another wallet, the same journal
    localnet.fund(other.address, 10 * TON)
    lost, late, others = deploy_transfers(9500, 2), deploy_transfers(9510, 2), deploy_transfers(9520, 1)
    localnet.set_faults(drop_external=2)
    for sender, transfers, intent in ((wallet, lost, "lost"), (other, others, "other-wallet")):
        with pytest.raises(MessageTimeout):
            sender.send(transfers, intent_id=intent, wait_seconds=0.2, rebroadcast_seconds=5)
    localnet.set_faults(delay_seconds=5)
    with pytest.raises(MessageTimeout):
        wallet.send(late, intent_id="late", wait_seconds=0.2, rebroadcast_seconds=5)
    assert wallet.settle_open() == ["lost", "late"]             # neither landed yet; the other wallet's is not ours

    localnet.set_faults(delay_seconds=0)
    localnet.advance_time(6)                                    # the late message lands
    assert wallet.settle_open() == ["lost"]
    sends = json.loads(journal.read_text())["sends"]
    assert sends["late"]["status"] == "confirmed" and sends["late"]["transfers_sent"] == 2
    assert all(localnet.account(t.destination).status == "active" for t in late)

    localnet.advance_time(sends["lost"]["valid_until"] - localnet.now() + EXPIRY_MARGIN_SECONDS + 2)
    assert wallet.settle_open() == []                           # past valid-until and the margin: it can never land
    sends = json.loads(journal.read_text())["sends"]
    assert sends["lost"]["status"] == "expired" and sends["late"]["status"] == "confirmed"
    assert sends["other-wallet"]["status"] in ("signed", "sent")   # another wallet's record is left to it
    assert other.settle_open() == [] and json.loads(journal.read_text())["sends"]["other-wallet"]["status"] == "expired"
    assert all(localnet.account(t.destination).status == "nonexist" for t in lost + others)
    assert len(external_txs(localnet, wallet)) == 1


def test_a_v4r2_message_that_never_landed_is_signed_again_with_its_seqno(localnet, tmp_path):
    """Expired and its seqno still unused on chain: signed again for the same seqno (a used seqno would be
    AmbiguousSend: test_a_seqno_used_behind_the_journals_back_is_never_signed_over)."""
    wallet = WalletV4R2(localnet, WalletKey.from_seed(b"\x05" * 32), tmp_path / "journal.json")
    localnet.fund(wallet.address, 10 * TON)
    localnet.set_faults(drop_external=1)                                   # the wallet's first message: lost
    with pytest.raises(MessageTimeout):
        wallet.send(deploy_transfers(9600, 1), intent_id="first", wait_seconds=0.2, rebroadcast_seconds=5)
    localnet.advance_time(wallet.ttl_seconds + EXPIRY_MARGIN_SECONDS + 2)
    assert wallet.send(deploy_transfers(9600, 1), intent_id="first", wait_seconds=10).attempts == 2
    assert wallet.seqno() == 1                                             # deployed by it: seqno 1 next
    localnet.set_faults(drop_external=1)
    with pytest.raises(MessageTimeout):
        wallet.send(deploy_transfers(9610, 1), intent_id="second", wait_seconds=0.2, rebroadcast_seconds=5)
    first = json.loads((tmp_path / "journal.json").read_text())["sends"]["second"]
    assert first["seqno"] == 1 and wallet.seqno() == 1
    localnet.advance_time(wallet.ttl_seconds + EXPIRY_MARGIN_SECONDS + 2)
    result = wallet.send(deploy_transfers(9610, 1), intent_id="second", wait_seconds=10)
    assert result.attempts == 2 and wallet.seqno() == 2
    assert localnet.account(deploy_transfers(9610, 1)[0].destination).status == "active"


def test_a_seqno_used_behind_the_journals_back_is_never_signed_over(localnet, tmp_path):
    key = WalletKey.from_seed(b"\x06" * 32)
    ours = WalletV4R2(localnet, key, tmp_path / "ours.json")
    other = WalletV4R2(localnet, key, tmp_path / "other.json")  # the same wallet driven from another journal
    localnet.fund(ours.address, 10 * TON)
    localnet.set_faults(drop_external=1)
    with pytest.raises(MessageTimeout):
        ours.send(deploy_transfers(9100, 1), intent_id="ours", wait_seconds=0.2, rebroadcast_seconds=5)
    other.send(deploy_transfers(9200, 1), intent_id="other")    # consumes seqno 0

    with pytest.raises(SendError, match="refuses the recorded message"):  # still valid, but dead
        ours.send(deploy_transfers(9100, 1), intent_id="ours", wait_seconds=1)
    localnet.advance_time(ours.ttl_seconds + EXPIRY_MARGIN_SECONDS + 1)
    with pytest.raises(AmbiguousSend, match="seqno 0 was used on chain"):
        ours.send(deploy_transfers(9100, 1), intent_id="ours", wait_seconds=1)
    assert localnet.account(deploy_transfers(9100, 1)[0].destination).status == "nonexist"


def test_slow_network_with_duplicate_broadcasts_still_sends_once(localnet, journal):
    wallet = highload(localnet, journal)
    # Every copy lands 2-3 s later (localnet time is whole seconds): several rebroadcasts happen meanwhile.
    localnet.set_faults(delay_seconds=3)
    transfers = deploy_transfers(9300, 3)
    result = wallet.send(transfers, wait_seconds=15, rebroadcast_seconds=0.3)
    assert result.attempts == 1
    assert json.loads(journal.read_text())["sends"][result.intent_id]["broadcasts"] >= 2
    localnet.advance_time(10)                                 # let every queued copy reach the wallet
    assert transactions_of(localnet, transfers) == [1] * 3
    assert len(external_txs(localnet, wallet)) == 1           # the duplicates were refused by the wallet


def heavy_transfers(first_id: int, count: int, cells: int = 16) -> list[Transfer]:
    """Counter deploys whose data also carries `cells` full cells: forwarding them costs more than gas reserves."""
    code = counter_state_init(0).code
    transfers = []
    for contract_id in range(first_id, first_id + count):
        filler = None
        for j in range(cells):
            builder = begin_cell().store_uint(contract_id, 32).store_uint(j, 32).store_bytes(bytes(119))
            filler = (builder.store_ref(filler) if filler else builder).end_cell()
        data = begin_cell().store_uint(contract_id, 32).store_uint(0, 32).store_ref(filler).end_cell()
        state_init = StateInit(code=code, data=data)
        transfers.append(Transfer(address_of(state_init), TON // 20, state_init=state_init))
    return transfers


def test_the_balance_check_counts_forwarding_of_every_message(localnet, journal):
    transfers = heavy_transfers(9000, 8)
    gas_and_values = sum(t.value for t in transfers) + FEE_RESERVE_PER_TRANSFER * (len(transfers) + 1)
    wallet = highload(localnet, journal, funds=gas_and_values)
    forwarding = sum(forward_fee(t.message) for t in transfers)
    assert wallet.required_balance(transfers) > gas_and_values + forwarding  # the link message is forwarded too

    with pytest.raises(InsufficientFunds):
        wallet.send(transfers)  # would fail in the wallet's action phase: refused before signing instead
    assert not journal.exists() or not json.loads(journal.read_text())["sends"]
    assert transactions_of(localnet, transfers) == [0] * len(transfers)

    localnet.fund(wallet.address, wallet.required_balance(transfers) - gas_and_values)
    assert wallet.send(transfers).transfers_sent == len(transfers)
    assert all(localnet.account(t.destination).status == "active" for t in transfers)


def test_a_batch_the_wallet_cannot_forward_fails_at_once_with_nothing_sent(localnet, journal, monkeypatch):
    transfers = heavy_transfers(9100, 8)
    wallet = highload(localnet, journal, funds=sum(t.value for t in transfers))
    monkeypatch.setattr(wallet, "required_balance", lambda _transfers: 0)  # let a short wallet sign
    with pytest.raises(SendFailed, match="nothing was sent") as failed:
        wallet.send(transfers, wait_seconds=5)  # settles on the failed transaction, no wait for links
    assert not failed.value.partial
    assert transactions_of(localnet, transfers) == [0] * len(transfers)


def test_a_batch_whose_later_link_fails_is_partial_and_never_sent_again(localnet, journal):
    """The first internal link pays out its transfers; the next fails its action phase (a destination in a
    workchain that does not exist): the send is recorded `partial` (not `failed`, which a retry would sign
    anew) and a rerun of the intent sends nothing more."""
    light = deploy_transfers(9300, TRANSFERS_PER_LINK)
    transfers = light + [Transfer(Address((7, bytes(32))), TON // 20), *deploy_transfers(9700, 2)]
    wallet = highload(localnet, journal)
    with pytest.raises(SendFailed, match="not retrying a partial batch") as failed:
        wallet.send(transfers, intent_id="second-link-fails", wait_seconds=30)
    assert failed.value.partial
    record = json.loads(journal.read_text())["sends"]["second-link-fails"]
    assert record["status"] == "partial" and record["transfers_sent"] == len(light)
    deployed = [t for t in transfers if t.destination.wc == 0]
    sent = transactions_of(localnet, deployed)
    assert sent == [1] * len(light) + [0, 0]

    with pytest.raises(SendFailed, match="not retrying a partial batch"):  # the rerun settles, signs nothing
        wallet.send(transfers, intent_id="second-link-fails", wait_seconds=30)
    assert len(external_txs(localnet, wallet)) == 1
    assert transactions_of(localnet, deployed) == sent


def test_a_batch_too_large_for_one_external_message_is_refused_before_anything_is_journaled(localnet, journal):
    transfers = heavy_transfers(9200, 64)
    wallet = highload(localnet, journal, funds=1000 * TON)
    with pytest.raises(SendError, match=r"validators refuse more than 65535: send fewer at once"):
        wallet.send(transfers)
    assert not journal.exists() or not json.loads(journal.read_text())["sends"]
    assert transactions_of(localnet, transfers) == [0] * len(transfers)
