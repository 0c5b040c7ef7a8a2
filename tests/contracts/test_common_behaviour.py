"""What every contract does with the messages that are not one of its ops (DESIGN.md, "The contracts")."""
from __future__ import annotations

import pytest
from pytoniq_core import Address, begin_cell

from contracts.base import TON, ExitCode, body
from contracts.multi_tranche_vault import MultiTrancheVault
from contracts.policy_router import PolicyRouter, shard_deployment
from contracts.pricing_oracle import PricingOracle
from contracts.sure_token import SureTokenConfig, SureTokenMinter, SureTokenWallet
from tests.contracts.conftest import ADMIN, STRANGER, USER, Chain, deploy

KINDS = ["PricingOracle", "MultiTrancheVault", "SureTokenMinter", "SureTokenWallet", "PolicyRouter", "PolicyShard"]


@pytest.fixture
def deployed(chain: Chain, oracle: PricingOracle, vault: MultiTrancheVault, router: PolicyRouter) -> dict[str, Address]:
    minter = SureTokenMinter.from_config(SureTokenConfig(vault=ADMIN, tranche_id=1, lock_period=0,
                                                         content=begin_cell().end_cell()))
    deploy(chain.sandbox, minter)
    chain.assert_accepted(ADMIN, minter.address, SureTokenMinter.build_mint_body(USER, 5))
    shard = shard_deployment(router.address, 3, 16)
    deploy(chain.sandbox, shard)
    return {
        "PricingOracle": oracle.address, "MultiTrancheVault": vault.address, "SureTokenMinter": minter.address,
        "SureTokenWallet": SureTokenWallet.address_of(USER, minter.address, 0), "PolicyRouter": router.address,
        "PolicyShard": shard.address,
    }


@pytest.mark.parametrize("kind", KINDS)
def test_empty_body_is_a_top_up(chain: Chain, deployed: dict[str, Address], kind: str) -> None:
    address = deployed[kind]
    before = chain.sandbox.account(address)
    chain.assert_accepted(STRANGER, address, None, value=2 * TON)
    after = chain.sandbox.account(address)
    assert after.data_hash == before.data_hash
    assert after.balance > before.balance + TON


@pytest.mark.parametrize("kind", KINDS)
def test_text_comment_is_a_top_up(chain: Chain, deployed: dict[str, Address], kind: str) -> None:
    address = deployed[kind]
    before = chain.sandbox.account(address)
    chain.assert_accepted(STRANGER, address, begin_cell().store_uint(0, 32).store_snake_string("top-up").end_cell())
    assert chain.sandbox.account(address).data_hash == before.data_hash


@pytest.mark.parametrize("kind", KINDS)
def test_unknown_op_throws_0xffff(chain: Chain, deployed: dict[str, Address], kind: str) -> None:
    chain.assert_refused(ADMIN, deployed[kind], body(0x0BADC0DE, 7).end_cell(), ExitCode.UNKNOWN_OP)
