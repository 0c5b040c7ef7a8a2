"""MultiTrancheVault wrapper: the six tranches, init data, address, message bodies and getters.

The vault derives each tranche's SureToken minter address on chain from the SureToken code it holds;
token_deployment() computes the same address (and the StateInit the deployment sends) offline.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from pytoniq_core import Address, Cell, HashMap, begin_cell

from contracts.base import (
    TON, ContractWrapper, Deployment, RunGetMethod, body, build_change_admin_body, build_pause_body,
    build_unpause_body, deployment, load_artifact, read_address,
)
from contracts.sure_token import MINTER_ARTIFACT, WALLET_ARTIFACT, SureTokenConfig, SureTokenMinter, token_content

ARTIFACT = "MultiTrancheVault"
DAY = 86400
DEPOSIT_FEE = TON // 10  # taken from every deposit for the mint chain; the unused part returns to the depositor


class Op(IntEnum):
    DEPOSIT = 0x1E5A0201
    RECORD_COVERAGE = 0x1E5A0202


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
    tranches: tuple[Tranche, ...] = TRANCHES


@dataclass(frozen=True)
class TrancheState:
    allocation_bps: int
    apy_min_bps: int
    apy_max_bps: int
    curve: Curve
    lock_period: int
    capital: int
    token: Address


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
        .store_uint(t.curve, 8).store_uint(t.lock_period, 32).store_coins(0).store_ref(t.content)))
    for tranche in tranches:
        entries.set_int_key(tranche.id, tranche)
    return entries.serialize()


def init_data(cfg: MultiTrancheVaultConfig) -> Cell:
    validate_tranches(cfg.tranches)
    return (begin_cell()
            .store_address(cfg.admin)
            .store_bit(0)  # paused
            .store_coins(0)  # total_capital
            .store_coins(0)  # total_coverage_sold
            .store_dict(tranches_dict(cfg.tranches))
            .store_ref(begin_cell().store_address(cfg.claims_processor).store_address(cfg.oracle).end_cell())
            .store_ref(begin_cell()
                       .store_ref(load_artifact(MINTER_ARTIFACT).code)
                       .store_ref(load_artifact(WALLET_ARTIFACT).code)
                       .end_cell())
            .end_cell())


def token_config(vault: Address, tranche: Tranche) -> SureTokenConfig:
    return SureTokenConfig(vault=vault, tranche_id=tranche.id, lock_period=tranche.lock_period,
                           content=tranche.content)


def token_deployment(vault: Address, tranche: Tranche) -> Deployment:
    """The SureToken minter of `tranche`: the address the vault derives and the StateInit that deploys it."""
    return SureTokenMinter.from_config(token_config(vault, tranche))


class MultiTrancheVault(ContractWrapper):
    @staticmethod
    def from_config(cfg: MultiTrancheVaultConfig) -> Deployment:
        return deployment(load_artifact(ARTIFACT).code, init_data(cfg))

    # ---- message bodies --------------------------------------------------------------------------
    @staticmethod
    def build_deposit_body(tranche_id: int, query_id: int = 0) -> Cell:
        """Deposit the attached value minus DEPOSIT_FEE into a tranche; mints as many of its tokens."""
        return body(Op.DEPOSIT, query_id).store_uint(tranche_id, 8).end_cell()

    @staticmethod
    def build_record_coverage_body(sold: int, released: int, query_id: int = 0) -> Cell:
        """Claims processor only: coverage sold and coverage released since the last report."""
        return body(Op.RECORD_COVERAGE, query_id).store_coins(sold).store_coins(released).end_cell()

    build_pause_body = staticmethod(build_pause_body)
    build_unpause_body = staticmethod(build_unpause_body)
    build_change_admin_body = staticmethod(build_change_admin_body)

    # ---- getters ---------------------------------------------------------------------------------
    def get_admin(self, run: RunGetMethod) -> Address:
        return self._get_address(run, "get_admin")

    def get_claims_processor(self, run: RunGetMethod) -> Address:
        return self._get_address(run, "get_claims_processor")

    def get_oracle(self, run: RunGetMethod) -> Address:
        return self._get_address(run, "get_oracle")

    def is_paused(self, run: RunGetMethod) -> bool:
        return self._get_bool(run, "is_paused")

    def get_total_capital(self, run: RunGetMethod) -> int:
        return self._get_int(run, "get_total_capital")

    def get_total_coverage_sold(self, run: RunGetMethod) -> int:
        return self._get_int(run, "get_total_coverage_sold")

    def get_utilization_bps(self, run: RunGetMethod) -> int:
        return self._get_int(run, "get_utilization")

    def get_tranche_count(self, run: RunGetMethod) -> int:
        return self._get_int(run, "get_tranche_count")

    def get_tranche(self, run: RunGetMethod, tranche_id: int) -> TrancheState:
        allocation, apy_min, apy_max, curve, lock, capital, token = self._get(run, "get_tranche", tranche_id)
        return TrancheState(allocation, apy_min, apy_max, Curve(curve), lock, capital, read_address(token))

    def get_tranche_token_address(self, run: RunGetMethod, tranche_id: int) -> Address:
        return self._get_address(run, "get_tranche_token_address", tranche_id)
