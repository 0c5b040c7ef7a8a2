"""PolicyShard wrapper: init data, address, policy decoding and getters.

A shard's init data is fully determined by (shard id, vault address, shard count), so the vault and the
router derive each shard address on chain and the deployment can pre-deploy shards with the same StateInit.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from pytoniq_core import Address, Cell, HashMap, begin_cell

from contracts.base import (
    TON, ContractWrapper, CoverageType, Deployment, RunGetMethod, body, build_recover_body, deployment, load_artifact,
)

ARTIFACT = "PolicyShard"
MAX_POLICIES = 16000  # live policies per shard (policy_shard.fc)
PRUNE_PER_STORE = 2
PRUNE_PER_MESSAGE = 64  # named policies one prune_policies message may remove
MIN_BALANCE = 50_000_000  # a shard keeps 0.05 TON for its own state's rent (common.fc shard::min_balance)
# A policy's storage footprint in its shard, which its prepaid rent covers (policy.fc).
POLICY_CELLS, POLICY_BITS = 3, 700
PRUNE_GRACE = 30 * 86400  # the rent covers the lifetime plus this; pruned by then at the latest


class Op(IntEnum):
    STORE_POLICY = 0x1E5A0501
    POLICY_STORED = 0x1E5A0502
    CLAIM = 0x1E5A0503
    CLAIM_CONFIRMED = 0x1E5A0504
    PRUNE_POLICIES = 0x1E5A0505


@dataclass(frozen=True)
class PolicyShardConfig:
    shard_id: int
    vault: Address  # the only sender of store_policy, claim and recover
    shard_count: int


@dataclass(frozen=True)
class Policy:
    holder: Address
    coverage_type: CoverageType
    coverage_amount: int
    premium: int
    start: int
    end: int

    def to_cell(self) -> Cell:
        return (begin_cell().store_address(self.holder).store_uint(self.coverage_type, 8)
                .store_coins(self.coverage_amount).store_coins(self.premium)
                .store_uint(self.start, 32).store_uint(self.end, 32).end_cell())

    @staticmethod
    def from_cell(cell: Cell) -> "Policy":
        s = cell.begin_parse()
        return Policy(s.load_address(), CoverageType(s.load_uint(8)), s.load_coins(), s.load_coins(),
                      s.load_uint(32), s.load_uint(32))


def init_data(cfg: PolicyShardConfig) -> Cell:
    if not 0 <= cfg.shard_id < cfg.shard_count:
        raise ValueError(f"shard id {cfg.shard_id} is outside 0..{cfg.shard_count - 1}")
    return (begin_cell()
            .store_uint(cfg.shard_id, 16)
            .store_address(cfg.vault)
            .store_uint(cfg.shard_count, 16)
            .store_uint(0, 64)  # policy_count
            .store_dict(None)  # policies
            .end_cell())


def filled_data(cfg: PolicyShardConfig, policies: dict[int, Cell]) -> Cell:
    """The data of a shard holding `policies` (id -> Policy cell): for tests and benchmarks of full shards."""
    entries = HashMap(64, value_serializer=lambda cell, builder: builder.store_ref(cell))
    for policy_id, cell in policies.items():
        entries.set_int_key(policy_id, cell)
    return (begin_cell().store_uint(cfg.shard_id, 16).store_address(cfg.vault).store_uint(cfg.shard_count, 16)
            .store_uint(len(policies), 64).store_dict(entries.serialize()).end_cell())


def distinct_policies(cfg: PolicyShardConfig, count: int, holder: Address, start: int, end: int,
                      first: int = 0) -> dict[int, Cell]:
    """`count` policies of shard `cfg` (ids first, first + shard_count, ...), each a distinct cell (premiums
    differ, as real sales' do): a full shard for tests and benchmarks, whose storage is what sales make."""
    return {cfg.shard_id + cfg.shard_count * (first + i):
            Policy(holder, CoverageType.DEPEG, TON, TON // 100 + i, start, end).to_cell() for i in range(count)}


class PolicyShard(ContractWrapper):
    @staticmethod
    def from_config(cfg: PolicyShardConfig) -> Deployment:
        return deployment(load_artifact(ARTIFACT).code, init_data(cfg))

    @staticmethod
    def build_store_policy_body(policy_id: int, policy: Policy, rent: int = 0, query_id: int = 0) -> Cell:
        """Vault only: what the vault sends to the shard of `policy_id` (with the shard's StateInit); the shard
        keeps `rent` (and tops itself up to MIN_BALANCE) from the value."""
        return (body(Op.STORE_POLICY, query_id).store_uint(policy_id, 64).store_coins(rent)
                .store_ref(policy.to_cell()).end_cell())

    @staticmethod
    def build_prune_policies_body(policy_ids: list[int] | tuple[int, ...], query_id: int = 0) -> Cell:
        """Anyone: remove the named policies that have expired (at most PRUNE_PER_MESSAGE); the value left
        after gas comes back with `excesses`."""
        ids = HashMap(64, value_serializer=lambda _value, builder: builder)
        for policy_id in policy_ids:
            ids.set_int_key(policy_id, None)
        return body(Op.PRUNE_POLICIES, query_id).store_dict(ids.serialize()).end_cell()

    @staticmethod
    def build_claim_body(policy_id: int, amount: int, query_id: int = 0) -> Cell:
        """Vault only: what the vault sends for an approved claim."""
        return body(Op.CLAIM, query_id).store_uint(policy_id, 64).store_coins(amount).end_cell()

    build_recover_body = staticmethod(build_recover_body)  # vault only; the vault's recover_shard sends it

    def get_shard_id(self, run: RunGetMethod) -> int:
        return self._get_int(run, "get_shard_id")

    def get_vault(self, run: RunGetMethod) -> Address:
        return self._get_address(run, "get_vault")

    def get_shard_count(self, run: RunGetMethod) -> int:
        return self._get_int(run, "get_shard_count")

    def get_policy_count(self, run: RunGetMethod) -> int:
        return self._get_int(run, "get_policy_count")

    def get_rent_owed(self, run: RunGetMethod) -> int:
        """What `recover` leaves (beside the storage reserve): MIN_BALANCE + a year's rent per live policy."""
        return self._get_int(run, "get_rent_owed")

    def get_policy(self, run: RunGetMethod, policy_id: int) -> Policy | None:
        cell = self._get(run, "get_policy", policy_id)[0]
        return None if cell is None else Policy.from_cell(cell)
