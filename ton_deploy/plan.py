"""The Tonsurance contracts of a stack, planned offline: PricingOracle -> MultiTrancheVault -> six SURE tokens
-> PolicyRouter -> PolicyShard batches.

Every address is computed here from code and init data (`plan_contracts`), so preview knows them all and no
contract needs another to exist before it is deployed. The plan is the resources' arguments: one
`TonDeploymentArgs` that sends every missing contract at once, and the arguments of each contract and shard
batch that adopt what it deployed and check the chain (the vault must derive the six token addresses
computed here and the router the shard addresses).

Pure: no resource is registered, nothing is read or written (ops/ and bench/ plan without the engine).
The deployer context (`Deployer`: chain, mnemonic or its reference, journal, wait) is one value that every
argument shares.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytoniq_core import Address

from chain.beside_state import beside_state
from chain.client import ChainSettings
from chain.records import TON, raw_address
from config.types import SecretReference
from contracts.base import Deployment, load_artifact
from contracts.multi_tranche_vault import TRANCHES, MultiTrancheVault, MultiTrancheVaultConfig, token_deployment
from contracts.policy_router import PolicyRouter, PolicyRouterConfig, shard_deployment
from contracts.policy_shard import ARTIFACT as SHARD_ARTIFACT
from contracts.pricing_oracle import PricingOracle, PricingOracleConfig

if TYPE_CHECKING:
    import pulumi

    from config.types import StackConfig

DEFAULT_WAIT_SECONDS = 120.0
LOCAL_JOURNAL_DIR = ".state/journal"
# Where the keepers' TON client points off localnet (`keeper_config`).
KEEPER_RPC_URLS = {"testnet": "https://testnet.toncenter.com/api/v2/jsonRPC",
                   "mainnet": "https://toncenter.com/api/v2/jsonRPC"}


@dataclass(frozen=True)
class Deployer:
    """Who deploys, where, and how long to wait: one value shared by every contract, shard batch and the
    deployment (their inputs: ton_deploy/deployer.py, `deployer_inputs`)."""
    chain: ChainSettings
    # The words (made a secret by the resource) or a Secrets Manager reference (fetched inside create).
    mnemonic: pulumi.Input[str] | SecretReference = field(repr=False)
    journal_path: str                          # the deployer wallets' send journal
    wait_seconds: float = DEFAULT_WAIT_SECONDS
    legacy_journal_path: str | None = None     # a journal at the old place, adopted by the first send


@dataclass(frozen=True)
class DeployValues:
    """Nanotons sent with each deploy message: the contract's balance for storage rent and first messages."""
    oracle: int = TON // 10
    vault: int = TON // 5
    token: int = TON // 20
    router: int = TON // 10
    shard: int = TON // 20


@dataclass(frozen=True)
class DerivedAddress:
    """An address the contract computes on chain (getter `getter(*args)`) that must equal the program's."""
    what: str          # e.g. "SURE-BTC token"
    getter: str
    args: tuple[int, ...]
    address: str       # raw, as computed by the program

    def as_input(self) -> dict[str, Any]:
        return {"what": self.what, "getter": self.getter, "args": list(self.args), "address": self.address}


@dataclass(frozen=True)
class TonContractArgs:
    kind: str                                  # contract name, e.g. "PricingOracle"
    code: Any                                  # pytoniq_core Cell
    data: Any                                  # pytoniq_core Cell: the init data
    deploy_value: int                          # nanotons sent with the deploy message
    deployer: Deployer
    derived_addresses: tuple[DerivedAddress, ...] = ()


@dataclass(frozen=True)
class ShardBatchArgs:
    router: str                                # raw address of the PolicyRouter (checked to derive the same shards)
    vault: str                                 # raw address of the MultiTrancheVault, the shards' owner (init data)
    shard_count: int                           # the router's shard count (16 or 256)
    shard_ids: tuple[int, ...]                 # the ids of this batch
    shard_code: Any                            # pytoniq_core Cell
    addresses: dict[int, str]                  # shard id -> raw address, as the program computed them
    deploy_value: int                          # nanotons per shard
    deployer: Deployer


@dataclass(frozen=True)
class PlannedContract:
    name: str                                  # e.g. "pricing-oracle", "policy-shard-017"
    kind: str
    code: Any                                  # pytoniq_core Cell (stored once per distinct code)
    data: Any                                  # pytoniq_core Cell
    deploy_value: int
    derived_addresses: tuple[DerivedAddress, ...] = ()


@dataclass(frozen=True)
class TonDeploymentArgs:
    contracts: tuple[PlannedContract, ...]
    deployer: Deployer


@dataclass(frozen=True)
class TonsuranceContractsArgs:
    admin_address: str                         # the multisig on mainnet
    keeper_addresses: tuple[str, ...]
    treasury_address: str
    claims_processor_address: str
    shard_count: int                           # 16 | 256
    shard_batch_size: int                      # shards per ShardBatch (one highload message each)
    deployer: Deployer
    deploy_values: DeployValues = field(default_factory=DeployValues)

    @classmethod
    def from_stack_config(cls, cfg: StackConfig, project_dir: str, backend_url: str | None) -> TonsuranceContractsArgs:
        """From the stack's config; paths are made absolute against `project_dir` because providers run in
        another process, and the journal goes beside the state of `backend_url` (`journal_location`)."""
        ton = cfg.ton
        absolute = lambda path: os.path.join(os.path.abspath(project_dir), path) if path else None  # noqa: E731
        journal = journal_location(cfg.stack, backend_url, project_dir)
        legacy = legacy_journal_location(cfg.stack, project_dir)
        chain = ChainSettings(ton.network, localnet_path=absolute(ton.localnet_path),
                              liteserver_config_path=absolute(ton.liteserver_config_path))
        mnemonic = ton.deployer_mnemonic if isinstance(ton.deployer_mnemonic, SecretReference) \
            else ton.deployer_mnemonic.value
        return cls(admin_address=ton.admin_address, keeper_addresses=ton.keeper_addresses,
                   treasury_address=ton.treasury_address, claims_processor_address=ton.claims_processor_address,
                   shard_count=ton.shard_count, shard_batch_size=ton.shard_batch_size,
                   deployer=Deployer(chain, mnemonic, journal, legacy_journal_path=legacy if legacy != journal else None))

    @property
    def network(self) -> str:
        return self.deployer.chain.network

    @property
    def protected(self) -> bool:
        """Mainnet contracts are protected and retained on delete: removing them takes two deliberate steps."""
        return self.network == "mainnet"


@dataclass(frozen=True)
class ContractsPlan:
    """Everything to deploy, computed offline: the resources' arguments in dependency order."""
    oracle: TonContractArgs
    vault: TonContractArgs
    tokens: dict[str, TonContractArgs]         # tranche name (BTC, SNR, ...) -> minter
    router: TonContractArgs
    batches: list[ShardBatchArgs]
    deployment: TonDeploymentArgs             # all of the above, sent at once


def journal_location(stack: str, backend_url: str | None, project_dir: str) -> str:
    """Where the deployer's send journal lives: beside the stack's state when the Pulumi backend is a folder
    (`file://DIR`, a shared volume included), so every operator and CI runner of the stack reads the same
    journal; otherwise `.state/journal` of the checkout, and the wallets' fence protects the rest."""
    if not (backend_url and backend_url.startswith("file://")):
        return legacy_journal_location(stack, project_dir)
    return beside_state(backend_url, "journal").location(f"{stack}-deployer.json")


def legacy_journal_location(stack: str, project_dir: str) -> str:
    """The checkout's own journal (the only place before journals moved beside the state)."""
    return os.path.abspath(os.path.join(project_dir, LOCAL_JOURNAL_DIR, f"{stack}-deployer.json"))


def tranche_name(symbol: str) -> str:
    return symbol.removeprefix("SURE-")


def token_resource_name(tranche: str) -> str:
    """"BTC" -> "sure-btc", "JNR+" -> "sure-jnr-plus"."""
    return f"sure-{tranche.lower().replace('+', '-plus')}"


def batch_name(batch: ShardBatchArgs) -> str:
    return f"policy-shards-{batch.shard_ids[0]:03d}-{batch.shard_ids[-1]:03d}"


def plan_contracts(args: TonsuranceContractsArgs) -> ContractsPlan:
    values, deployer = args.deploy_values, args.deployer
    admin, treasury, claims = (Address(a) for a in (args.admin_address, args.treasury_address,
                                                     args.claims_processor_address))

    def contract(kind: str, deployment: Deployment, value: int, derived=()) -> TonContractArgs:
        return TonContractArgs(kind=kind, code=deployment.state_init.code, data=deployment.state_init.data,
                               deploy_value=value, deployer=deployer, derived_addresses=tuple(derived))

    oracle = PricingOracle.from_config(PricingOracleConfig(admin=admin,
                                                           keepers=tuple(Address(k) for k in args.keeper_addresses)))
    # On mainnet the vault deploys paused: no deposit or sale until the multisig has checked it and unpauses.
    vault = MultiTrancheVault.from_config(MultiTrancheVaultConfig(
        admin=admin, claims_processor=claims, oracle=oracle.address, treasury=treasury,
        shard_count=args.shard_count, paused=args.network == "mainnet"))
    tokens = {tranche_name(t.symbol): token_deployment(vault.address, t) for t in TRANCHES}
    derived_tokens = [DerivedAddress(f"{t.symbol} token", "get_tranche_token_address", (t.id,),
                                     raw_address(tokens[tranche_name(t.symbol)].address)) for t in TRANCHES]
    router = PolicyRouter.from_config(PolicyRouterConfig(admin=admin, vault=vault.address, oracle=oracle.address,
                                                         shard_count=args.shard_count))
    shard_code = load_artifact(SHARD_ARTIFACT).code
    shards = {i: shard_deployment(vault.address, i, args.shard_count) for i in range(args.shard_count)}
    batches = []
    for first in range(0, args.shard_count, args.shard_batch_size):
        ids = tuple(range(first, min(first + args.shard_batch_size, args.shard_count)))
        batches.append(ShardBatchArgs(
            router=raw_address(router.address), vault=raw_address(vault.address), shard_count=args.shard_count,
            shard_ids=ids, shard_code=shard_code, addresses={i: raw_address(shards[i].address) for i in ids},
            deploy_value=values.shard, deployer=deployer))
    oracle_args = contract("PricingOracle", oracle, values.oracle)
    vault_args = contract("MultiTrancheVault", vault, values.vault, derived_tokens)
    token_args = {name: contract("SureTokenMinter", d, values.token) for name, d in tokens.items()}
    router_args = contract("PolicyRouter", router, values.router)
    derived_shards = tuple(DerivedAddress(f"shard {i}", "get_shard_address", (i,), raw_address(d.address))
                           for i, d in shards.items())
    planned = [PlannedContract("pricing-oracle", "PricingOracle", oracle_args.code, oracle_args.data, values.oracle),
               PlannedContract("multi-tranche-vault", "MultiTrancheVault", vault_args.code, vault_args.data,
                               values.vault, vault_args.derived_addresses),
               *(PlannedContract(token_resource_name(name), "SureTokenMinter", t.code, t.data, values.token)
                 for name, t in token_args.items()),
               PlannedContract("policy-router", "PolicyRouter", router_args.code, router_args.data, values.router,
                               derived_shards),
               *(PlannedContract(f"policy-shard-{i:03d}", "PolicyShard", d.state_init.code, d.state_init.data,
                                 values.shard) for i, d in shards.items())]
    return ContractsPlan(oracle=oracle_args, vault=vault_args, tokens=token_args, router=router_args, batches=batches,
                         deployment=TonDeploymentArgs(tuple(planned), deployer))


def keeper_config(network: str, oracle: str, vault: str, router: str, tokens: dict[str, str],
                  shard_count: int) -> dict[str, str]:
    """The environment variables the keepers and the backend read (ConfigMap `contract-addresses`); off
    localnet `TON_RPC_URL` is the network's public endpoint (`KEEPER_RPC_URLS`)."""
    env = {"TON_NETWORK": network, "PRICING_ORACLE_ADDRESS": oracle, "MULTI_TRANCHE_VAULT_ADDRESS": vault,
           "POLICY_ROUTER_ADDRESS": router, "SHARD_COUNT": str(shard_count)}
    env.update({f"SURE_{name.replace('+', '_PLUS')}_ADDRESS": address for name, address in tokens.items()})
    if network in KEEPER_RPC_URLS:
        env["TON_RPC_URL"] = KEEPER_RPC_URLS[network]
    return env
