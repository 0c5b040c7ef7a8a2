"""The Tonsurance contracts of a stack: PricingOracle -> MultiTrancheVault -> six SURE tokens -> PolicyRouter
-> PolicyShard batches.

    contracts = TonsuranceContracts("contracts", TonsuranceContractsArgs.from_stack_config(cfg))
    pulumi.export("policy_router_address", contracts.policy_router_address)

Every address is computed here, offline, from code and init data (`plan_contracts`, a pure function), so
preview knows them all, and no contract needs another to exist before it is deployed. One TonDeployment
sends every missing contract at once (after checking every deploy and derived address on a private TVM);
the resources of each contract and shard batch depend only on it, adopt what it deployed and check the
chain: the vault must derive the six token addresses computed here and the router the shard addresses.
On mainnet every contract, batch and the deployment is protected and retained on delete.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import pulumi
from pytoniq_core import Address

from chain.client import ChainSettings
from chain.sandbox import raw_address
from config import SecretReference
from contracts.base import TON, Deployment, load_artifact
from contracts.multi_tranche_vault import TRANCHES, MultiTrancheVault, MultiTrancheVaultConfig, token_deployment
from contracts.policy_router import PolicyRouter, PolicyRouterConfig, shard_deployment
from contracts.policy_shard import ARTIFACT as SHARD_ARTIFACT
from contracts.pricing_oracle import PricingOracle, PricingOracleConfig
from dynamic_providers.shard_batch import ShardBatch, ShardBatchArgs
from dynamic_providers.ton_contract import DerivedAddress, TonContract, TonContractArgs
from dynamic_providers.ton_deploy import DEFAULT_WAIT_SECONDS, friendly_address, journal_location
from dynamic_providers.ton_deployment import PlannedContract, TonDeployment, TonDeploymentArgs

# Where the keepers' TON client points by default off localnet (overridable per stack).
DEFAULT_RPC_URLS = {"testnet": "https://testnet.toncenter.com/api/v2/jsonRPC",
                    "mainnet": "https://toncenter.com/api/v2/jsonRPC"}


@dataclass(frozen=True)
class DeployValues:
    """Nanotons sent with each deploy message: the contract's balance for storage rent and first messages."""
    oracle: int = TON // 10
    vault: int = TON // 5
    token: int = TON // 20
    router: int = TON // 10
    shard: int = TON // 20


@dataclass(frozen=True)
class TonsuranceContractsArgs:
    network: str                               # localnet | testnet | mainnet
    admin_address: str                         # the multisig on mainnet
    keeper_addresses: tuple[str, ...]
    treasury_address: str
    claims_processor_address: str
    shard_count: int                           # 16 | 256
    shard_batch_size: int                      # shards per ShardBatch (one highload message each)
    deployer_mnemonic: pulumi.Input[str] | SecretReference = field(repr=False)  # kept secret / fetched by the resources
    journal_path: str                          # the deployer wallets' send journal
    localnet_path: str | None = None
    liteserver_config_path: str | None = None
    rpc_url: str | None = None                 # for the keepers; default by network
    deploy_values: DeployValues = field(default_factory=DeployValues)
    wait_seconds: float = DEFAULT_WAIT_SECONDS

    @classmethod
    def from_stack_config(cls, cfg) -> "TonsuranceContractsArgs":
        """From config.StackConfig; paths are made absolute because providers run in another process."""
        ton = cfg.ton
        absolute = lambda path: os.path.abspath(path) if path else None  # noqa: E731
        return cls(network=ton.network, admin_address=ton.admin_address, keeper_addresses=ton.keeper_addresses,
                   treasury_address=ton.treasury_address, claims_processor_address=ton.claims_processor_address,
                   shard_count=ton.shard_count, shard_batch_size=ton.shard_batch_size,
                   deployer_mnemonic=ton.deployer_mnemonic if isinstance(ton.deployer_mnemonic, SecretReference)
                   else ton.deployer_mnemonic.value,
                   journal_path=journal_location(cfg.stack, os.environ.get("PULUMI_BACKEND_URL")),
                   localnet_path=absolute(ton.localnet_path),
                   liteserver_config_path=absolute(ton.liteserver_config_path))

    @property
    def protected(self) -> bool:
        """Mainnet contracts are protected and retained on delete: removing them takes two deliberate steps."""
        return self.network == "mainnet"

    @property
    def chain(self) -> ChainSettings:
        return ChainSettings(self.network, localnet_path=self.localnet_path,
                             liteserver_config_path=self.liteserver_config_path)


@dataclass(frozen=True)
class ContractsPlan:
    """Everything to deploy, computed offline: the resources' arguments in dependency order."""
    oracle: TonContractArgs
    vault: TonContractArgs
    tokens: dict[str, TonContractArgs]         # tranche name (BTC, SNR, ...) -> minter
    router: TonContractArgs
    batches: list[ShardBatchArgs]
    deployment: TonDeploymentArgs             # all of the above, sent at once


def tranche_name(symbol: str) -> str:
    return symbol.removeprefix("SURE-")


def plan_contracts(args: TonsuranceContractsArgs) -> ContractsPlan:
    values = args.deploy_values
    admin, treasury, claims = (Address(a) for a in (args.admin_address, args.treasury_address,
                                                     args.claims_processor_address))

    def contract(kind: str, deployment: Deployment, value: int, derived=()) -> TonContractArgs:
        return TonContractArgs(kind=kind, code=deployment.state_init.code, data=deployment.state_init.data,
                               deploy_value=value, chain=args.chain, deployer_mnemonic=args.deployer_mnemonic,
                               journal_path=args.journal_path, derived_addresses=tuple(derived),
                               wait_seconds=args.wait_seconds)

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
            shard_ids=ids, shard_code=shard_code,
            addresses={i: raw_address(shards[i].address) for i in ids},
            deploy_value=values.shard, chain=args.chain, deployer_mnemonic=args.deployer_mnemonic,
            journal_path=args.journal_path, wait_seconds=args.wait_seconds))
    oracle_args, vault_args = contract("PricingOracle", oracle, values.oracle), contract("MultiTrancheVault", vault,
                                                                                         values.vault, derived_tokens)
    token_args = {name: contract("SureTokenMinter", d, values.token) for name, d in tokens.items()}
    router_args = contract("PolicyRouter", router, values.router)
    derived_shards = tuple(DerivedAddress(f"shard {i}", "get_shard_address", (i,), raw_address(d.address))
                           for i, d in shards.items())
    planned = [PlannedContract("pricing-oracle", "PricingOracle", oracle_args.code, oracle_args.data, values.oracle),
               PlannedContract("multi-tranche-vault", "MultiTrancheVault", vault_args.code, vault_args.data,
                               values.vault, vault_args.derived_addresses),
               *(PlannedContract(f"sure-{name.lower().replace('+', '-plus')}", "SureTokenMinter", t.code, t.data,
                                 values.token) for name, t in token_args.items()),
               PlannedContract("policy-router", "PolicyRouter", router_args.code, router_args.data, values.router,
                               derived_shards),
               *(PlannedContract(f"policy-shard-{i:03d}", "PolicyShard", d.state_init.code, d.state_init.data,
                                 values.shard) for i, d in shards.items())]
    return ContractsPlan(oracle=oracle_args, vault=vault_args, tokens=token_args, router=router_args, batches=batches,
                         deployment=TonDeploymentArgs(tuple(planned), args.chain, args.deployer_mnemonic,
                                                      args.journal_path, args.wait_seconds))


def batch_name(batch: ShardBatchArgs) -> str:
    return f"policy-shards-{batch.shard_ids[0]:03d}-{batch.shard_ids[-1]:03d}"


def keeper_config(network: str, rpc_url: str | None, oracle: str, vault: str, router: str,
                  tokens: dict[str, str], shard_count: int) -> dict[str, str]:
    """The environment variables the keepers and the backend read (later: ConfigMap `contract-addresses`)."""
    env = {"TON_NETWORK": network, "PRICING_ORACLE_ADDRESS": oracle, "MULTI_TRANCHE_VAULT_ADDRESS": vault,
           "POLICY_ROUTER_ADDRESS": router, "SHARD_COUNT": str(shard_count)}
    env.update({f"SURE_{name.replace('+', '_PLUS')}_ADDRESS": address for name, address in tokens.items()})
    if rpc_url:
        env["TON_RPC_URL"] = rpc_url
    return env


class TonsuranceContracts(pulumi.ComponentResource):
    pricing_oracle_address: pulumi.Output[str]
    multi_tranche_vault_address: pulumi.Output[str]
    sure_token_addresses: pulumi.Output[dict]
    policy_router_address: pulumi.Output[str]
    policy_shard_addresses: pulumi.Output[list]
    shard_count: int
    code_hashes: pulumi.Output[dict]
    keeper_config: pulumi.Output[dict]

    def __init__(self, name: str, args: TonsuranceContractsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("tonsurance:contracts:TonsuranceContracts", name, None, opts)
        plan = plan_contracts(args)

        def options(*after: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, depends_on=list(after), protect=args.protected,
                                          retain_on_delete=args.protected)

        # One deployment sends every missing contract at once; the resources of each contract then adopt what
        # it deployed and run their checks that read the chain (docs/contracts-deploy.md, "ordering").
        deployment = TonDeployment(f"{name}-deployment", plan.deployment, options())
        oracle = TonContract(f"{name}-pricing-oracle", plan.oracle, options(deployment))
        vault = TonContract(f"{name}-multi-tranche-vault", plan.vault, options(deployment))
        tokens = {tranche: TonContract(f"{name}-sure-{tranche.lower().replace('+', '-plus')}", token,
                                       options(deployment)) for tranche, token in plan.tokens.items()}
        router = TonContract(f"{name}-policy-router", plan.router, options(deployment))
        batches = [ShardBatch(f"{name}-{batch_name(b)}", b, options(deployment)) for b in plan.batches]

        network = args.network
        friendly = lambda output: output.apply(lambda raw: friendly_address(raw, network))  # noqa: E731
        self.pricing_oracle_address = friendly(oracle.address)
        self.multi_tranche_vault_address = friendly(vault.address)
        self.sure_token_addresses = pulumi.Output.all(**{t: friendly(r.address) for t, r in tokens.items()})
        self.policy_router_address = friendly(router.address)
        self.policy_shard_addresses = pulumi.Output.all(*[b.shards for b in batches]).apply(
            lambda maps: [friendly_address(m[str(i)], network) for m in maps for i in sorted(map(int, m))])
        self.shard_count = args.shard_count
        self.code_hashes = pulumi.Output.all(
            PricingOracle=oracle.code_hash, MultiTrancheVault=vault.code_hash,
            SureTokenMinter=next(iter(tokens.values())).code_hash, PolicyRouter=router.code_hash,
            PolicyShard=load_artifact(SHARD_ARTIFACT).code_hash)
        self.keeper_config = pulumi.Output.all(
            self.pricing_oracle_address, self.multi_tranche_vault_address, self.policy_router_address,
            self.sure_token_addresses,
        ).apply(lambda a: keeper_config(network, args.rpc_url or DEFAULT_RPC_URLS.get(network), a[0], a[1], a[2],
                                        a[3], args.shard_count))
        self.register_outputs(self.stack_outputs())

    def stack_outputs(self) -> dict[str, object]:
        """What the stack exports (names are the outputs keepers, ConfigMaps and operators read)."""
        return {
            "pricing_oracle_address": self.pricing_oracle_address,
            "multi_tranche_vault_address": self.multi_tranche_vault_address,
            "sure_token_addresses": self.sure_token_addresses,
            "policy_router_address": self.policy_router_address,
            "policy_shard_addresses": self.policy_shard_addresses,
            "shard_count": self.shard_count,
            "contract_code_hashes": self.code_hashes,
            "keeper_config": self.keeper_config,
        }
