"""What going back to a record's contracts needs, read from the real TVM (`ops.rollback.contract_needs`): active
contracts are adopted without a message; a paused vault, another admin, or other keepers each
name the admin message they need; contracts no longer on chain are deployed again."""
from __future__ import annotations

from pytoniq_core import Address

from chain.sandbox import Sandbox
from contracts.base import TON, build_pause_body
from contracts.multi_tranche_vault import MultiTrancheVault
from contracts.policy_router import PolicyRouter, PolicyRouterConfig
from contracts.pricing_oracle import PricingOracle, PricingOracleConfig
from ops.rollback import contract_needs
from tests.contracts.conftest import ADMIN, KEEPER_1, KEEPER_2, NEW_ADMIN, NOW, account, deploy, vault_config


def deployed(sandbox: Sandbox) -> dict:
    """The oracle, vault and router deployed with ADMIN, as a record's `contracts` names them."""
    oracle = PricingOracle.from_config(PricingOracleConfig(admin=ADMIN))
    vault = MultiTrancheVault.from_config(vault_config(oracle.address))
    router = PolicyRouter.from_config(PolicyRouterConfig(admin=ADMIN, vault=vault.address, oracle=oracle.address,
                                                         shard_count=16))
    for target in (oracle, vault, router):
        deploy(sandbox, target)
    for keeper in (KEEPER_1, KEEPER_2):   # keepers are a role set by message, not init data
        assert sandbox.send_internal(sender=ADMIN, to=oracle.address, value=TON // 10,
                                     body=PricingOracle.build_add_keeper_body(keeper))[0].success
    return {"contracts": {"pricing_oracle": oracle.address.to_str(), "multi_tranche_vault": vault.address.to_str(),
                          "policy_router": router.address.to_str(), "sure_token": {}, "policy_shard": []}}


def chain() -> Sandbox:
    sandbox = Sandbox(now=NOW)
    sandbox.fund(ADMIN, 1_000 * TON)
    return sandbox


def test_active_contracts_with_the_stacks_roles_need_no_message():
    sandbox = chain()
    record = deployed(sandbox)
    lines = contract_needs(record, sandbox, ADMIN.to_str(), [KEEPER_1.to_str(), KEEPER_2.to_str()], public=True)
    assert lines == ["3 of 3 contracts are active on chain: adopted, no deploy message",
                     "no admin message is needed: admin, pause state and keepers are the stack's"]


def test_a_paused_vault_another_admin_and_other_keepers_each_name_their_message():
    sandbox = chain()
    record = deployed(sandbox)
    vault = record["contracts"]["multi_tranche_vault"]
    assert sandbox.send_internal(sender=ADMIN, to=Address(vault), value=TON, body=build_pause_body())[0].success
    new_keeper = account("f1")
    lines = contract_needs(record, sandbox, NEW_ADMIN.to_str(), [KEEPER_1.to_str(), new_keeper.to_str()], public=True)
    needs = [line for line in lines if line.startswith("message from the admin multisig")]
    assert len(needs) == 5, lines
    assert sum("admin handover" in line for line in needs) == 3        # oracle, vault, router
    assert any(f"unpause the vault {vault}" in line for line in needs)
    assert any("set the oracle's keepers to the stack's 2 (it has 2, missing 1)" in line for line in needs)


def test_contracts_gone_from_the_chain_are_deployed_again():
    sandbox = chain()
    record = deployed(Sandbox(now=NOW))  # deployed on another chain: none of them is here
    lines = contract_needs(record, sandbox, ADMIN.to_str(), [KEEPER_1.to_str()], public=False)
    assert lines[0] == "0 of 3 contracts are active on chain: adopted, no deploy message"
    assert "3 are not active" in lines[1] and "one message from the deployer's highload wallet" in lines[1]
