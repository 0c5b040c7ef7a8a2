"""What every contract does with messages that are not one of its ops, and the admin rules every contract
with an admin shares: two-step handover with a strict address check, and recovery of stranded TON."""
from __future__ import annotations

import pytest
from pytoniq_core import Address, Cell, begin_cell

from contracts.base import STORAGE_RESERVE, TON, CommonOp, ExitCode, body
from contracts.multi_tranche_vault import MultiTrancheVault
from contracts.policy_router import PolicyRouter, shard_deployment
from contracts.pricing_oracle import PricingOracle
from contracts.sure_token import SureTokenConfig, SureTokenMinter, SureTokenWallet
from tests.contracts.conftest import ADMIN, NEW_ADMIN, ORACLE, STRANGER, USER, Chain, deploy

KINDS = ["PricingOracle", "MultiTrancheVault", "SureTokenMinter", "SureTokenWallet", "PolicyRouter", "PolicyShard"]
ADMIN_KINDS = ["PricingOracle", "MultiTrancheVault", "PolicyRouter"]


@pytest.fixture
def deployed(chain: Chain, oracle: PricingOracle, vault: MultiTrancheVault, router: PolicyRouter) -> dict[str, Address]:
    minter = SureTokenMinter.from_config(SureTokenConfig(vault=ADMIN, tranche_id=1, lock_period=0,
                                                         content=begin_cell().end_cell()))
    deploy(chain.sandbox, minter)
    chain.assert_accepted(ADMIN, minter.address, SureTokenMinter.build_mint_body(USER, 5, USER))
    shard = shard_deployment(vault.address, 3, 16)
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


@pytest.mark.parametrize("sender", [ADMIN, STRANGER], ids=["admin", "stranger"])
@pytest.mark.parametrize("kind", KINDS)
def test_unknown_op_throws_0xffff_whoever_sends_it(chain: Chain, deployed: dict[str, Address], kind: str,
                                                   sender: Address) -> None:
    chain.assert_refused(sender, deployed[kind], body(0x0BADC0DE, 7).end_cell(), ExitCode.UNKNOWN_OP)


# ---- admin handover -------------------------------------------------------------------------------

def privileged_body(kind: str) -> Cell:
    """An op only the admin of `kind` may send, harmless to repeat."""
    return {"PricingOracle": PricingOracle.build_set_max_staleness_body(300),
            "MultiTrancheVault": MultiTrancheVault.build_unpause_body(),
            "PolicyRouter": PolicyRouter.build_set_oracle_body(ORACLE)}[kind]


def get_admins(chain: Chain, kind: str, address: Address) -> tuple[Address | None, Address | None]:
    wrapper = {"PricingOracle": PricingOracle, "MultiTrancheVault": MultiTrancheVault, "PolicyRouter": PolicyRouter}[kind]
    contract = wrapper(address)
    return contract.get_admin(chain.run), contract.get_pending_admin(chain.run)


@pytest.mark.parametrize("kind", ADMIN_KINDS)
def test_admin_handover_takes_two_steps(chain: Chain, deployed: dict[str, Address], kind: str) -> None:
    address = deployed[kind]
    chain.assert_refused(STRANGER, address, PricingOracle.build_propose_admin_body(STRANGER), ExitCode.UNAUTHORIZED)
    chain.assert_accepted(ADMIN, address, PricingOracle.build_propose_admin_body(NEW_ADMIN))
    assert get_admins(chain, kind, address) == (ADMIN, NEW_ADMIN)
    chain.assert_accepted(ADMIN, address, privileged_body(kind))  # still the admin until accepted
    chain.assert_refused(NEW_ADMIN, address, privileged_body(kind), ExitCode.UNAUTHORIZED)
    chain.assert_refused(STRANGER, address, PricingOracle.build_accept_admin_body(), ExitCode.UNAUTHORIZED)
    chain.assert_refused(ADMIN, address, PricingOracle.build_accept_admin_body(), ExitCode.UNAUTHORIZED)

    chain.assert_accepted(NEW_ADMIN, address, PricingOracle.build_accept_admin_body())
    assert get_admins(chain, kind, address) == (NEW_ADMIN, None)
    chain.assert_accepted(NEW_ADMIN, address, privileged_body(kind))
    chain.assert_refused(ADMIN, address, privileged_body(kind), ExitCode.UNAUTHORIZED)
    chain.assert_refused(NEW_ADMIN, address, PricingOracle.build_accept_admin_body(), ExitCode.UNAUTHORIZED)


def propose_raw(address_bits: Cell) -> Cell:
    return begin_cell().store_uint(CommonOp.PROPOSE_ADMIN, 32).store_uint(0, 64).store_cell(address_bits).end_cell()


UNUSABLE_ADMINS = {
    "addr_none": begin_cell().store_uint(0, 2).end_cell(),
    "masterchain": begin_cell().store_address(Address("-1:" + "a2" * 32)).end_cell(),
    # addr_var$11 anycast:nothing addr_len:256 workchain_id:int32 address:bits256
    "addr_var": begin_cell().store_uint(0b11, 2).store_bit(0).store_uint(256, 9).store_int(0, 32)
                            .store_uint(0xA2, 256).end_cell(),
    # addr_std$10 anycast:just(depth:5 rewrite_pfx) workchain 0
    "anycast": begin_cell().store_uint(0b10, 2).store_bit(1).store_uint(5, 5).store_uint(0b10101, 5)
                           .store_int(0, 8).store_uint(0xA2, 256).end_cell(),
    # addr_extern$01 len:8 bits
    "addr_extern": begin_cell().store_uint(0b01, 2).store_uint(8, 9).store_uint(0xA2, 8).end_cell(),
}


@pytest.mark.parametrize("bad", list(UNUSABLE_ADMINS))
@pytest.mark.parametrize("kind", ADMIN_KINDS)
def test_unusable_admin_addresses_are_refused(chain: Chain, deployed: dict[str, Address], kind: str, bad: str) -> None:
    chain.assert_refused(ADMIN, deployed[kind], propose_raw(UNUSABLE_ADMINS[bad]), ExitCode.WRONG_WORKCHAIN)


# ---- recovery of stranded TON -------------------------------------------------------------------

@pytest.mark.parametrize("kind", ADMIN_KINDS)
def test_admin_recovers_ton_above_the_storage_reserve(chain: Chain, deployed: dict[str, Address], kind: str) -> None:
    address = deployed[kind]
    chain.send(STRANGER, address, None, 7 * TON)
    chain.assert_refused(STRANGER, address, PricingOracle.build_recover_body(), ExitCode.UNAUTHORIZED)
    txs = chain.assert_accepted(ADMIN, address, PricingOracle.build_recover_body(), value=TON // 10)
    [out] = txs[0].out_messages
    assert out.dest == ADMIN and out.value > 7 * TON
    assert STORAGE_RESERVE - TON // 100 < chain.balance(address) <= STORAGE_RESERVE
    # nothing more to recover: a second recover leaves the reserve (and keeps the admin's small value)
    txs = chain.assert_accepted(ADMIN, address, PricingOracle.build_recover_body(), value=TON // 10)
    assert txs[0].out_messages == []
