"""The deployer mnemonic by reference under Pulumi's mocks: what the TON resources get as inputs."""
from __future__ import annotations

import pulumi

from components.contracts import TonsuranceContracts
from config import SecretReference
from resource_types import TON_RESOURCES
from tests.support import contracts_args, parse, raw_config
from ton_deploy.plan import TonsuranceContractsArgs

REFERENCE = SecretReference("tonsurance/mainnet/deployer-mnemonic", "eu-central-1")


def registered(contracts: TonsuranceContracts) -> pulumi.Output:
    """Resolves once every contract and shard batch has been registered with the mocks."""
    return pulumi.Output.all(contracts.keeper_config, contracts.policy_shard_addresses, contracts.code_hashes)


@pulumi.runtime.test
def test_resources_receive_only_the_secret_id_and_region(mocks):
    contracts = TonsuranceContracts("contracts", contracts_args("mainnet", shard_count=256, batch=64, mnemonic=REFERENCE))

    def check(_):
        ours = [r for r in mocks.resources.values() if r.typ in TON_RESOURCES]
        assert len(ours) == 9 + 4 + 1  # contracts, shard batches, the deployment that sends
        for resource in ours:
            assert resource.inputs.get("deployer_mnemonic") is None
            assert resource.inputs["deployer_mnemonic_ref"] == {"secret_id": REFERENCE.secret_id,
                                                                "region": REFERENCE.region}

    return registered(contracts).apply(check)


@pulumi.runtime.test
def test_words_in_config_stay_a_secret_input_without_a_reference(mocks):
    contracts = TonsuranceContracts("contracts", contracts_args(mnemonic="test words"))

    def check(_):
        ours = [r for r in mocks.resources.values() if r.typ in TON_RESOURCES]
        assert ours and all(r.inputs.get("deployer_mnemonic_ref") is None and r.inputs["deployer_mnemonic"]
                            for r in ours)

    return registered(contracts).apply(check)


def test_mainnet_stack_config_hands_the_reference_to_the_contracts(tmp_path):
    mainnet = TonsuranceContractsArgs.from_stack_config(parse(raw_config("mainnet"), stack="mainnet"), str(tmp_path),
                                                        f"file://{tmp_path}/state")
    assert mainnet.deployer.mnemonic == REFERENCE
