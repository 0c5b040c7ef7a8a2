"""The deployer's send journal beside the stack's state in S3 (moto's server on 127.0.0.1): two CI runners
deploying at once send one message; a journal store that cannot be used stops the deploy before signing; a
runner that lost its claim cannot overwrite the journal; a journal lost from the bucket fences the wallet."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from chain.wallets import HighloadWalletV3, JournalFence, SendError, WalletKey
from state_store.location import store_at
from tests.chain.conftest import deploy_transfers
from tests.moto_server import REGION, aws_env, moto_endpoint, moto_environment, new_bucket  # noqa: F401
from tests.providers.conftest import deployment, external_count, plan
from ton_deploy.deployment import TonDeploymentProvider
from ton_deploy.journal import JournalUnavailable, StoreJournal, journal_at, journal_turn

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def s3_journal(new_bucket) -> str:
    """Where plan.py puts the journal of stack `testnet` for the backend s3://<bucket>/stacks."""
    return f"s3://{new_bucket}/stacks/.tonsurance/journal/testnet-deployer.json?region={REGION}"


def stored_journal(location: str) -> dict:
    return journal_at(location).read()


def test_a_wallet_journals_in_the_bucket_with_no_secret_in_it(client, mnemonic, s3_journal):
    wallet = HighloadWalletV3(client, WalletKey.from_mnemonic(mnemonic), journal_at(s3_journal))
    client.fund(wallet.address, 10 * 10**9)
    result = wallet.send(deploy_transfers(700, 3), wait_seconds=10)
    journal = stored_journal(s3_journal)
    assert journal["sends"][result.intent_id]["status"] == "confirmed" and journal["revision"] >= 2
    raw = json.dumps(journal)
    words = mnemonic.split()   # single words can be ordinary ones ("wallet", "history"): look for runs of them
    assert not any(" ".join(words[i:i + 3]) in raw for i in range(len(words) - 2)) and "mnemonic" not in raw
    assert wallet.send(deploy_transfers(700, 3), wait_seconds=10).reused        # another run adopts the record
    # A later session writes over the version it read (a create would collide with the journal now there).
    second = wallet.send(deploy_transfers(710, 2), wait_seconds=10)
    sends = stored_journal(s3_journal)["sends"]
    assert sends[second.intent_id]["status"] == "confirmed" and sends[result.intent_id]["status"] == "confirmed"
    assert store_at(s3_journal.split("journal/")[0].replace("/.tonsurance/", "/.tonsurance")).names("journal/") \
        == ["journal/testnet-deployer.json"]                                    # the claim was released


def test_two_runners_deploying_at_once_send_one_message(tmp_path, client, settings, mnemonic, s3_journal,
                                                        moto_endpoint):
    client.set_block_interval(3)   # the first runner's message is in flight for seconds: the second must wait
    props = deployment(plan(settings, mnemonic, s3_journal), wait_seconds=60)
    (tmp_path / "props.json").write_text(json.dumps(props))
    go = tmp_path / "go"
    env = {**os.environ, **moto_environment(moto_endpoint), "PYTHONPATH": str(ROOT)}
    runners = [subprocess.Popen([sys.executable, str(ROOT / "tests/providers/deploy_runner.py"),
                                 str(tmp_path / "props.json"), str(go), str(tmp_path / f"result-{i}.json")],
                                cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True) for i in range(2)]
    go.touch()
    logs = [runner.communicate(timeout=240)[1] for runner in runners]
    assert [runner.returncode for runner in runners] == [0, 0], logs
    assert sum("waits for" in log for log in logs) == 1, logs   # the second waited for the first one's claim
    results = [json.loads((tmp_path / f"result-{i}.json").read_text()) for i in range(2)]
    assert all("error" not in r for r in results), results
    sent, adopted = sorted(results, key=lambda r: len(r["adopted"]))
    assert len(sent["deployed"]) == 25 and sent["adopted"] == []
    assert adopted["deployed"] == [] and len(adopted["adopted"]) == 25 and adopted["tx"] is None
    highload = HighloadWalletV3(client, WalletKey.from_mnemonic(mnemonic), journal_at(s3_journal))
    assert external_count(client, highload.address) == 1                        # one message, never a second
    records = list(stored_journal(s3_journal)["sends"].values())
    assert [(r["kind"], r["status"], r["attempt"]) for r in records] == [("highload_wallet_v3", "confirmed", 1)]


@pytest.mark.parametrize("where", ["missing bucket", "unreachable endpoint"])
def test_a_journal_store_that_cannot_be_used_stops_the_deploy_before_signing(client, settings, mnemonic, aws_env,
                                                                             monkeypatch, where):
    journal = f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/.tonsurance/journal/testnet-deployer.json?region={REGION}"
    if where == "unreachable endpoint":
        monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    props = deployment(plan(settings, mnemonic, journal), wait_seconds=5)
    with pytest.raises(JournalUnavailable, match=r"send journal s3://no-such-bucket-\w+/\.tonsurance/journal/"
                                                 r"testnet-deployer\.json cannot be used: .*Nothing was signed"):
        TonDeploymentProvider().create(props)
    highload = HighloadWalletV3(client, WalletKey.from_mnemonic(mnemonic), journal_at(journal))
    assert client.account(highload.address).balance == 0 and external_count(client, highload.address) == 0


def test_a_runner_whose_journal_was_written_by_another_stops_before_it_sends(s3_journal):
    journal = journal_at(s3_journal)
    assert isinstance(journal, StoreJournal)
    with journal.session() as data:
        # meanwhile another runner (its claim taken over after this one's expired) records a send
        journal.store.create(journal.name, json.dumps({"format": 1, "wallets": {}, "sends": {"theirs": {}},
                                                       "revision": 7}).encode())
        data["sends"]["mine"] = {"status": "signed"}
        with pytest.raises(SendError, match="was written by another runner while this one held it"):
            journal.save(data)        # the record a message must have before it leaves: refused, so never sent
    assert list(stored_journal(s3_journal)["sends"]) == ["theirs"]


def test_a_journal_lost_from_the_bucket_fences_an_active_highload_wallet(client, mnemonic, s3_journal):
    key = WalletKey.from_mnemonic(mnemonic)
    wallet = HighloadWalletV3(client, key, journal_at(s3_journal))
    client.fund(wallet.address, 10 * 10**9)
    wallet.send(deploy_transfers(720, 2), wait_seconds=10)
    stored = journal_at(s3_journal)
    stored.store.delete(stored.name, stored.store.read(stored.name).version)    # lost (or a bucket emptied)
    with pytest.raises(JournalFence, match=r"the send journal s3://.*testnet-deployer.json has no record"):
        HighloadWalletV3(client, key, journal_at(s3_journal)).send(deploy_transfers(730, 2), wait_seconds=5)
    assert external_count(client, wallet.address) == 1


def test_the_first_turn_carries_a_checkout_journal_into_the_bucket_never_over_one(tmp_path, s3_journal):
    legacy = tmp_path / ".state" / "journal" / "testnet-deployer.json"
    legacy.parent.mkdir(parents=True)
    legacy.write_text('{"format": 1, "wallets": {}, "sends": {"old": {}}}')
    with journal_turn(s3_journal, str(legacy)):
        assert list(stored_journal(s3_journal)["sends"]) == ["old"]
    legacy.write_text('{"format": 1, "wallets": {}, "sends": {"other": {}}}')
    with journal_turn(s3_journal, str(legacy)):
        assert list(stored_journal(s3_journal)["sends"]) == ["old"]
