"""PricingOracle wrapper: init data, address, message bodies and getters (layout: contracts/README.md)."""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from pytoniq_core import Address, Cell, HashMap, begin_cell

from contracts.base import (
    PRICE_SCALE, WORKCHAIN, AdminOps, ContractWrapper, CoverageType, Deployment, RunGetMethod, address_arg, body,
    deployment, load_artifact,
)

ARTIFACT = "PricingOracle"
MAX_STALENESS = 300  # seconds
MAX_SEQ_STEP = 2**32  # an update's seq is above the stored one by at most this (pricing_oracle.fc)
# A keeper's price must lie within its type's bounds (annual rate, parts per billion). Every type starts with
# these; the admin changes them by message (set_price_bounds): 0.1% .. 100% a year.
DEFAULT_MIN_PRICE = 1_000_000
DEFAULT_MAX_PRICE = PRICE_SCALE


class Op(IntEnum):
    UPDATE_PRICE = 0x1E5A0101
    ADD_KEEPER = 0x1E5A0102
    REMOVE_KEEPER = 0x1E5A0103
    QUOTE = 0x1E5A0104
    QUOTE_RESPONSE = 0x1E5A0105
    SET_MAX_STALENESS = 0x1E5A0106
    REPLACE_KEEPER = 0x1E5A0107
    SET_PRICE_BOUNDS = 0x1E5A0108
    RESET_PRICE = 0x1E5A0109


@dataclass(frozen=True)
class PricingOracleConfig:
    """The oracle's init data: the admin and fixed parameters only. Keepers are not here: the set starts
    empty and the admin changes it by message (add/remove/replace_keeper), so it never moves the address."""
    admin: Address
    max_staleness: int = MAX_STALENESS
    min_price: int = DEFAULT_MIN_PRICE  # initial bounds of every coverage type
    max_price: int = DEFAULT_MAX_PRICE


@dataclass(frozen=True)
class Price:
    price: int       # annual premium rate in parts per billion of the coverage (contracts.base.PRICE_SCALE)
    updated_at: int  # unix time; 0 when never published
    seq: int = 0     # the keeper's sequence number of this price; updates must increase it


def bounds_dict(min_price: int, max_price: int) -> Cell | None:
    """HashmapE 8: coverage type -> min_price:uint64 max_price:uint64, the same bounds for every type."""
    if not 0 < min_price <= max_price < 2**64:
        raise ValueError(f"price bounds must satisfy 0 < min <= max < 2^64, got {min_price}..{max_price}")
    entries = HashMap(8, value_serializer=lambda bounds, builder: builder.store_uint(bounds[0], 64)
                      .store_uint(bounds[1], 64))
    for coverage_type in CoverageType:
        entries.set_int_key(int(coverage_type), (min_price, max_price))
    return entries.serialize()


def init_data(cfg: PricingOracleConfig) -> Cell:
    if not 0 < cfg.max_staleness <= 86400:
        raise ValueError(f"max staleness must be 1..86400 seconds, got {cfg.max_staleness}")
    return (begin_cell()
            .store_address(cfg.admin)
            .store_address(None)  # pending_admin
            .store_dict(None)  # keepers: none until the admin adds them
            .store_uint(0, 16)  # keeper_count
            .store_uint(0, 32)  # last_update
            .store_uint(cfg.max_staleness, 32)
            .store_dict(None)  # prices
            .store_dict(bounds_dict(cfg.min_price, cfg.max_price))
            .end_cell())


def _keeper(keeper: Address) -> Address:
    if keeper.wc != WORKCHAIN:
        raise ValueError(f"keeper {keeper.to_str(is_user_friendly=False)} is not on workchain {WORKCHAIN}")
    return keeper


class PricingOracle(ContractWrapper, AdminOps):
    @staticmethod
    def from_config(cfg: PricingOracleConfig) -> Deployment:
        return deployment(load_artifact(ARTIFACT).code, init_data(cfg))

    # ---- message bodies --------------------------------------------------------------------------
    @staticmethod
    def build_update_price_body(coverage_type: CoverageType | int, price: int, seq: int, query_id: int = 0) -> Cell:
        """Keeper only; `seq` must exceed the sequence of the stored price of this type (else 418)."""
        return (body(Op.UPDATE_PRICE, query_id).store_uint(coverage_type, 8).store_uint(price, 64)
                .store_uint(seq, 64).end_cell())

    @staticmethod
    def build_quote_body(coverage_type: CoverageType | int, destination: Address, payload: Cell,
                         query_id: int = 0) -> Cell:
        """Anyone: the oracle forwards `payload` with its price of `coverage_type` to `destination`."""
        return (body(Op.QUOTE, query_id).store_uint(coverage_type, 8).store_address(destination)
                .store_ref(payload).end_cell())

    @staticmethod
    def build_set_max_staleness_body(seconds: int, query_id: int = 0) -> Cell:
        return body(Op.SET_MAX_STALENESS, query_id).store_uint(seconds, 32).end_cell()

    # Keeper set (admin only; each keeps every address): adding a keeper twice or removing a non-keeper
    # changes nothing; replace removes `old` (if it is a keeper) and adds `new` in one message.
    @staticmethod
    def build_add_keeper_body(keeper: Address, query_id: int = 0) -> Cell:
        return body(Op.ADD_KEEPER, query_id).store_address(_keeper(keeper)).end_cell()

    @staticmethod
    def build_remove_keeper_body(keeper: Address, query_id: int = 0) -> Cell:
        return body(Op.REMOVE_KEEPER, query_id).store_address(_keeper(keeper)).end_cell()

    @staticmethod
    def build_replace_keeper_body(old: Address, new: Address, query_id: int = 0) -> Cell:
        return (body(Op.REPLACE_KEEPER, query_id).store_address(_keeper(old)).store_address(_keeper(new))
                .end_cell())

    @staticmethod
    def build_set_price_bounds_body(coverage_type: CoverageType | int, min_price: int, max_price: int,
                                    query_id: int = 0) -> Cell:
        """Admin only: keepers' prices of this type must lie within min..max (0 < min <= max, else 420)."""
        return (body(Op.SET_PRICE_BOUNDS, query_id).store_uint(coverage_type, 8).store_uint(min_price, 64)
                .store_uint(max_price, 64).end_cell())

    @staticmethod
    def build_reset_price_body(coverage_type: CoverageType | int, query_id: int = 0) -> Cell:
        """Admin only: forget the type's price and sequence; keepers publish again from seq 1."""
        return body(Op.RESET_PRICE, query_id).store_uint(coverage_type, 8).end_cell()

    # ---- getters ---------------------------------------------------------------------------------
    def get_admin(self, run: RunGetMethod) -> Address:
        return self._get_address(run, "get_admin")

    def get_pending_admin(self, run: RunGetMethod) -> Address | None:
        return self._get_address(run, "get_pending_admin")

    def is_keeper(self, run: RunGetMethod, address: Address) -> bool:
        return self._get_bool(run, "is_keeper", address_arg(address))

    def get_keeper_count(self, run: RunGetMethod) -> int:
        return self._get_int(run, "get_keeper_count")

    def get_keepers(self, run: RunGetMethod) -> tuple[Address, ...]:
        """The keeper set, in account-id order (empty right after deployment)."""
        cell = self._get(run, "get_keepers")[0]
        if not isinstance(cell, Cell):
            return ()
        keys = HashMap.parse(cell.begin_parse(), 256, value_deserializer=lambda s: None)
        return tuple(Address((WORKCHAIN, key.to_bytes(32, "big"))) for key in sorted(keys))

    def get_price_bounds(self, run: RunGetMethod, coverage_type: CoverageType | int) -> tuple[int, int]:
        """(min_price, max_price) of a coverage type."""
        low, high = self._get(run, "get_price_bounds", int(coverage_type))
        return low, high

    def get_price(self, run: RunGetMethod, coverage_type: CoverageType | int) -> Price:
        price, updated_at, seq = self._get(run, "get_price", int(coverage_type))
        return Price(price, updated_at, seq)

    def get_last_update(self, run: RunGetMethod) -> int:
        return self._get_int(run, "get_last_update")

    def get_max_staleness(self, run: RunGetMethod) -> int:
        return self._get_int(run, "get_max_staleness")

    def is_fresh(self, run: RunGetMethod) -> bool:
        return self._get_bool(run, "is_fresh")
