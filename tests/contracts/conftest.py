"""Shared fixtures for the contract tests: a fresh in-memory chain per test and deployed contracts.

Every chain is the real TVM (chain.sandbox over pytvm's libemulator) with the mainnet config cell.
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from pytoniq_core import Address, Cell

from chain.sandbox import Sandbox, TxRecord
from contracts.base import TON, Deployment, RunGetMethod
from contracts.multi_tranche_vault import MultiTrancheVault, MultiTrancheVaultConfig
from contracts.policy_router import PolicyRouter, PolicyRouterConfig
from contracts.pricing_oracle import PricingOracle, PricingOracleConfig

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


@pytest.fixture
def oracle(chain: Chain) -> PricingOracle:
    target = PricingOracle.from_config(PricingOracleConfig(admin=ADMIN, keepers=(KEEPER_1, KEEPER_2)))
    deploy(chain.sandbox, target)
    return PricingOracle(target.address)


@pytest.fixture
def vault(chain: Chain) -> MultiTrancheVault:
    target = MultiTrancheVault.from_config(
        MultiTrancheVaultConfig(admin=ADMIN, claims_processor=CLAIMS_PROCESSOR, oracle=ORACLE))
    deploy(chain.sandbox, target)
    return MultiTrancheVault(target.address)


@pytest.fixture
def router(chain: Chain) -> PolicyRouter:
    target = PolicyRouter.from_config(
        PolicyRouterConfig(admin=ADMIN, treasury=TREASURY, claims_processor=CLAIMS_PROCESSOR, shard_count=16))
    deploy(chain.sandbox, target)
    return PolicyRouter(target.address)
