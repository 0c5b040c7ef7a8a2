"""TonContract provider against localnet: deploy, adopt, diff, drift, refusals, secrecy."""
from __future__ import annotations

import json

import pytest
from pytoniq_core import Address
from pytoniq_core.crypto.keys import mnemonic_new

from chain.client import AccountInfo, MessageTimeout
from chain.connect import connect
from chain.liteserver import LiteserverClient
from chain.records import raw_address
from chain.wallets import Transfer, WalletKey, WalletV4R2
from contracts.base import TON
from contracts.multi_tranche_vault import MultiTrancheVault
from contracts.policy_router import PolicyRouterConfig, unchecked_init_data
from contracts.pricing_oracle import PricingOracle, PricingOracleConfig, init_data as oracle_init_data
from tests.liteserver.fixtures import chain, liteserver_settings, liteservers, network  # noqa: F401
from tests.providers.conftest import ADMIN, engine_view, external_count, journal_text
from ton_deploy.checks import DeployRefused, DerivedAddressMismatch, require_expected_code
from ton_deploy.contract import TonContractProvider
from ton_deploy.sending import ensure_funds
from ton_deploy.targets import cell_from_b64, target_of

provider = TonContractProvider()


def test_create_deploys_through_the_deployer_wallet_and_checks_the_code(client, inputs, deployer):
    props = inputs.oracle()
    assert provider.check({}, props).failures == []

    created = provider.create(props)

    oracle = Address(created.id)
    assert created.id == props["address"]
    assert created.outs["deployed_by"] == "message" and created.outs["deploy_tx_hash"]
    assert created.outs["status"] == "active" and created.outs["balance"] > 0
    assert created.outs["faucet_funded"] > TON // 10  # localnet: the faucet paid for the deploy
    assert client.account(oracle).code_hash == props["code_hash"]
    assert PricingOracle(oracle).get_admin(client.run_get_method) == ADMIN
    assert PricingOracle(oracle).get_keepers(client.run_get_method) == ()  # keepers are added by message
    assert external_count(client, deployer.address) == 1


def test_create_adopts_an_active_contract_without_a_message(client, inputs, deployer):
    props = inputs.oracle()
    provider.create(props)
    balance = client.account(deployer.address).balance

    again = provider.create(props)  # e.g. the engine lost a create that had completed

    assert again.outs["deployed_by"] == "adopted" and again.outs["faucet_funded"] == 0
    assert external_count(client, deployer.address) == 1
    assert client.account(deployer.address).balance == balance


def test_create_after_a_lost_answer_reuses_the_journal_instead_of_sending_again(client, inputs, deployer, settings):
    """The message landed but the answer was lost (network failure after the send): no second deploy."""
    props = inputs.oracle()
    connect(settings).set_faults(fail_after_send=1)

    created = provider.create(props)

    assert created.outs["status"] == "active"
    assert external_count(client, deployer.address) == 1


def test_a_deploy_not_seen_in_time_fails_and_the_next_run_converges(client, inputs, deployer, settings):
    connect(settings).set_faults(delay_seconds=3600)
    props = {**inputs.oracle(), "wait_seconds": 0.3}
    with pytest.raises(MessageTimeout):
        provider.create(props)

    connect(settings).set_faults(delay_seconds=0)
    created = provider.create(inputs.oracle())  # same deploy: the journal re-broadcasts the signed message

    assert created.outs["deployed_by"] == "message" and created.outs["status"] == "active"
    client.advance_time(3601)  # the first broadcast arrives late: the wallet's seqno makes it a no-op
    assert external_count(client, deployer.address) == 1


@pytest.mark.parametrize("info, message", [
    (AccountInfo("frozen", 5, None, None, None, None, 1, "h"), "is frozen"),
    (AccountInfo("active", 5, None, None, "ab" * 32, None, 1, "h"), "is active with code abab"),
])
def test_an_address_held_by_something_else_is_refused(inputs, info, message):
    target = target_of(cell_from_b64(inputs.oracle()["code_boc"]), cell_from_b64(inputs.oracle()["data_boc"]))
    with pytest.raises(DeployRefused, match=message):
        require_expected_code(info, target, "PricingOracle contract")


def test_diff_replaces_on_code_or_data_and_ignores_the_deploy_value_and_provider(inputs):
    olds = engine_view(provider.create(inputs.oracle()).outs)
    same = {**inputs.oracle(value=TON), "__provider": "another serialization"}
    assert provider.diff("id", olds, same).changes is False

    other_data = inputs.oracle()
    other_data.update(data_hash="00" * 32)
    assert provider.diff("id", olds, other_data).replaces == ["data_hash"]

    other_code = inputs.contract("PricingOracle", "PolicyShard",
                                 oracle_init_data(PricingOracleConfig(admin=ADMIN)))
    diff = provider.diff("id", olds, other_code)
    assert diff.changes is True and {"address", "code_hash"} <= set(diff.replaces)

    other_network = {**inputs.oracle(), "chain": {"network": "testnet", "liteserver_config_path": "x.json"}}
    assert provider.diff("id", olds, other_network).replaces == ["network"]


def test_vault_checks_the_token_addresses_it_derives(client, inputs):
    oracle = provider.create(inputs.oracle()).id
    created = provider.create(inputs.vault(Address(oracle)))
    assert MultiTrancheVault(Address(created.id)).get_tranche_count(client.run_get_method) == 6


def test_a_vault_deriving_other_token_addresses_fails_with_a_clear_error(inputs):
    oracle = provider.create(inputs.oracle()).id
    wrong = raw_address(Address("0:" + "ee" * 32))

    with pytest.raises(DerivedAddressMismatch) as error:
        provider.create(inputs.vault(Address(oracle), derived_override={3: wrong}))

    assert "SURE-MEZZ token" in str(error.value) and wrong in str(error.value)
    assert "get_tranche_token_address [3]" in str(error.value)


def test_a_deploy_that_would_fail_on_chain_is_refused_before_anything_is_sent(client, inputs, deployer, journal):
    bad_router = unchecked_init_data(PolicyRouterConfig(admin=ADMIN, vault=ADMIN, oracle=ADMIN, shard_count=17))
    props = inputs.contract("PolicyRouter", "PolicyRouter", bad_router)

    with pytest.raises(DeployRefused, match="exit code 400"):
        provider.create(props)

    assert client.account(Address(props["address"])).status == "nonexist"
    assert client.account(deployer.address).status == "nonexist"  # not even funded
    assert journal_text(journal) == ""


def test_check_rejects_an_address_that_is_not_the_hash_of_code_and_data(inputs):
    props = {**inputs.oracle(), "address": raw_address(Address("0:" + "01" * 32))}
    failures = provider.check({}, props).failures
    assert [f.property for f in failures] == ["address"]


def test_check_rejects_a_missing_deploy_value_and_bad_chain_settings(inputs):
    props = {**inputs.oracle(), "deploy_value": 0.0, "chain": {"network": "devnet"}}
    assert {f.property for f in provider.check({}, props).failures} == {"deploy_value", "chain"}


def test_read_reports_drift(client, inputs, capsys):
    created = provider.create(inputs.oracle())
    healthy = provider.read(created.id, engine_view(created.outs))
    assert healthy.outs["drift"] is None

    other_code = {**engine_view(created.outs), "code_hash": "ab" * 32}
    drifted = provider.read(created.id, other_code)
    assert "runs code" in drifted.outs["drift"]

    never_deployed = inputs.router()
    missing = provider.read(never_deployed["address"], never_deployed)
    assert missing.outs["drift"].startswith("account is nonexist")
    assert "drifted" in capsys.readouterr().err


def test_delete_never_touches_the_chain(client, inputs, deployer, capsys):
    created = provider.create(inputs.oracle())
    before = client.account(Address(created.id))

    provider.delete(created.id, engine_view(created.outs))

    assert client.account(Address(created.id)) == before
    assert external_count(client, deployer.address) == 1
    assert "stays on chain" in capsys.readouterr().err


def test_the_mnemonic_is_not_in_outputs_journal_or_errors(inputs, mnemonic, journal):
    created = provider.create(inputs.oracle())
    assert mnemonic not in json.dumps(created.outs)
    assert "deployer_mnemonic" not in created.outs
    assert mnemonic not in journal_text(journal)

    words = mnemonic.split()
    broken = {**inputs.router(), "deployer_mnemonic": " ".join(words[:23] + ["abandon"])}
    with pytest.raises(ValueError) as error:
        provider.create(broken)
    assert not any(word in str(error.value).split() for word in words)


def test_off_localnet_a_short_deployer_fails_before_signing_and_is_never_funded(liteserver_settings, chain, tmp_path):
    client = LiteserverClient(liteserver_settings)
    wallet = WalletV4R2(client, WalletKey.from_mnemonic(mnemonic_new()), tmp_path / "journal.json")
    chain.fund(wallet.address, TON // 10)
    transfers = [Transfer(Address("0:" + "11" * 32), TON)]

    with pytest.raises(DeployRefused, match=r"holds 0\.100 TON; deploying 1 contract\(s\) needs about 1\.1"):
        ensure_funds(client, wallet, transfers)
    assert chain.account(wallet.address).balance == TON // 10  # no faucet off localnet

    chain.fund(wallet.address, 2 * TON)
    assert ensure_funds(client, wallet, transfers) == 0
