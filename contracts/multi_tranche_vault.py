"""MultiTrancheVault wrapper: the six tranches, init data, address, message bodies and getters.

The vault derives each tranche's SureToken minter address on chain from the SureToken code it holds;
token_deployment() computes the same address (and the StateInit the deployment sends) offline.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from pytoniq_core import Address, Cell, HashMap, begin_cell

from contracts.base import (
    AdminOps, ContractWrapper, Deployment, PauseOps, RunGetMethod, body, deployment, load_artifact, read_address,
)
from contracts.policy_shard import ARTIFACT as SHARD_ARTIFACT
from contracts.sure_token import MINTER_ARTIFACT, WALLET_ARTIFACT, SureTokenConfig, SureTokenMinter, token_content

ARTIFACT = "MultiTrancheVault"
DAY = 86400
UTILIZATION_CAP_BPS = 8000  # coverage sold may reach 80% of capital (the guide's default)


class Op(IntEnum):
    DEPOSIT = 0x1E5A0201
    PAY_CLAIM = 0x1E5A0203
    SET_CLAIMS_PROCESSOR = 0x1E5A0204
    SET_ORACLE = 0x1E5A0205
    SET_TREASURY = 0x1E5A0206
    SET_PARAMS = 0x1E5A0207
    RECOVER_SHARD = 0x1E5A0208
    # what the vault sends to users
    POLICY_REFUSED = 0x1E5A02F1
    POLICY_BOUGHT = 0x1E5A02F2
    CLAIM_PAID = 0x1E5A02F3
    REDEEMED = 0x1E5A02F4
    DEPOSIT_REFUNDED = 0x1E5A02F5
    TREASURY_SHARE = 0x1E5A02F6


class Curve(IntEnum):
    FLAT = 0
    LOG = 1
    LINEAR = 2
    SIGMOID = 3
    QUADRATIC = 4
    EXPONENTIAL = 5


@dataclass(frozen=True)
class Tranche:
    id: int
    symbol: str
    allocation_bps: int
    apy_min_bps: int
    apy_max_bps: int
    curve: Curve
    lock_period: int  # seconds

    @property
    def content(self) -> Cell:
        return token_content(self.symbol, f"Tonsurance {self.symbol}",
                             f"Tonsurance vault tranche {self.id} share token")


# DESIGN.md, "The contracts". Losses hit EQT (6) first and BTC (1) last.
TRANCHES: tuple[Tranche, ...] = (
    Tranche(1, "SURE-BTC", 2500, 400, 400, Curve.FLAT, 90 * DAY),
    Tranche(2, "SURE-SNR", 2000, 650, 1000, Curve.LOG, 60 * DAY),
    Tranche(3, "SURE-MEZZ", 1800, 900, 1500, Curve.LINEAR, 30 * DAY),
    Tranche(4, "SURE-JNR", 1500, 1250, 1600, Curve.SIGMOID, 0),
    Tranche(5, "SURE-JNR+", 1200, 1600, 2200, Curve.QUADRATIC, 0),
    Tranche(6, "SURE-EQT", 1000, 1500, 2500, Curve.EXPONENTIAL, 0),
)


@dataclass(frozen=True)
class MultiTrancheVaultConfig:
    admin: Address
    claims_processor: Address
    oracle: Address
    treasury: Address
    shard_count: int
    paused: bool = False  # mainnet deploys paused: the multisig unpauses
    utilization_cap_bps: int = UTILIZATION_CAP_BPS
    treasury_share_bps: int = 0  # of each premium; the rest is tranche yield
    tranches: tuple[Tranche, ...] = TRANCHES


@dataclass(frozen=True)
class TrancheState:
    allocation_bps: int
    apy_min_bps: int
    apy_max_bps: int
    curve: Curve
    lock_period: int
    capital: int
    shares: int  # the tranche's SURE tokens the vault counts (redemption pays shares * capital / total)
    token: Address


@dataclass(frozen=True)
class Fees:
    """Nanotons each flow needs beyond the money it moves (priced from the network config on chain)."""
    deposit: int  # at the vault, on top of the deposit
    policy: int   # at the router, on top of the premium
    claim: int    # at the vault, with pay_claim
    redeem: int   # at the holder's jetton wallet, with burn


@dataclass(frozen=True)
class Book:
    next_policy_id: int
    next_deposit_id: int
    paid_claims: int
    in_flight: int  # premiums held until their shard stores the policy (deposits join capital at once)


@dataclass(frozen=True)
class PendingPolicy:
    holder: Address
    premium: int  # held by the vault: the premium without the rent, which travels to the shard
    coverage: int
    end: int


def validate_tranches(tranches: tuple[Tranche, ...]) -> None:
    ids = [t.id for t in tranches]
    if len(set(ids)) != len(ids) or not all(0 < i < 256 for i in ids):
        raise ValueError(f"tranche ids must be distinct and in 1..255, got {ids}")
    if sum(t.allocation_bps for t in tranches) != 10000:
        raise ValueError("tranche allocations must add up to 10000 bps")
    for t in tranches:
        if not 0 <= t.apy_min_bps <= t.apy_max_bps < 2**16:
            raise ValueError(f"tranche {t.id}: APY range {t.apy_min_bps}-{t.apy_max_bps} bps is invalid")


def tranches_dict(tranches: tuple[Tranche, ...]) -> Cell | None:
    entries = HashMap(8, value_serializer=lambda t, b: (
        b.store_uint(t.allocation_bps, 16).store_uint(t.apy_min_bps, 16).store_uint(t.apy_max_bps, 16)
        .store_uint(t.curve, 8).store_uint(t.lock_period, 32).store_coins(0).store_coins(0).store_coins(0)  # capital, shares, queued
        .store_ref(t.content)))
    for tranche in tranches:
        entries.set_int_key(tranche.id, tranche)
    return entries.serialize()


def validate_params(cfg: MultiTrancheVaultConfig) -> None:
    if cfg.shard_count not in (16, 256):
        raise ValueError(f"shard count must be 16 or 256, got {cfg.shard_count}")
    if not 0 < cfg.utilization_cap_bps <= 10000:
        raise ValueError(f"utilization cap must be 1..10000 bps, got {cfg.utilization_cap_bps}")
    if not 0 <= cfg.treasury_share_bps <= 10000:
        raise ValueError(f"treasury share must be 0..10000 bps, got {cfg.treasury_share_bps}")


def init_data(cfg: MultiTrancheVaultConfig) -> Cell:
    validate_tranches(cfg.tranches)
    validate_params(cfg)
    return (begin_cell()
            .store_address(cfg.admin)
            .store_address(None)  # pending_admin
            .store_bit(cfg.paused)
            .store_coins(0)  # total_capital
            .store_coins(0)  # coverage_sold
            .store_coins(0)  # in_flight
            .store_dict(tranches_dict(cfg.tranches))
            .store_ref(begin_cell()
                       .store_address(cfg.claims_processor).store_address(cfg.oracle).store_address(cfg.treasury)
                       .store_uint(cfg.utilization_cap_bps, 16).store_uint(cfg.treasury_share_bps, 16)
                       .store_uint(cfg.shard_count, 16)
                       .end_cell())
            .store_ref(begin_cell()
                       .store_uint(1, 64)  # next_policy_id
                       .store_uint(1, 64)  # next_deposit_id (0 never names a deposit)
                       .store_coins(0)  # paid_claims
                       .store_uint(0, 16)  # claims_in_flight
                       .store_dict(None).store_dict(None).store_dict(None)  # coverage by day, pending policies, deposits
                       .end_cell())
            .store_ref(begin_cell()
                       .store_ref(load_artifact(MINTER_ARTIFACT).code)
                       .store_ref(load_artifact(WALLET_ARTIFACT).code)
                       .store_ref(load_artifact(SHARD_ARTIFACT).code)
                       .end_cell())
            .end_cell())


def token_config(vault: Address, tranche: Tranche) -> SureTokenConfig:
    return SureTokenConfig(vault=vault, tranche_id=tranche.id, lock_period=tranche.lock_period,
                           content=tranche.content)


def token_deployment(vault: Address, tranche: Tranche) -> Deployment:
    """The SureToken minter of `tranche`: the address the vault derives and the StateInit that deploys it."""
    return SureTokenMinter.from_config(token_config(vault, tranche))


class MultiTrancheVault(ContractWrapper, AdminOps, PauseOps):
    @staticmethod
    def from_config(cfg: MultiTrancheVaultConfig) -> Deployment:
        return deployment(load_artifact(ARTIFACT).code, init_data(cfg))

    # ---- message bodies --------------------------------------------------------------------------
    @staticmethod
    def build_deposit_body(tranche_id: int, query_id: int = 0) -> Cell:
        """Deposit the attached value minus Fees.deposit into a tranche, for tokens at the tranche's share price."""
        return body(Op.DEPOSIT, query_id).store_uint(tranche_id, 8).end_cell()

    @staticmethod
    def build_pay_claim_body(policy_id: int, amount: int, query_id: int = 0) -> Cell:
        """Claims processor only: pay `amount` (at most the coverage) on a stored, unexpired policy, once."""
        return body(Op.PAY_CLAIM, query_id).store_uint(policy_id, 64).store_coins(amount).end_cell()

    @staticmethod
    def build_set_address_body(op: Op, address: Address | None, query_id: int = 0) -> Cell:
        """Admin only: SET_CLAIMS_PROCESSOR, SET_ORACLE or SET_TREASURY."""
        return body(op, query_id).store_address(address).end_cell()

    @staticmethod
    def build_set_params_body(utilization_cap_bps: int, treasury_share_bps: int, query_id: int = 0) -> Cell:
        return body(Op.SET_PARAMS, query_id).store_uint(utilization_cap_bps, 16).store_uint(treasury_share_bps, 16).end_cell()

    @staticmethod
    def build_recover_shard_body(shard_id: int, query_id: int = 0) -> Cell:
        """Admin only: the shard sends its TON above its reserve to the vault (then `recover` from the vault)."""
        return body(Op.RECOVER_SHARD, query_id).store_uint(shard_id, 16).end_cell()

    # ---- getters ---------------------------------------------------------------------------------
    def get_admin(self, run: RunGetMethod) -> Address:
        return self._get_address(run, "get_admin")

    def get_claims_processor(self, run: RunGetMethod) -> Address:
        return self._get_address(run, "get_claims_processor")

    def get_pending_admin(self, run: RunGetMethod) -> Address | None:
        return self._get_address(run, "get_pending_admin")

    def get_oracle(self, run: RunGetMethod) -> Address:
        return self._get_address(run, "get_oracle")

    def get_treasury(self, run: RunGetMethod) -> Address:
        return self._get_address(run, "get_treasury")

    def get_params(self, run: RunGetMethod) -> tuple[int, int, int]:
        """(utilization_cap_bps, treasury_share_bps, shard_count)"""
        return tuple(self._get(run, "get_params"))

    def get_book(self, run: RunGetMethod) -> Book:
        return Book(*self._get(run, "get_book"))

    def get_fees(self, run: RunGetMethod) -> Fees:
        return Fees(*self._get(run, "get_fees"))

    def get_policy_rent(self, run: RunGetMethod, duration_days: int) -> int:
        """The rent a policy of `duration_days` pays its shard (premium_due's `rent`), at today's prices."""
        return self._get_int(run, "get_policy_rent", duration_days)

    def get_shard_address(self, run: RunGetMethod, shard_id: int) -> Address:
        return self._get_address(run, "get_shard_address", shard_id)

    def get_pending_policy(self, run: RunGetMethod, policy_id: int) -> PendingPolicy | None:
        found, holder, premium, coverage, end = self._get(run, "get_pending_policy", policy_id)
        return PendingPolicy(read_address(holder), premium, coverage, end) if found else None

    def is_paused(self, run: RunGetMethod) -> bool:
        return self._get_bool(run, "is_paused")

    def get_total_capital(self, run: RunGetMethod) -> int:
        return self._get_int(run, "get_total_capital")

    def get_claims_in_flight(self, run: RunGetMethod) -> int:
        """Claims sent to a shard and not answered yet; redemptions are refused while it is above 0."""
        return self._get_int(run, "get_claims_in_flight")

    def get_total_coverage_sold(self, run: RunGetMethod) -> int:
        return self._get_int(run, "get_total_coverage_sold")

    def get_utilization_bps(self, run: RunGetMethod) -> int:
        return self._get_int(run, "get_utilization")

    def get_tranche_count(self, run: RunGetMethod) -> int:
        return self._get_int(run, "get_tranche_count")

    def get_tranche(self, run: RunGetMethod, tranche_id: int) -> TrancheState:
        allocation, apy_min, apy_max, curve, lock, capital, shares, token = self._get(run, "get_tranche", tranche_id)
        return TrancheState(allocation, apy_min, apy_max, Curve(curve), lock, capital, shares, read_address(token))

    def get_queued_shares(self, run: RunGetMethod, tranche_id: int) -> int:
        """Shares of the tranche in queued redemptions (they keep sharing yield and losses until paid)."""
        return self._get_int(run, "get_queued_shares", tranche_id)

    def get_reserved_capital(self, run: RunGetMethod) -> int:
        """Capital of queued redemptions at today's share prices: no new policy is backed by it."""
        return self._get_int(run, "get_reserved_capital")

    def get_queue_due_time(self, run: RunGetMethod) -> int:
        """When a redemption queued now would be due: the end of the coverage in force or pending."""
        return self._get_int(run, "get_queue_due_time")

    def get_tranche_token_address(self, run: RunGetMethod, tranche_id: int) -> Address:
        return self._get_address(run, "get_tranche_token_address", tranche_id)
