"""Shared fixtures for the contract tests: a fresh in-memory chain per test and deployed contracts.

Every chain is the real TVM (chain.sandbox over pytvm's libemulator) with the mainnet config cell.
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from pytoniq_core import Address, Cell

from chain.records import TxRecord
from chain.sandbox import Sandbox
from contracts.base import TON, CoverageType, Deployment, RunGetMethod, premium_due
from contracts.multi_tranche_vault import TRANCHES, Fees, MultiTrancheVault, MultiTrancheVaultConfig
from contracts.policy_router import PolicyRouter, PolicyRouterConfig
from contracts.policy_shard import PolicyShard
from contracts.pricing_oracle import PricingOracle, PricingOracleConfig
from contracts.sure_token import SureTokenMinter, SureTokenWallet

NOW = 1_760_000_000


def account(tag: str) -> Address:
    """A distinct workchain-0 address for a test actor (no key behind it: the sandbox accepts any sender)."""
    return Address("0:" + tag * 32)


ADMIN = account("a1")
NEW_ADMIN = account("a2")
KEEPER_1 = account("b1")
KEEPER_2 = account("b2")
USER = account("c1")
OTHER_USER = account("c2")
STRANGER = account("d1")
CLAIMS_PROCESSOR = account("e1")
TREASURY = account("e2")
ORACLE = account("e3")


def deploy(sandbox: Sandbox, target: Deployment, value: int = TON) -> list[TxRecord]:
    txs = sandbox.send_internal(sender=ADMIN, to=target.address, value=value, state_init=target.state_init)
    assert txs[0].success, txs[0]
    assert sandbox.account(target.address).status == "active"
    return txs


def with_ref(cell: Cell, index: int, ref: Cell) -> Cell:
    """`cell` with reference `index` replaced: builds a contract whose held code is not the real one."""
    refs = list(cell.refs)
    refs[index] = ref
    return Cell(cell.bits, refs)


def tx_on(txs: list[TxRecord], address: Address) -> TxRecord:
    """The first transaction of `address` among `txs`."""
    return next(tx for tx in txs if tx.address == address)


def txs_on(txs: list[TxRecord], address: Address) -> list[TxRecord]:
    return [tx for tx in txs if tx.address == address]


@dataclass
class Chain:
    """A sandbox plus the helpers every contract test uses."""
    sandbox: Sandbox

    @property
    def run(self) -> RunGetMethod:
        return self.sandbox.run_get_method

    def balance(self, address: Address) -> int:
        return self.sandbox.account(address).balance

    def data_hash(self, address: Address) -> str | None:
        return self.sandbox.account(address).data_hash

    def send(self, sender: Address, to: Address, body: Cell | None, value: int = TON) -> list[TxRecord]:
        return self.sandbox.send_internal(sender=sender, to=to, value=value, body=body)

    def assert_refused(self, sender: Address, to: Address, body: Cell, exit_code: int, value: int = TON) -> list[TxRecord]:
        """The message fails with `exit_code`, the contract's storage is unchanged, the value bounces back."""
        before = self.sandbox.account(to)
        txs = self.send(sender, to, body, value)
        tx = txs[0]
        assert (tx.success, tx.exit_code) == (False, exit_code)
        after = self.sandbox.account(to)
        assert after.data_hash == before.data_hash
        assert after.code_hash == before.code_hash
        bounce = [m for m in tx.out_messages if m.dest == sender]
        assert len(bounce) == 1 and bounce[0].bounced, "the refused value must bounce back to the sender"
        return txs

    def assert_accepted(self, sender: Address, to: Address, body: Cell | None, value: int = TON) -> list[TxRecord]:
        txs = self.send(sender, to, body, value)
        assert txs[0].success, txs[0]
        return txs


@pytest.fixture
def chain() -> Chain:
    sandbox = Sandbox(now=NOW)
    for actor in (ADMIN, NEW_ADMIN, KEEPER_1, KEEPER_2, USER, OTHER_USER, STRANGER, CLAIMS_PROCESSOR, TREASURY):
        sandbox.fund(actor, 1_000_000 * TON)
    return Chain(sandbox)


def deploy_oracle(chain: Chain, keepers: tuple[Address, ...] = (KEEPER_1, KEEPER_2)) -> PricingOracle:
    """An oracle deployed with no keepers, then given `keepers` by the admin's messages (as on mainnet)."""
    target = PricingOracle.from_config(PricingOracleConfig(admin=ADMIN))
    deploy(chain.sandbox, target)
    for keeper in keepers:
        chain.assert_accepted(ADMIN, target.address, PricingOracle.build_add_keeper_body(keeper))
    return PricingOracle(target.address)


@pytest.fixture
def oracle(chain: Chain) -> PricingOracle:
    return deploy_oracle(chain)


def vault_config(oracle: Address = ORACLE, **overrides) -> MultiTrancheVaultConfig:
    return MultiTrancheVaultConfig(**{"admin": ADMIN, "claims_processor": CLAIMS_PROCESSOR, "oracle": oracle,
                                      "treasury": TREASURY, "shard_count": 16, **overrides})


@pytest.fixture
def vault(chain: Chain, oracle: PricingOracle) -> MultiTrancheVault:
    target = MultiTrancheVault.from_config(vault_config(oracle.address))
    deploy(chain.sandbox, target)
    return MultiTrancheVault(target.address)


@pytest.fixture
def router(chain: Chain, oracle: PricingOracle, vault: MultiTrancheVault) -> PolicyRouter:
    target = PolicyRouter.from_config(
        PolicyRouterConfig(admin=ADMIN, vault=vault.address, oracle=oracle.address, shard_count=16))
    deploy(chain.sandbox, target)
    return PolicyRouter(target.address)


PRICE = 20_000_000  # 2% a year (parts per billion)


@dataclass
class Protocol:
    """The deployed protocol (oracle, vault, router; tokens and shards deploy on first use) and its flows."""
    chain: Chain
    oracle: PricingOracle
    vault: MultiTrancheVault
    router: PolicyRouter
    seq: int = 0

    @property
    def run(self) -> RunGetMethod:
        return self.chain.run

    @property
    def fees(self) -> Fees:
        return self.vault.get_fees(self.run)

    def rent(self, days: int) -> int:
        """The shard rent a policy of `days` pays (part of its premium)."""
        return self.vault.get_policy_rent(self.run, days)

    def premium(self, coverage: int, days: int, price: int = PRICE) -> int:
        """The least premium the vault accepts: risk premium + rent."""
        return premium_due(coverage, price, days, self.rent(days))

    def minter(self, tranche_id: int) -> SureTokenMinter:
        return SureTokenMinter(self.vault.get_tranche_token_address(self.run, tranche_id))

    def wallet(self, tranche_id: int, owner: Address) -> SureTokenWallet:
        minter = self.minter(tranche_id)
        return SureTokenWallet(SureTokenWallet.address_of(owner, minter.address, TRANCHES[tranche_id - 1].lock_period))

    def tokens(self, tranche_id: int, owner: Address) -> int:
        wallet = self.wallet(tranche_id, owner)
        if self.chain.sandbox.account(wallet.address).status != "active":
            return 0
        return wallet.get_wallet_data(self.run).balance

    def publish(self, price: int = PRICE, coverage_type: int = CoverageType.DEPEG) -> list[TxRecord]:
        self.seq += 1
        return self.chain.assert_accepted(KEEPER_1, self.oracle.address,
                                          PricingOracle.build_update_price_body(coverage_type, price, self.seq))

    def deposit(self, who: Address, tranche_id: int, amount: int) -> list[TxRecord]:
        return self.chain.send(who, self.vault.address, MultiTrancheVault.build_deposit_body(tranche_id),
                               amount + self.fees.deposit)

    def buy(self, who: Address, coverage: int, days: int, premium: int | None = None,
            coverage_type: int = CoverageType.DEPEG, price: int = PRICE, extra: int = 0) -> list[TxRecord]:
        premium = premium_due(coverage, price, days, self.rent(days)) if premium is None else premium
        body = PolicyRouter.build_create_policy_body(coverage_type, coverage, days, premium)
        return self.chain.send(who, self.router.address, body, premium + self.fees.policy + extra)

    def claim(self, policy_id: int, amount: int, sender: Address = CLAIMS_PROCESSOR) -> list[TxRecord]:
        return self.chain.send(sender, self.vault.address, MultiTrancheVault.build_pay_claim_body(policy_id, amount),
                               self.fees.claim)

    def redeem(self, who: Address, tranche_id: int, tokens: int) -> list[TxRecord]:
        return self.chain.send(who, self.wallet(tranche_id, who).address,
                               SureTokenWallet.build_burn_body(tokens, who), self.fees.redeem)

    def capitals(self) -> dict[int, int]:
        return {t.id: self.vault.get_tranche(self.run, t.id).capital for t in TRANCHES}

    def shard_of(self, policy_id: int) -> PolicyShard:
        return PolicyShard(self.vault.get_shard_address(self.run, policy_id % 16))


@pytest.fixture
def protocol(chain: Chain, oracle: PricingOracle, vault: MultiTrancheVault, router: PolicyRouter) -> Protocol:
    return Protocol(chain, oracle, vault, router)


def received(txs: list[TxRecord], to: Address) -> int:
    """Value of the messages the contracts sent to `to` among `txs`."""
    return sum(m.value for tx in txs for m in tx.out_messages if m.dest == to)


def all_succeeded(txs: list[TxRecord], actors: tuple[Address, ...] = ()) -> bool:
    return all(tx.success for tx in txs if tx.address not in actors)


# ---- a model of the vault's arithmetic (README, "MultiTrancheVault"), shared by the protocol and invariant tests

IDS = [t.id for t in TRANCHES]


def book_yield(capitals: dict[int, int], premium: int) -> dict[int, int]:
    total, out, left = sum(capitals.values()), dict(capitals), premium
    if total:
        for i in IDS:
            share = premium * capitals[i] // total
            out[i] += share
            left -= share
    out[IDS[-1]] += left
    return out


def book_loss(capitals: dict[int, int], loss: int) -> tuple[dict[int, int], int]:
    out, left = dict(capitals), min(loss, sum(capitals.values()))
    paid = left
    for i in reversed(IDS):  # EQT first, BTC last
        hit = min(left, out[i])
        out[i] -= hit
        left -= hit
    return out, paid
