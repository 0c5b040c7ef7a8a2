"""ShardBatch provider against localnet: one highload message per batch, resume, adoption, refusals."""
from __future__ import annotations

import json

import pytest
from pytoniq_core import Address

from chain.client import MessageTimeout
from chain.connect import connect
from chain.wallets import OpenMessagePending
from contracts.base import TON
from contracts.policy_router import PolicyRouter
from contracts.policy_shard import PolicyShard
from tests.providers.conftest import SHARD_OWNER, engine_view, external_count, journal_text
from ton_deploy.checks import DerivedAddressMismatch
from ton_deploy.contract import TonContractProvider
from ton_deploy.shard_batch import ShardBatchProvider

provider = ShardBatchProvider()


@pytest.fixture
def router(inputs) -> str:
    return TonContractProvider().create(inputs.router()).id


def deploys_of(client, shard: str) -> int:
    """Transactions that carried the shard's StateInit (its deployment), counted on chain."""
    return sum(1 for tx in client.transactions(Address(shard), 100) if tx.prev_lt == 0)


def test_a_batch_deploys_its_shards_with_one_highload_message(client, inputs, router, highload):
    props = inputs.shards(router, range(16))
    assert provider.check({}, props).failures == []

    created = provider.create(props)

    assert created.outs["deployed_ids"] == list(range(16)) and created.outs["adopted_ids"] == []
    assert external_count(client, highload.address) == 1
    run = client.run_get_method
    for i, address in created.outs["shards"].items():
        shard = PolicyShard(Address(address))
        assert shard.get_shard_id(run) == int(i) and shard.get_vault(run) == SHARD_OWNER
        assert PolicyRouter(Address(router)).get_shard_address(run, int(i)) == Address(address)
    assert created.outs["faucet_funded"] > 0 and created.outs["fees"] > 0


def test_a_large_batch_pays_for_forwarding_its_link_message(client, inputs, highload):
    """128 StateInits in one internal_transfer: forwarding it costs the wallet about 0.18 TON."""
    router = TonContractProvider().create(inputs.router(shard_count=256)).id
    created = provider.create(inputs.shards(router, range(128), shard_count=256))
    assert len(created.outs["deployed_ids"]) == 128 and created.outs["fees"] > TON // 10
    assert all(client.account(Address(a)).status == "active" for a in created.outs["shards"].values())


def test_only_the_shards_not_yet_active_are_deployed(client, inputs, router, highload):
    provider.create(inputs.shards(router, [0, 1, 2]))

    created = provider.create(inputs.shards(router, range(8)))  # e.g. the batch size changed

    assert created.outs["adopted_ids"] == [0, 1, 2] and created.outs["deployed_ids"] == [3, 4, 5, 6, 7]
    assert external_count(client, highload.address) == 2
    assert all(deploys_of(client, a) == 1 for a in created.outs["shards"].values())

    again = provider.create(inputs.shards(router, range(8)))
    assert again.outs["deployed_ids"] == [] and external_count(client, highload.address) == 2


def test_an_interrupted_batch_converges_with_every_shard_deployed_once(client, settings, inputs, router, highload,
                                                                       journal):
    """The message is signed and sent but not processed before the run gives up (or is killed)."""
    connect(settings).set_faults(delay_seconds=3600)
    with pytest.raises(MessageTimeout):
        provider.create(inputs.shards(router, range(16), wait=0.5))
    assert '"status":"sent"' in journal_text(journal)
    assert client.account(highload.address).status != "active"

    connect(settings).set_faults(delay_seconds=0)
    created = provider.create(inputs.shards(router, range(16)))

    assert created.outs["deployed_ids"] == list(range(16))
    assert external_count(client, highload.address) == 1
    client.advance_time(3601)  # the first broadcast, still queued, now arrives: replay protection drops it
    assert external_count(client, highload.address) == 1
    assert all(deploys_of(client, a) == 1 for a in created.outs["shards"].values())
    sends = json.loads(journal_text(journal))["sends"]
    assert [r["attempt"] for r in sends.values() if r["kind"] == "highload_wallet_v3"] == [1]


def test_a_delayed_batch_then_a_changed_batch_size_deploys_each_shard_once(client, settings, inputs, router, highload,
                                                                         journal):
    """The double send a review found: batch 0-15 delayed, then shardBatchSize 8 asks for 0-7 and 8-15."""
    connect(settings).set_faults(delay_seconds=30)
    with pytest.raises(MessageTimeout):
        provider.create(inputs.shards(router, range(16), wait=0.5))
    with pytest.raises(OpenMessagePending, match="may still reach 8 of the same address"):
        provider.create(inputs.shards(router, range(8), wait=0.5))   # its copies are delayed too: signs nothing
    client.advance_time(31)                                          # the batch of 16 lands
    connect(settings).set_faults(delay_seconds=0)

    halves = [provider.create(inputs.shards(router, ids)) for ids in (range(8), range(8, 16))]

    assert [h.outs["deployed_ids"] for h in halves] == [[], []]
    assert [h.outs["adopted_ids"] for h in halves] == [list(range(8)), list(range(8, 16))]
    assert external_count(client, highload.address) == 1
    assert all(deploys_of(client, a) == 1 for h in halves for a in h.outs["shards"].values())
    sends = json.loads(journal_text(journal))["sends"]
    assert [r["status"] for r in sends.values() if r["kind"] == "highload_wallet_v3"] == ["confirmed"]


def test_a_router_deriving_other_addresses_stops_the_batch_before_sending(client, inputs, highload, journal):
    big_router = TonContractProvider().create(inputs.router(shard_count=256)).id
    props = inputs.shards(big_router, range(4), shard_count=16)  # the program thinks the router has 16 shards

    with pytest.raises(DerivedAddressMismatch, match="derives other addresses than the program computed"):
        provider.create(props)

    assert external_count(client, highload.address) == 0
    assert "highload" not in journal_text(journal)


def test_check_rejects_addresses_the_shard_code_does_not_give(inputs, router):
    props = inputs.shards(router, range(4))
    props["addresses"]["2"] = props["addresses"]["3"]
    failures = provider.check({}, props).failures
    assert [f.property for f in failures] == ["addresses"] and "[2]" in failures[0].reason


def test_diff_replaces_on_range_router_or_code_and_ignores_the_value(inputs, router):
    olds = engine_view(provider.create(inputs.shards(router, range(4))).outs)
    assert provider.diff("id", olds, inputs.shards(router, range(4), value=10**9)).changes is False
    assert provider.diff("id", olds, inputs.shards(router, range(5))).replaces == ["shard_ids"]
    other = {**inputs.shards(router, range(4)), "shard_code_hash": "00" * 32}
    assert provider.diff("id", olds, other).replaces == ["shard_code_hash"]


def test_read_reports_shards_that_are_not_active(inputs, router):
    created = provider.create(inputs.shards(router, range(2)))
    assert provider.read(created.id, engine_view(created.outs)).outs["drift"] is None

    never = inputs.shards(router, [5, 6])
    drift = provider.read("x", never).outs["drift"]
    assert set(drift) == {"5", "6"} and drift["5"].startswith("account is nonexist")


def test_delete_sends_nothing(client, inputs, router, highload, capsys):
    created = provider.create(inputs.shards(router, range(2)))
    provider.delete(created.id, engine_view(created.outs))
    assert external_count(client, highload.address) == 1
    assert "stay on chain" in capsys.readouterr().err
