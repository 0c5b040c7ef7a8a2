"""A localnet chain whose oracle, vault and router are administered by the official multisig v2 (5 signers,
threshold 3, one proposer), for the multisig tests: everything runs on the real TVM."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pytoniq_core import Address, StateInit
from pytoniq_core.crypto.keys import mnemonic_new

from chain.client import ChainSettings
from chain.connect import connect
from chain.localnet import LocalnetClient
from chain.sandbox import FAUCET_ADDRESS
from chain.wallets import WalletKey, WalletV4R2
from contracts.admin_actions import Contracts
from contracts.base import TON
from contracts.multi_tranche_vault import MultiTrancheVault, MultiTrancheVaultConfig
from contracts.multisig import Multisig, MultisigConfig, order_code
from contracts.policy_router import PolicyRouter, PolicyRouterConfig
from contracts.pricing_oracle import PricingOracle, PricingOracleConfig
from ops.multisig import Session

THRESHOLD, SIGNERS = 3, 5


@dataclass
class Party:
    """A wallet v4r2 holder: its words in a key file (0600) and its address."""
    words: str
    key_file: Path
    address: Address

    def wallet(self, client, journal: Path) -> WalletV4R2:
        return WalletV4R2(client, WalletKey.from_mnemonic(self.words), journal)


@dataclass
class MultisigWorld:
    client: LocalnetClient
    multisig: Address
    contracts: Contracts
    signers: list[Party]
    proposer: Party
    outsider: Party            # neither signer nor proposer
    keeper: Address            # the oracle's keeper at deploy
    session: Session


def party(directory: Path, name: str, client: LocalnetClient) -> Party:
    words = " ".join(mnemonic_new(24))
    path = directory / f"{name}.key"
    path.write_text(words + "\n")
    os.chmod(path, 0o600)
    address = WalletV4R2(None, WalletKey.from_mnemonic(words), os.devnull).address  # type: ignore[arg-type]
    client.fund(address, 5 * TON)
    return Party(words, path, address)


def install(client: LocalnetClient, state_init: StateInit, value: int = TON) -> Address:
    address = Address((0, state_init.serialize().hash))
    client.send_internal(sender=FAUCET_ADDRESS, to=address, value=value, state_init=state_init, bounce=False)
    return address


def make_world(directory: Path, vault_paused: bool = True) -> MultisigWorld:
    """The vault deploys paused, as on mainnet (unless `vault_paused` is False); the oracle has one keeper."""
    client = connect(ChainSettings("localnet", localnet_path=str(directory / "chain.json"), poll_interval_seconds=0.02))
    client.publish_library(order_code())   # the real networks have it: the librarian published it
    signers = [party(directory, f"signer-{i}", client) for i in range(SIGNERS)]
    proposer, outsider = party(directory, "proposer", client), party(directory, "outsider", client)
    multisig = install(client, Multisig.from_config(MultisigConfig(THRESHOLD, tuple(s.address for s in signers),
                                                                   (proposer.address,))).state_init, 10 * TON)
    keeper = Address("0:" + "ee" * 32)
    oracle = install(client, PricingOracle.from_config(PricingOracleConfig(admin=multisig)).state_init)
    client.send_internal(sender=multisig, to=oracle, value=TON // 10, body=PricingOracle.build_add_keeper_body(keeper))
    vault = install(client, MultiTrancheVault.from_config(MultiTrancheVaultConfig(
        admin=multisig, claims_processor=Address("0:" + "c1" * 32), oracle=oracle, treasury=Address("0:" + "c2" * 32),
        shard_count=16, paused=vault_paused)).state_init)
    router = install(client, PolicyRouter.from_config(PolicyRouterConfig(admin=multisig, vault=vault, oracle=oracle,
                                                                         shard_count=16)).state_init)
    contracts = Contracts(oracle, vault, router)
    session = Session("local", "localnet", client, multisig, contracts, str(directory / "journal"))
    return MultisigWorld(client, multisig, contracts, signers, proposer, outsider, keeper, session)
