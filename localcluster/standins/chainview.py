"""What the stand-ins read from the chain, through the same client and contract wrappers as the program:
vault capital, coverage and tranches, the oracle's last update and prices, a wallet's balance. Nothing here
is made up: every figure is a getter or an account of the localnet the stack deployed to."""

from __future__ import annotations

from dataclasses import dataclass

from pytoniq_core import Address

from chain.client import ChainClient
from contracts.base import TON, CoverageType, premium_due
from contracts.multi_tranche_vault import TRANCHES, MultiTrancheVault
from contracts.pricing_oracle import PricingOracle

ORACLE = "PRICING_ORACLE_ADDRESS"  # keys of the contract-addresses ConfigMap (components/contracts.keeper_config)
VAULT = "MULTI_TRANCHE_VAULT_ADDRESS"


@dataclass(frozen=True)
class TrancheFigures:
    name: str  # BTC, SNR, ... (the SURE- symbol without its prefix)
    capital_ton: float
    apy_ratio: float


@dataclass(frozen=True)
class VaultFigures:
    capital_ton: float
    coverage_sold_ton: float
    utilization_ratio: float
    policies_created: int
    tranches: tuple[TrancheFigures, ...]


def vault_figures(client: ChainClient, addresses: dict[str, str]) -> VaultFigures:
    run = client.run_get_method
    vault = MultiTrancheVault(Address(addresses[VAULT]))
    capital, coverage = vault.get_total_capital(run), vault.get_total_coverage_sold(run)
    utilization = coverage / capital if capital else 0.0
    cap_bps = vault.get_params(run)[0]
    tranches = []
    for tranche in TRANCHES:
        state = vault.get_tranche(run, tranche.id)
        # The backend's APY curves are its own; the stand-in moves each tranche from its minimum to its maximum
        # APY (both read from the vault) linearly with utilization up to the cap.
        load = min(1.0, utilization * 10_000 / cap_bps) if cap_bps else 0.0
        apy_bps = state.apy_min_bps + (state.apy_max_bps - state.apy_min_bps) * load
        tranches.append(TrancheFigures(tranche.symbol.removeprefix("SURE-"), state.capital / TON, apy_bps / 10_000))
    return VaultFigures(capital / TON, coverage / TON, utilization, vault.get_book(run).next_policy_id - 1,
                        tuple(tranches))


def oracle_last_update(client: ChainClient, addresses: dict[str, str]) -> int:
    return PricingOracle(Address(addresses[ORACLE])).get_last_update(client.run_get_method)


def quote(client: ChainClient, addresses: dict[str, str], coverage_type: int, coverage: int, days: int) -> dict | None:
    """The premium quote the API answers, from the oracle's current price; None when that price is stale or
    unpublished. The stand-in hedges nothing, so hedge_cost is 0 and the total is the least premium the vault
    accepts (risk premium plus the policy's storage rent, contracts.base.premium_due)."""
    oracle = PricingOracle(Address(addresses[ORACLE]))
    run = client.run_get_method
    price = oracle.get_price(run, CoverageType(coverage_type))
    now = client.now()
    if price.price == 0 or now - price.updated_at >= oracle.get_max_staleness(run):
        return None
    rent = MultiTrancheVault(Address(addresses[VAULT])).get_policy_rent(run, days)
    base = premium_due(coverage, price.price, days, rent)
    return {"base_premium": base, "hedge_cost": 0, "total_premium": base,
            "valid_until": price.updated_at + oracle.get_max_staleness(run)}


def balance_ton(client: ChainClient, address: Address) -> float:
    return client.account(address).balance / TON
