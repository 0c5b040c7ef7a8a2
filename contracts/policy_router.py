"""PolicyRouter wrapper: init data, address, message bodies, getters, and the shard addresses it derives."""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from pytoniq_core import Address, Cell, begin_cell

from contracts.base import (
    TON, ContractWrapper, CoverageType, Deployment, RunGetMethod, body, build_change_admin_body, build_pause_body,
    build_unpause_body, deployment, load_artifact,
)
from contracts.policy_shard import ARTIFACT as SHARD_ARTIFACT, PolicyShard, PolicyShardConfig

ARTIFACT = "PolicyRouter"
SHARD_COUNTS = (16, 256)
ROUTING_FEE = 5 * TON // 100  # taken from create_policy; the rest of the attached value is the premium
SHARD_VALUE = 2 * TON // 100  # sent with each routed policy
MIN_PREMIUM = TON // 100
MIN_COVERAGE = TON
MAX_COVERAGE = 1_000_000 * TON
MAX_DURATION_DAYS = 365
FIRST_POLICY_ID = 1


class Op(IntEnum):
    CREATE_POLICY = 0x1E5A0401
    SET_TREASURY = 0x1E5A0402
    SET_CLAIMS_PROCESSOR = 0x1E5A0403


@dataclass(frozen=True)
class PolicyRouterConfig:
    admin: Address
    treasury: Address
    claims_processor: Address
    shard_count: int


def init_data(cfg: PolicyRouterConfig) -> Cell:
    if cfg.shard_count not in SHARD_COUNTS:
        raise ValueError(f"shard count must be one of {SHARD_COUNTS}, got {cfg.shard_count}")
    return unchecked_init_data(cfg)


def unchecked_init_data(cfg: PolicyRouterConfig) -> Cell:
    """The init data without the shard-count check (the contract refuses a bad count on chain too)."""
    return (begin_cell()
            .store_address(cfg.admin)
            .store_bit(0)  # paused
            .store_uint(cfg.shard_count, 16)
            .store_uint(FIRST_POLICY_ID, 64)  # next_policy_id
            .store_uint(0, 64)  # total_policies
            .store_ref(begin_cell().store_address(cfg.treasury).store_address(cfg.claims_processor).end_cell())
            .store_ref(load_artifact(SHARD_ARTIFACT).code)
            .end_cell())


def shard_deployment(router: Address, shard_id: int, shard_count: int) -> Deployment:
    """Shard `shard_id` of `router`: the address the router derives and the StateInit it attaches."""
    return PolicyShard.from_config(PolicyShardConfig(shard_id=shard_id, router=router, shard_count=shard_count))


class PolicyRouter(ContractWrapper):
    @staticmethod
    def from_config(cfg: PolicyRouterConfig) -> Deployment:
        return deployment(load_artifact(ARTIFACT).code, init_data(cfg))

    # ---- message bodies --------------------------------------------------------------------------
    @staticmethod
    def build_create_policy_body(coverage_type: CoverageType | int, coverage_amount: int, duration_days: int,
                                 query_id: int = 0) -> Cell:
        """Attach ROUTING_FEE + premium (premium >= MIN_PREMIUM); the treasury gets the premium and the unused fee."""
        return (body(Op.CREATE_POLICY, query_id)
                .store_uint(coverage_type, 8).store_coins(coverage_amount).store_uint(duration_days, 16)
                .end_cell())

    @staticmethod
    def build_set_treasury_body(treasury: Address, query_id: int = 0) -> Cell:
        return body(Op.SET_TREASURY, query_id).store_address(treasury).end_cell()

    @staticmethod
    def build_set_claims_processor_body(claims_processor: Address, query_id: int = 0) -> Cell:
        return body(Op.SET_CLAIMS_PROCESSOR, query_id).store_address(claims_processor).end_cell()

    build_pause_body = staticmethod(build_pause_body)
    build_unpause_body = staticmethod(build_unpause_body)
    build_change_admin_body = staticmethod(build_change_admin_body)

    # ---- getters ---------------------------------------------------------------------------------
    def get_admin(self, run: RunGetMethod) -> Address:
        return self._get_address(run, "get_admin")

    def get_treasury(self, run: RunGetMethod) -> Address:
        return self._get_address(run, "get_treasury")

    def get_claims_processor(self, run: RunGetMethod) -> Address:
        return self._get_address(run, "get_claims_processor")

    def is_paused(self, run: RunGetMethod) -> bool:
        return self._get_bool(run, "is_paused")

    def get_shard_count(self, run: RunGetMethod) -> int:
        return self._get_int(run, "get_shard_count")

    def get_shard_address(self, run: RunGetMethod, shard_id: int) -> Address:
        return self._get_address(run, "get_shard_address", shard_id)

    def get_shard_for_policy(self, run: RunGetMethod, policy_id: int) -> int:
        return self._get_int(run, "get_shard_for_policy", policy_id)

    def get_next_policy_id(self, run: RunGetMethod) -> int:
        return self._get_int(run, "get_next_policy_id")

    def get_total_policies(self, run: RunGetMethod) -> int:
        return self._get_int(run, "get_total_policies")
