"""Localnet, a deployer mnemonic and contract inputs for the TON provider tests.

Provider methods are called directly, with inputs shaped as the engine hands them over (numbers as
floats, the secret unwrapped), against a file-backed localnet executed by the real TVM.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from pytoniq_core import Address
from pytoniq_core.crypto.keys import mnemonic_new

from chain.client import ChainSettings
from chain.connect import connect
from chain.records import raw_address
from chain.wallets import HighloadWalletV3, WalletKey, WalletV4R2
from contracts.base import TON, load_artifact
from contracts.multi_tranche_vault import (
    TRANCHES, MultiTrancheVaultConfig, init_data as vault_init_data, token_deployment,
)
from contracts.policy_router import PolicyRouterConfig, init_data as router_init_data, shard_deployment
from contracts.pricing_oracle import PricingOracleConfig, init_data as oracle_init_data
from tests.support import contracts_args
from ton_deploy.contract import contract_inputs
from ton_deploy.deployment import deployment_inputs
from ton_deploy.plan import Deployer, DerivedAddress, ShardBatchArgs, TonContractArgs, plan_contracts
from ton_deploy.shard_batch import batch_inputs

ADMIN = Address("0:" + "a1" * 32)
KEEPERS = (Address("0:" + "b1" * 32), Address("0:" + "b2" * 32))
TREASURY = Address("0:" + "c1" * 32)
CLAIMS = Address("0:" + "d1" * 32)
SHARD_OWNER = Address("0:" + "f1" * 32)  # the vault the provider tests' routers and shards name


def engine_view(props: dict) -> dict:
    """What a provider method receives: the engine carries numbers as doubles."""
    return json.loads(json.dumps(props), parse_int=float)


@pytest.fixture
def mnemonic() -> str:
    return " ".join(mnemonic_new())


@pytest.fixture
def settings(tmp_path) -> ChainSettings:
    return ChainSettings("localnet", localnet_path=str(tmp_path / "chain.json"), poll_interval_seconds=0.02)


@pytest.fixture
def client(settings):
    with connect(settings) as chain:
        yield chain


@pytest.fixture
def journal(tmp_path) -> str:
    return str(tmp_path / "journal" / "deployer.json")


@pytest.fixture
def deployer(client, mnemonic, journal) -> WalletV4R2:
    return WalletV4R2(client, WalletKey.from_mnemonic(mnemonic), journal)


@pytest.fixture
def highload(client, mnemonic, journal) -> HighloadWalletV3:
    return HighloadWalletV3(client, WalletKey.from_mnemonic(mnemonic), journal)


class Inputs:
    """Builds provider inputs for the Tonsurance contracts on one localnet with one deployer."""

    def __init__(self, settings: ChainSettings, mnemonic: str, journal: str):
        self.settings, self.mnemonic, self.journal = settings, mnemonic, journal

    def deployer(self, wait_seconds: float) -> Deployer:
        return Deployer(self.settings, self.mnemonic, self.journal, wait_seconds)

    def contract(self, kind: str, artifact: str, data, value: int = TON // 10, derived=()) -> dict:
        return engine_view(contract_inputs(TonContractArgs(
            kind=kind, code=load_artifact(artifact).code, data=data, deploy_value=value, deployer=self.deployer(5),
            derived_addresses=tuple(derived))))

    def oracle(self, **overrides) -> dict:
        cfg = PricingOracleConfig(admin=ADMIN)
        return self.contract("PricingOracle", "PricingOracle", oracle_init_data(cfg), **overrides)

    def vault_config(self, oracle: Address) -> MultiTrancheVaultConfig:
        return MultiTrancheVaultConfig(admin=ADMIN, claims_processor=CLAIMS, oracle=oracle, treasury=TREASURY,
                                       shard_count=16)

    def vault(self, oracle: Address, derived_override: dict[int, str] | None = None) -> dict:
        data = vault_init_data(self.vault_config(oracle))
        props = self.contract("MultiTrancheVault", "MultiTrancheVault", data)
        vault = Address(props["address"])
        derived = [DerivedAddress(f"{t.symbol} token", "get_tranche_token_address", (t.id,),
                                  (derived_override or {}).get(t.id) or raw_address(token_deployment(vault, t).address))
                   for t in TRANCHES]
        return self.contract("MultiTrancheVault", "MultiTrancheVault", data, derived=derived)

    def router(self, shard_count: int = 16) -> dict:
        """A router of SHARD_OWNER's shards (the vault need not exist to deploy and check shards)."""
        cfg = PolicyRouterConfig(admin=ADMIN, vault=SHARD_OWNER, oracle=CLAIMS, shard_count=shard_count)
        return self.contract("PolicyRouter", "PolicyRouter", router_init_data(cfg))

    def shards(self, router: str, ids, shard_count: int = 16, value: int = TON // 20, wait: float = 5) -> dict:
        return engine_view(batch_inputs(ShardBatchArgs(
            router=router, vault=raw_address(SHARD_OWNER), shard_count=shard_count, shard_ids=tuple(ids),
            shard_code=load_artifact("PolicyShard").code,
            addresses={i: raw_address(shard_deployment(SHARD_OWNER, i, shard_count).address) for i in ids},
            deploy_value=value, deployer=self.deployer(wait))))


@pytest.fixture
def inputs(settings, mnemonic, journal) -> Inputs:
    return Inputs(settings, mnemonic, journal)


def external_count(client, address: Address) -> int:
    return sum(1 for tx in client.transactions(address, 1000) if tx.in_external)


def journal_text(journal: str) -> str:
    return Path(journal).read_text() if Path(journal).exists() else ""


def plan(settings: ChainSettings, mnemonic: str, journal: str, shard_count: int = 16):
    """The whole plan of the Tonsurance contracts on the test localnet (batches of 8 shards)."""
    return plan_contracts(contracts_args(
        admin=ADMIN.to_str(False), keepers=tuple(k.to_str(False) for k in KEEPERS), treasury=TREASURY.to_str(False),
        claims=CLAIMS.to_str(False), shard_count=shard_count, batch=8, mnemonic=mnemonic, chain=settings,
        journal=journal, wait_seconds=5))


def deployment(contracts_plan, **deployer_changes) -> dict:
    """The deployment's inputs as the provider receives them (`deployer_changes`: e.g. wait_seconds)."""
    args = contracts_plan.deployment
    return engine_view(deployment_inputs(dataclasses.replace(
        args, deployer=dataclasses.replace(args.deployer, **deployer_changes))))
