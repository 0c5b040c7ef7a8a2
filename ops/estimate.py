"""The cost of the next update, measured by doing it on a private TVM.

The plan's deployment goes through the same provider code `pulumi up` runs (`TonDeploymentProvider.create`,
which sends every missing contract and shard in one highload message; the per-contract resources then only
adopt), pointed at a private localnet chain: what is already active is adopted without a message, what is
missing is deployed through the deployer's wallet.
The cost is what left the deployer wallets there (deploy values plus every wallet fee); nothing is signed
for, or sent to, the real network.

- localnet: the private chain is a copy of the stack's chain file, so wallets and contracts are exactly as
  they are.
- testnet/mainnet: the private chain starts empty; contracts already active on the network are installed
  in it for free, and the deployer wallets are new accounts (their first message carries their own deploy,
  so an active real wallet pays slightly less than estimated).
"""
from __future__ import annotations

import dataclasses
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from chain.client import ChainSettings
from chain.connect import connect
from chain.sandbox import FAUCET_ADDRESS
from chain.wallets import deployer_wallet_addresses
from contracts.base import TON
from ton_deploy.deployment import TonDeploymentProvider, deployment_inputs
from ton_deploy.plan import ContractsPlan, Deployer, TonsuranceContractsArgs, plan_contracts
from ton_deploy.targets import target_of

SHARD_PREFIX = "policy-shard"  # the deployment's name of each shard (ton_deploy/plan.py)


@dataclass(frozen=True)
class UpdateEstimate:
    contracts: int          # contracts the update deploys
    shards: int             # shards the update deploys
    values: int             # nanotons sent with the deploys (they stay in the new contracts)
    cost: int               # nanotons leaving the deployer wallets: values + every wallet fee
    by_wallet: dict[str, int]

    @property
    def fees(self) -> int:
        return self.cost - self.values


def estimate_update(args: TonsuranceContractsArgs, mnemonic: str, wait_seconds: float = 30.0) -> UpdateEstimate:
    """`mnemonic`: the deployer's words (the private wallets are theirs; args may hold only a reference)."""
    with tempfile.TemporaryDirectory(prefix="tonsurance-estimate-") as tmp:
        private = ChainSettings("localnet", localnet_path=str(Path(tmp) / "chain.json"), poll_interval_seconds=0.02)
        journal = Path(tmp) / "journal.json"
        real = args.deployer
        if args.network == "localnet" and Path(real.chain.localnet_path).exists():
            shutil.copy(real.chain.localnet_path, private.localnet_path)
            if Path(real.journal_path).exists():  # the copied wallets' open messages, as the real run sees them
                shutil.copy(real.journal_path, journal)
        plan = plan_contracts(dataclasses.replace(args, deployer=Deployer(private, mnemonic, str(journal), wait_seconds)))
        if args.network != "localnet":
            _install_active(real.chain, private, plan)
        wallets = deployer_wallet_addresses(mnemonic)
        with connect(private) as client:
            before = {kind: client.account(a).balance for kind, a in wallets.items()}
            props = deployment_inputs(plan.deployment)
            out = TonDeploymentProvider().create(props).outs
            after = {kind: client.account(a).balance for kind, a in wallets.items()}
        funded = {kind: out["faucet_funded"] if kind == "highload_wallet_v3" else 0 for kind in wallets}
        deployed = out["deployed"]
        shards = sum(name.startswith(SHARD_PREFIX) for name in deployed)
        contracts, values = len(deployed) - shards, sum(props["contracts"][n]["deploy_value"] for n in deployed)
        by_wallet = {kind: before[kind] + funded[kind] - after[kind] for kind in wallets}
        return UpdateEstimate(contracts, shards, values, sum(by_wallet.values()), by_wallet)


def _install_active(real: ChainSettings, private: ChainSettings, plan: ContractsPlan) -> None:
    """Copy into the private chain (for free) every contract of the plan already active on the real network."""
    targets = [target_of(c.code, c.data) for c in plan.deployment.contracts]
    with connect(real) as network, connect(private) as copy:
        for target in targets:
            if network.account(target.address).status == "active":
                copy.send_internal(sender=FAUCET_ADDRESS, to=target.address, value=TON // 10,
                                   state_init=target.state_init, bounce=False)

