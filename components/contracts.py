"""The Tonsurance contracts of a stack as Pulumi resources: the wiring of ton_deploy/plan.py.

    contracts = TonsuranceContracts("contracts", contracts_args(cfg))
    pulumi.export("policy_router_address", contracts.policy_router_address)

One TonDeployment sends every missing contract at once (after checking every deploy and derived address on
a private TVM); the resources of each contract and shard batch depend only on it, adopt what it deployed
and check the chain (docs/contracts-deploy.md). On mainnet every contract, batch and the deployment is
protected and retained on delete.
"""
from __future__ import annotations

import os

import pulumi

from chain.records import friendly_address
from config.types import StackConfig
from contracts.base import load_artifact
from contracts.policy_shard import ARTIFACT as SHARD_ARTIFACT
from ton_deploy.contract import TonContract
from ton_deploy.deployment import TonDeployment
from ton_deploy.plan import TonsuranceContractsArgs, batch_name, keeper_config, plan_contracts, token_resource_name
from ton_deploy.shard_batch import ShardBatch

__all__ = ["TonsuranceContracts", "TonsuranceContractsArgs", "contracts_args"]


def contracts_args(cfg: StackConfig) -> TonsuranceContractsArgs:
    """The component's args in the running program: paths against its directory, the send journal beside the
    state of its backend (PULUMI_BACKEND_URL)."""
    return TonsuranceContractsArgs.from_stack_config(cfg, os.getcwd(), os.environ.get("PULUMI_BACKEND_URL"))


class TonsuranceContracts(pulumi.ComponentResource):
    pricing_oracle_address: pulumi.Output[str]
    multi_tranche_vault_address: pulumi.Output[str]
    sure_token_addresses: pulumi.Output[dict]
    policy_router_address: pulumi.Output[str]
    policy_shard_addresses: pulumi.Output[list]
    shard_count: int
    code_hashes: pulumi.Output[dict]
    keeper_config: pulumi.Output[dict]
    admin_order_pending: pulumi.Output[dict | None]

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
        tokens = {tranche: TonContract(f"{name}-{token_resource_name(tranche)}", token, options(deployment))
                  for tranche, token in plan.tokens.items()}
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
        # The multisig order signers still have to approve for the oracle's keepers (None: nothing pending).
        self.admin_order_pending = oracle.roles_pending
        self.code_hashes = pulumi.Output.all(
            PricingOracle=oracle.code_hash, MultiTrancheVault=vault.code_hash,
            SureTokenMinter=next(iter(tokens.values())).code_hash, PolicyRouter=router.code_hash,
            PolicyShard=load_artifact(SHARD_ARTIFACT).code_hash)
        self.keeper_config = pulumi.Output.all(
            self.pricing_oracle_address, self.multi_tranche_vault_address, self.policy_router_address,
            self.sure_token_addresses,
        ).apply(lambda a: keeper_config(network, a[0], a[1], a[2], a[3], args.shard_count))
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
            "admin_order_pending": self.admin_order_pending,
        }
