"""PricingOracle wrapper: init data, address, message bodies and getters (layout: contracts/README.md)."""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from pytoniq_core import Address, Cell, HashMap, begin_cell

from contracts.base import (
    WORKCHAIN, AdminOps, ContractWrapper, CoverageType, Deployment, RunGetMethod, address_arg, body, deployment,
    load_artifact,
)

ARTIFACT = "PricingOracle"
MAX_STALENESS = 300  # seconds


class Op(IntEnum):
    UPDATE_PRICE = 0x1E5A0101
    ADD_KEEPER = 0x1E5A0102
    REMOVE_KEEPER = 0x1E5A0103
    QUOTE = 0x1E5A0104
    QUOTE_RESPONSE = 0x1E5A0105
    SET_MAX_STALENESS = 0x1E5A0106


@dataclass(frozen=True)
class PricingOracleConfig:
    admin: Address
    keepers: tuple[Address, ...]
    max_staleness: int = MAX_STALENESS


@dataclass(frozen=True)
class Price:
    price: int       # annual premium rate in parts per billion of the coverage (contracts.base.PRICE_SCALE)
    updated_at: int  # unix time; 0 when never published
    seq: int = 0     # the keeper's sequence number of this price; updates must increase it


def keepers_dict(keepers: tuple[Address, ...]) -> Cell | None:
    """HashmapE 256 keyed by account id, empty values. Keepers must be on workchain 0."""
    entries = HashMap(256, value_serializer=lambda _value, builder: builder)
    for keeper in keepers:
        if keeper.wc != WORKCHAIN:
            raise ValueError(f"keeper {keeper.to_str(is_user_friendly=False)} is not on workchain {WORKCHAIN}")
        entries.set_int_key(int.from_bytes(keeper.hash_part, "big"), None)
    return entries.serialize()


def init_data(cfg: PricingOracleConfig) -> Cell:
    unique = tuple({k.to_str(is_user_friendly=False): k for k in cfg.keepers}.values())
    return (begin_cell()
            .store_address(cfg.admin)
            .store_address(None)  # pending_admin
            .store_dict(keepers_dict(unique))
            .store_uint(len(unique), 16)
            .store_uint(0, 32)  # last_update
            .store_uint(cfg.max_staleness, 32)
            .store_dict(None)  # prices
            .end_cell())


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

    @staticmethod
    def build_add_keeper_body(keeper: Address, query_id: int = 0) -> Cell:
        return body(Op.ADD_KEEPER, query_id).store_address(keeper).end_cell()

    @staticmethod
    def build_remove_keeper_body(keeper: Address, query_id: int = 0) -> Cell:
        return body(Op.REMOVE_KEEPER, query_id).store_address(keeper).end_cell()

    # ---- getters ---------------------------------------------------------------------------------
    def get_admin(self, run: RunGetMethod) -> Address:
        return self._get_address(run, "get_admin")

    def get_pending_admin(self, run: RunGetMethod) -> Address | None:
        return self._get_address(run, "get_pending_admin")

    def is_keeper(self, run: RunGetMethod, address: Address) -> bool:
        return self._get_bool(run, "is_keeper", address_arg(address))

    def get_keeper_count(self, run: RunGetMethod) -> int:
        return self._get_int(run, "get_keeper_count")

    def get_price(self, run: RunGetMethod, coverage_type: CoverageType | int) -> Price:
        price, updated_at, seq = self._get(run, "get_price", int(coverage_type))
        return Price(price, updated_at, seq)

    def get_last_update(self, run: RunGetMethod) -> int:
        return self._get_int(run, "get_last_update")

    def get_max_staleness(self, run: RunGetMethod) -> int:
        return self._get_int(run, "get_max_staleness")

    def is_fresh(self, run: RunGetMethod) -> bool:
        return self._get_bool(run, "is_fresh")
