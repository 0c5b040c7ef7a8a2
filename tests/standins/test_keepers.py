"""The keepers' chain work on localnet (the real TVM): the pricing keeper signs real oracle updates with its
own wallet, a refused update is reported as a failure with the chain unchanged, and the chain figures the
backend stand-in reports are the vault's and the oracle's getters."""

from __future__ import annotations

import json

import pytest
from pytoniq_core import Address
from pytoniq_core.crypto.keys import mnemonic_new

from chain.client import ChainSettings
from chain.connect import connect
from chain.wallets import WalletKey, WalletV4R2
from contracts.admin_actions import keeper_messages
from contracts.base import TON, CoverageType
from contracts.multi_tranche_vault import MultiTrancheVault
from contracts.pricing_oracle import PricingOracle
from localcluster.standins import chainview
from localcluster.standins.keepers import FAUCET_BELOW, PricingKeeper
from ops.checks import contracts_args
from tests.support import parse, raw_config
from ton_deploy.contract import TonContractProvider, contract_inputs
from ton_deploy.plan import keeper_config, plan_contracts

KEEPER_WORDS = " ".join(mnemonic_new(24))


def wallet_address(words: str) -> str:
    return WalletV4R2(None, WalletKey.from_mnemonic(words), "/dev/null").address.to_str(is_test_only=True)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """The oracle and the vault deployed on a localnet, then our keeper made one of the oracle's keepers by the
    admin's message (keepers are a role set after deploy: ton_deploy/roles.py)."""
    work = tmp_path_factory.mktemp("keepers")
    cfg = parse(raw_config(localnetPath="chain.json",
                           keeperAddresses=json.dumps([wallet_address(KEEPER_WORDS), raw_config()["adminAddress"]])))
    plan = plan_contracts(contracts_args(cfg, work))
    oracle = TonContractProvider().create(contract_inputs(plan.oracle)).outs["address"]
    vault = TonContractProvider().create(contract_inputs(plan.vault)).outs["address"]
    with connect(ChainSettings("localnet", localnet_path=str(work / "chain.json"))) as chain:
        for message in keeper_messages(Address(oracle), [], [Address(k) for k in cfg.ton.keeper_addresses]):
            chain.send_internal(sender=Address(cfg.ton.admin_address), to=message.destination, value=TON // 10,
                                body=message.body)
        assert len(PricingOracle(Address(oracle)).get_keepers(chain.run_get_method)) == 2
    addresses = keeper_config("localnet", oracle, vault, "", {}, 16)
    return work, addresses


@pytest.fixture
def client(deployed, tmp_path):
    work, _ = deployed
    copy = tmp_path / "chain.json"
    copy.write_bytes((work / "chain.json").read_bytes())
    with connect(ChainSettings("localnet", localnet_path=str(copy))) as chain:
        yield chain


def test_the_pricing_keeper_publishes_signed_updates_and_pays_real_fees(deployed, client, tmp_path):
    _, addresses = deployed
    keeper = PricingKeeper(client, WalletKey.from_mnemonic(KEEPER_WORDS), tmp_path / "journal.json", addresses)
    oracle = PricingOracle(Address(addresses[chainview.ORACLE]))
    assert oracle.get_last_update(client.run_get_method) == 0
    first = keeper.update()
    assert first.ok, first.detail
    published = {t: oracle.get_price(client.run_get_method, t) for t in CoverageType}
    assert sum(p.seq == 1 for p in published.values()) == 4  # four types a message, in turn
    assert client.now() - oracle.get_last_update(client.run_get_method) < 60
    assert keeper.balance_ton() > 0 and keeper.balance_ton() < 5  # funded once from the faucet, fees paid
    second = keeper.update()
    assert second.ok
    assert all(oracle.get_price(client.run_get_method, t).seq >= 1 for t in CoverageType)  # every type fresh now
    assert 0 < keeper.average_gas_ton() < 0.05  # what the wallet paid, from its transactions


def test_a_refused_update_is_a_failure_and_changes_no_price(deployed, client, tmp_path):
    _, addresses = deployed
    keeper = PricingKeeper(client, WalletKey.from_mnemonic(KEEPER_WORDS), tmp_path / "journal.json", addresses)
    assert keeper.update().ok
    oracle = PricingOracle(Address(addresses[chainview.ORACLE]))
    before = {t: oracle.get_price(client.run_get_method, t) for t in CoverageType}
    keeper.cycle = 0  # the same types again, with the stored sequence numbers: the oracle refuses (418)
    outcome = keeper.update(stale_sequence=True)
    assert not outcome.ok and "refused" in outcome.detail
    assert {t: oracle.get_price(client.run_get_method, t) for t in CoverageType} == before


def test_a_key_that_is_not_a_keeper_cannot_publish(deployed, client, tmp_path):
    _, addresses = deployed
    stranger = PricingKeeper(client, WalletKey.from_mnemonic(mnemonic_new(24)), tmp_path / "journal.json", addresses)
    assert not stranger.update().ok
    assert PricingOracle(Address(addresses[chainview.ORACLE])).get_last_update(client.run_get_method) == 0


def test_the_backends_chain_figures_are_the_getters(deployed, client):
    _, addresses = deployed
    vault = MultiTrancheVault(Address(addresses[chainview.VAULT]))
    figures = chainview.vault_figures(client, addresses)
    assert figures.capital_ton == vault.get_total_capital(client.run_get_method) / 10**9
    assert figures.coverage_sold_ton == 0 and figures.utilization_ratio == 0 and figures.policies_created == 0
    assert [t.name for t in figures.tranches] == ["BTC", "SNR", "MEZZ", "JNR", "JNR+", "EQT"]
    assert figures.tranches[0].apy_ratio == 0.04  # SURE-BTC: 400 bps at any utilization


def test_faucet_threshold_is_below_what_it_tops_up():
    from localcluster.standins.keepers import FAUCET_AMOUNT
    assert FAUCET_BELOW < FAUCET_AMOUNT
