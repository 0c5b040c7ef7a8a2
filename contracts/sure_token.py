"""SureToken wrappers: the TEP-74 jetton minter (one per vault tranche) and its jetton wallet.

The minter's init data is fully determined by (vault address, tranche id, lock period, content, wallet code),
all of which the vault holds, so the vault derives each minter's address on chain and
SureTokenMinter.for_tranche computes the same address offline.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import IntEnum

from pytoniq_core import Address, Cell, HashMap, StateInit, begin_cell

from contracts.base import (
    ContractWrapper, Deployment, RunGetMethod, address_arg, body, deployment, load_artifact, read_address,
)

MINTER_ARTIFACT = "SureTokenMinter"
WALLET_ARTIFACT = "SureTokenWallet"
DECIMALS = 9
JETTON_MIN_STORAGE = 10_000_000  # nanotons a jetton wallet keeps for its storage rent (common.fc)


class Op(IntEnum):
    MINT = 0x1E5A0301
    REDEEM = 0x1E5A0303
    RESTORE_TOKENS = 0x1E5A0304
    MINT_FAILED = 0x1E5A0305
    WITHDRAW_TON = 0x1E5A0306
    WITHDRAW_QUEUED = 0x1E5A0307
    RESTORE_QUEUED = 0x1E5A0308
    WITHDRAW_NOTIFICATION = 0x1E5A0309
    # TEP-74
    TRANSFER = 0x0F8A7EA5
    TRANSFER_NOTIFICATION = 0x7362D09C
    INTERNAL_TRANSFER = 0x178D4519
    EXCESSES = 0xD53276DB
    BURN = 0x595F07BC
    BURN_NOTIFICATION = 0x7BDD97DE
    # TEP-89
    PROVIDE_WALLET_ADDRESS = 0x2C76B973
    TAKE_WALLET_ADDRESS = 0xD1735400


@dataclass(frozen=True)
class SureTokenConfig:
    vault: Address  # the minter's admin
    tranche_id: int
    lock_period: int  # seconds
    content: Cell  # TEP-64 metadata, see token_content()


@dataclass(frozen=True)
class JettonData:
    total_supply: int
    mintable: bool
    admin: Address
    content: Cell
    wallet_code: Cell


@dataclass(frozen=True)
class WalletData:
    balance: int
    owner: Address
    minter: Address
    wallet_code: Cell


@dataclass(frozen=True)
class QueuedRedemption:
    amount: int  # tokens of a redemption the vault queued (not transferable)
    due: int     # unix time from which withdraw_queued pays it (0 when nothing is queued)


@dataclass(frozen=True)
class LockInfo:
    lock_period: int
    locked_until: int
    locked_amount: int  # of the balance, still locked now (0 once locked_until passed)


def _snake_text(text: str) -> Cell:
    return begin_cell().store_uint(0, 8).store_snake_string(text).end_cell()


def token_content(symbol: str, name: str, description: str) -> Cell:
    """TEP-64 on-chain metadata: onchain#00 (HashmapE 256 ^ContentData) keyed by sha256 of the field name."""
    fields = {"name": name, "symbol": symbol, "description": description, "decimals": str(DECIMALS)}
    entries = HashMap(256, value_serializer=lambda value, builder: builder.store_ref(value))
    for key, text in fields.items():
        entries.set_int_key(int.from_bytes(hashlib.sha256(key.encode()).digest(), "big"), _snake_text(text))
    return begin_cell().store_uint(0, 8).store_dict(entries.serialize()).end_cell()


def minter_init_data(cfg: SureTokenConfig) -> Cell:
    return (begin_cell()
            .store_coins(0)
            .store_address(cfg.vault)
            .store_uint(cfg.tranche_id, 8)
            .store_uint(cfg.lock_period, 32)
            .store_ref(cfg.content)
            .store_ref(load_artifact(WALLET_ARTIFACT).code)
            .end_cell())


def wallet_init_data(owner: Address, minter: Address, lock_period: int) -> Cell:
    return (begin_cell()
            .store_coins(0)
            .store_address(owner)
            .store_address(minter)
            .store_uint(lock_period, 32)
            .store_uint(0, 32)  # locked_until
            .store_coins(0)  # locked_amount
            .store_coins(0)  # queued
            .store_uint(0, 32)  # queued_until
            .store_ref(load_artifact(WALLET_ARTIFACT).code)
            .end_cell())


class SureTokenMinter(ContractWrapper):
    @staticmethod
    def from_config(cfg: SureTokenConfig) -> Deployment:
        return deployment(load_artifact(MINTER_ARTIFACT).code, minter_init_data(cfg))

    @staticmethod
    def build_mint_body(to: Address, amount: int, response: Address | None, query_id: int = 0) -> Cell:
        """Vault only: mint `amount` to the jetton wallet of `to`; the wallet's excesses go to `response`."""
        return body(Op.MINT, query_id).store_coins(amount).store_address(to).store_address(response).end_cell()

    @staticmethod
    def build_provide_wallet_address_body(owner: Address | None, include_address: bool, query_id: int = 0) -> Cell:
        """TEP-89: anyone; the minter answers take_wallet_address to the sender."""
        return body(Op.PROVIDE_WALLET_ADDRESS, query_id).store_address(owner).store_bit(include_address).end_cell()

    def get_jetton_data(self, run: RunGetMethod) -> JettonData:
        total_supply, mintable, admin, content, wallet_code = self._get(run, "get_jetton_data")
        return JettonData(total_supply, mintable != 0, read_address(admin), content, wallet_code)

    def get_wallet_address(self, run: RunGetMethod, owner: Address) -> Address:
        return self._get_address(run, "get_wallet_address", address_arg(owner))

    def get_tranche_id(self, run: RunGetMethod) -> int:
        return self._get_int(run, "get_tranche_id")

    def get_lock_period(self, run: RunGetMethod) -> int:
        return self._get_int(run, "get_lock_period")


class SureTokenWallet(ContractWrapper):
    @staticmethod
    def state_init(owner: Address, minter: Address, lock_period: int) -> StateInit:
        return StateInit(code=load_artifact(WALLET_ARTIFACT).code, data=wallet_init_data(owner, minter, lock_period))

    @staticmethod
    def address_of(owner: Address, minter: Address, lock_period: int) -> Address:
        """The jetton wallet address the minter computes for `owner` (get_wallet_address), offline."""
        return deployment(load_artifact(WALLET_ARTIFACT).code, wallet_init_data(owner, minter, lock_period)).address

    @staticmethod
    def build_transfer_body(amount: int, destination: Address, response: Address | None,
                            forward_ton_amount: int = 0, forward_payload: Cell | None = None,
                            query_id: int = 0) -> Cell:
        """Owner only (TEP-74 transfer); refused while the wallet is locked."""
        builder = (body(Op.TRANSFER, query_id)
                   .store_coins(amount)
                   .store_address(destination)
                   .store_address(response)
                   .store_maybe_ref(None)  # custom_payload
                   .store_coins(forward_ton_amount))
        if forward_payload is None:
            builder.store_bit(0)
        else:
            builder.store_bit(1).store_ref(forward_payload)
        return builder.end_cell()

    @staticmethod
    def build_burn_body(amount: int, response: Address | None, query_id: int = 0) -> Cell:
        """Owner only (TEP-74 burn): redeems `amount` at the vault; attach the vault's Fees.redeem."""
        return body(Op.BURN, query_id).store_coins(amount).store_address(response).store_maybe_ref(None).end_cell()

    @staticmethod
    def build_withdraw_ton_body(query_id: int = 0) -> Cell:
        """Owner only: the wallet's TON above JETTON_MIN_STORAGE (what it keeps for rent) to the owner."""
        return body(Op.WITHDRAW_TON, query_id).end_cell()

    @staticmethod
    def build_withdraw_queued_body(query_id: int = 0) -> Cell:
        """Owner only: withdraw the queued redemption once due (get_queued_redemption); attach Fees.redeem."""
        return body(Op.WITHDRAW_QUEUED, query_id).end_cell()

    def get_queued_redemption(self, run: RunGetMethod) -> QueuedRedemption:
        return QueuedRedemption(*self._get(run, "get_queued_redemption"))

    def get_wallet_data(self, run: RunGetMethod) -> WalletData:
        balance, owner, minter, wallet_code = self._get(run, "get_wallet_data")
        return WalletData(balance, read_address(owner), read_address(minter), wallet_code)

    def get_lock_info(self, run: RunGetMethod) -> LockInfo:
        return LockInfo(*self._get(run, "get_lock_info"))
