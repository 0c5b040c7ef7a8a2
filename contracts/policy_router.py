"""PolicyRouter wrapper: init data, address, message bodies, getters, and the shard addresses it derives."""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from pytoniq_core import Address, Cell, begin_cell

from contracts.base import (
    TON, AdminOps, ContractWrapper, CoverageType, Deployment, RunGetMethod, body, deployment,
    load_artifact,
)
from contracts.policy_shard import ARTIFACT as SHARD_ARTIFACT, PolicyShard, PolicyShardConfig

ARTIFACT = "PolicyRouter"
SHARD_COUNTS = (16, 256)
MIN_COVERAGE = TON
MAX_COVERAGE = 1_000_000 * TON
MAX_DURATION_DAYS = 365


class Op(IntEnum):
    CREATE_POLICY = 0x1E5A0401
    SET_ORACLE = 0x1E5A0402


@dataclass(frozen=True)
class PolicyRouterConfig:
    admin: Address
    vault: Address
    oracle: Address
    shard_count: int


def init_data(cfg: PolicyRouterConfig) -> Cell:
    if cfg.shard_count not in SHARD_COUNTS:
        raise ValueError(f"shard count must be one of {SHARD_COUNTS}, got {cfg.shard_count}")
    return unchecked_init_data(cfg)


def unchecked_init_data(cfg: PolicyRouterConfig) -> Cell:
    """The init data without the shard-count check (the contract refuses a bad count on chain too)."""
    return (begin_cell()
            .store_address(cfg.admin)
            .store_address(None)  # pending_admin
            .store_uint(cfg.shard_count, 16)
            .store_ref(begin_cell().store_address(cfg.vault).store_address(cfg.oracle).end_cell())
            .store_ref(load_artifact(SHARD_ARTIFACT).code)
            .end_cell())


def shard_deployment(vault: Address, shard_id: int, shard_count: int) -> Deployment:
    """Shard `shard_id` of `vault`: the address the vault and router derive and the StateInit they attach."""
    return PolicyShard.from_config(PolicyShardConfig(shard_id=shard_id, vault=vault, shard_count=shard_count))


class PolicyRouter(ContractWrapper, AdminOps):
    """No pause of its own: the vault's pause stops every sale (README, "One pause")."""

    @staticmethod
    def from_config(cfg: PolicyRouterConfig) -> Deployment:
        return deployment(load_artifact(ARTIFACT).code, init_data(cfg))

    # ---- message bodies --------------------------------------------------------------------------
    @staticmethod
    def build_create_policy_body(coverage_type: CoverageType | int, coverage_amount: int, duration_days: int,
                                 premium: int, query_id: int = 0) -> Cell:
        """Attach premium + get_policy_fee(); premium >= premium_due(..., rent=get_policy_rent(days)); the vault
        refunds everything if it refuses the policy."""
        return (body(Op.CREATE_POLICY, query_id)
                .store_uint(coverage_type, 8).store_coins(coverage_amount).store_uint(duration_days, 16)
                .store_coins(premium).end_cell())

    @staticmethod
    def build_set_oracle_body(oracle: Address, query_id: int = 0) -> Cell:
        return body(Op.SET_ORACLE, query_id).store_address(oracle).end_cell()

    # ---- getters ---------------------------------------------------------------------------------
    def get_admin(self, run: RunGetMethod) -> Address:
        return self._get_address(run, "get_admin")

    def get_pending_admin(self, run: RunGetMethod) -> Address | None:
        return self._get_address(run, "get_pending_admin")

    def get_vault(self, run: RunGetMethod) -> Address:
        return self._get_address(run, "get_vault")

    def get_oracle(self, run: RunGetMethod) -> Address:
        return self._get_address(run, "get_oracle")

    def get_shard_count(self, run: RunGetMethod) -> int:
        return self._get_int(run, "get_shard_count")

    def get_shard_address(self, run: RunGetMethod, shard_id: int) -> Address:
        return self._get_address(run, "get_shard_address", shard_id)

    def get_shard_for_policy(self, run: RunGetMethod, policy_id: int) -> int:
        return self._get_int(run, "get_shard_for_policy", policy_id)

    def get_policy_fee(self, run: RunGetMethod) -> int:
        return self._get_int(run, "get_policy_fee")

    def get_policy_rent(self, run: RunGetMethod, duration_days: int) -> int:
        """The rent a policy of `duration_days` pays its shard: part of the premium (contracts.base.premium_due)."""
        return self._get_int(run, "get_policy_rent", duration_days)
