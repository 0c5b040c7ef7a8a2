"""TonDeployment against localnet: the whole plan in one highload message, then the contract resources adopt."""
from __future__ import annotations

import json

import pytest
from pytoniq_core import Address

from chain.client import MessageTimeout
from chain.connect import connect
from chain.wallets import HighloadWalletV3, WalletKey
from tests.providers.conftest import deployment, engine_view, external_count, journal_text, plan
from ton_deploy.checks import DerivedAddressMismatch
from ton_deploy.contract import TonContractProvider, contract_inputs
from ton_deploy.deployment import TonDeploymentProvider
from ton_deploy.shard_batch import ShardBatchProvider, batch_inputs

provider = TonDeploymentProvider()


def wallet_of(client, mnemonic, journal) -> HighloadWalletV3:
    return HighloadWalletV3(client, WalletKey.from_mnemonic(mnemonic), journal)


def deploys_of(client, address: str) -> int:
    return sum(1 for tx in client.transactions(Address(address), 100) if tx.prev_lt == 0)


def test_the_whole_plan_goes_out_in_one_message_and_the_resources_adopt_it(client, settings, mnemonic, journal):
    contracts = plan(settings, mnemonic, journal)
    props = deployment(contracts)
    assert provider.check({}, props).failures == []

    created = provider.create(props)

    highload = wallet_of(client, mnemonic, journal).address
    assert len(created.outs["deployed"]) == 9 + 16 and created.outs["adopted"] == []
    assert external_count(client, highload) == 1
    assert all(deploys_of(client, c["address"]) == 1 for c in props["contracts"].values())
    # the per-contract resources run after it: they find their contracts active and send nothing
    for args in [contracts.oracle, contracts.vault, *contracts.tokens.values(), contracts.router]:
        assert TonContractProvider().create(engine_view(contract_inputs(args))).outs["deployed_by"] == "adopted"
    for batch in contracts.batches:
        assert ShardBatchProvider().create(engine_view(batch_inputs(batch))).outs["deployed_ids"] == []
    again = provider.create(props)                                   # a second up: nothing to send
    assert again.outs["deployed"] == [] and len(again.outs["adopted"]) == 25
    assert external_count(client, highload) == 1 and '"wallet_v4r2"' not in journal_text(journal)


def test_a_derived_address_mismatch_is_found_on_the_private_tvm_before_anything_is_sent(client, settings, mnemonic,
                                                                                         journal):
    props = deployment(plan(settings, mnemonic, journal))
    router = props["contracts"]["policy-router"]
    router["derived_addresses"][3]["address"] = router["derived_addresses"][4]["address"]   # the plan is wrong
    with pytest.raises(DerivedAddressMismatch, match="on a private copy of the TVM"):
        provider.create(props)
    assert external_count(client, wallet_of(client, mnemonic, journal).address) == 0
    assert "highload" not in journal_text(journal)


def test_an_interrupted_deployment_converges_with_each_contract_deployed_once(client, settings, mnemonic, journal):
    props = deployment(plan(settings, mnemonic, journal), wait_seconds=0.5)
    connect(settings).set_faults(delay_seconds=30)
    with pytest.raises(MessageTimeout):
        provider.create(props)
    connect(settings).set_faults(delay_seconds=0)

    created = provider.create({**props, "wait_seconds": 5.0})         # the same message, re-broadcast

    assert len(created.outs["deployed"]) == 25
    client.advance_time(31)                                           # the first copy arrives: refused
    highload = wallet_of(client, mnemonic, journal).address
    assert external_count(client, highload) == 1
    assert all(deploys_of(client, c["address"]) == 1 for c in props["contracts"].values())
    sends = json.loads(journal_text(journal))["sends"]
    assert [(r["status"], r["attempt"]) for r in sends.values()] == [("confirmed", 1)]


def test_an_update_deploys_only_the_new_contracts(client, settings, mnemonic, journal):
    small = deployment(plan(settings, mnemonic, journal))
    small["contracts"] = {k: v for k, v in small["contracts"].items() if not k.startswith("policy-shard-01")}
    provider.create(small)
    full = deployment(plan(settings, mnemonic, journal))
    assert provider.diff("id", small, full).changes and provider.diff("id", small, full).replaces == []

    updated = provider.update("id", small, full)

    assert updated.outs["deployed"] == [f"policy-shard-{i:03d}" for i in range(10, 16)]
    assert all(deploys_of(client, c["address"]) == 1 for c in full["contracts"].values())
    assert not provider.diff("id", full, full).changes
