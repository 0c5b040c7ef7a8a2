"""The keepers' work: the pricing keeper signs real price updates to the oracle on localnet with its own
wallet (the journaled v4r2 wallet of chain/wallets.py, the same send protocol as the deployer's); the
bridge-health keeper checks (simulated) bridges. Both report their wallet's balance from the chain."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from pytoniq_core import Address

from chain.client import ChainClient
from chain.wallets import SendError, Transfer, WalletKey, WalletV4R2
from contracts.base import TON, CoverageType
from contracts.pricing_oracle import PricingOracle
from localcluster.standins.chainview import ORACLE

log = logging.getLogger(__name__)

UPDATE_VALUE = TON // 100  # attached to each update; the oracle's gas is about 0.002 TON (contracts/README.md)
TYPES_PER_MESSAGE = 4  # a v4r2 message carries up to four transfers
# Annual premium rates in parts per billion, before the keeper's small drift (the real keeper reads market data).
BASE_PRICES = {CoverageType.DEPEG: 8_000_000, CoverageType.SMART_CONTRACT: 15_000_000,
               CoverageType.ORACLE_FAILURE: 10_000_000, CoverageType.BRIDGE_HACK: 25_000_000,
               CoverageType.CEX_LIQUIDATION: 20_000_000}
FAUCET_BELOW = TON  # localnet: a keeper wallet below this is topped up from the faucet
FAUCET_AMOUNT = 5 * TON
BRIDGES = ("ethereum", "bsc", "polygon", "arbitrum")
GAS_WINDOW = 10  # updates averaged in avg_gas_cost_ton


@dataclass
class UpdateOutcome:
    ok: bool
    seconds: float
    fees_ton: float
    detail: str


@dataclass
class PricingKeeper:
    client: ChainClient
    key: WalletKey
    journal: Path
    addresses: dict[str, str]
    cycle: int = 0
    recent_fees: list[float] = field(default_factory=list)

    def __post_init__(self):
        self.wallet = WalletV4R2(self.client, self.key, self.journal)
        self.oracle = PricingOracle(Address(self.addresses[ORACLE]))

    def fund_if_low(self) -> None:
        """Localnet only: keep the wallet able to pay (an operator tops up a real keeper's wallet)."""
        if self.client.account(self.wallet.address).balance < FAUCET_BELOW and hasattr(self.client, "fund"):
            self.client.fund(self.wallet.address, FAUCET_AMOUNT)

    def next_types(self) -> list[CoverageType]:
        """Four of the five coverage types per update, in turn: each is refreshed at least every second cycle."""
        types = list(CoverageType)
        start = (self.cycle * TYPES_PER_MESSAGE) % len(types)
        return [types[(start + i) % len(types)] for i in range(TYPES_PER_MESSAGE)]

    def update(self, stale_sequence: bool = False) -> UpdateOutcome:
        """Publish prices for the next types; `stale_sequence` repeats the stored sequence number, which the
        oracle refuses (exit 418): a keeper failing for real, on chain."""
        started = time.monotonic()
        run = self.client.run_get_method
        self.fund_if_low()
        types = self.next_types()
        stored = {t: self.oracle.get_price(run, t).seq for t in types}
        sequences = {t: stored[t] + (0 if stale_sequence else 1) for t in types}
        drift = (self.cycle % 7) - 3  # a small, bounded movement of the price, in tenths of a percent
        transfers = [Transfer(self.oracle.address, UPDATE_VALUE, PricingOracle.build_update_price_body(
            t, BASE_PRICES[t] * (1000 + drift) // 1000, sequences[t])) for t in types]
        intent = "prices:" + ",".join(f"{int(t)}@{sequences[t]}" for t in types)
        self.cycle += 1
        try:
            result = self.wallet.send(transfers, intent_id=intent, wait_seconds=60)
        except SendError as err:
            return UpdateOutcome(False, time.monotonic() - started, 0.0, f"send failed: {err}")
        fees = result.fees / TON
        landed = all(self.oracle.get_price(run, t).seq == sequences[t] > stored[t] for t in types)
        if landed:
            self.recent_fees = (self.recent_fees + [fees])[-GAS_WINDOW:]
        detail = "published" if landed else "the oracle refused the update"
        return UpdateOutcome(landed, time.monotonic() - started, fees, f"{detail}: {intent}")

    def average_gas_ton(self) -> float | None:
        return sum(self.recent_fees) / len(self.recent_fees) if self.recent_fees else None

    def balance_ton(self) -> float:
        return self.client.account(self.wallet.address).balance / TON


def bridge_health(degraded: str) -> dict[str, int]:
    """The bridge-health keeper's view (simulated: no bridge is reachable here): 1 healthy, 0 degraded."""
    return {bridge: 0 if bridge == degraded else 1 for bridge in BRIDGES}
