"""The deployer mnemonic by reference under Pulumi's mocks: what the TON resources get as inputs."""
from __future__ import annotations

from dataclasses import replace

import pulumi

from components.contracts import TonsuranceContracts, TonsuranceContractsArgs
from config import SecretReference
from tests.unit.test_config import parse, raw_config
from tests.unit.test_contracts_component import BATCH, CONTRACT, DEPLOYMENT, RecordingMocks, args, mocks  # noqa: F401

REFERENCE = SecretReference("tonsurance/mainnet/deployer-mnemonic", "eu-central-1")


def registered(contracts: TonsuranceContracts) -> pulumi.Output:
    """Resolves once every contract and shard batch has been registered with the mocks."""
    return pulumi.Output.all(contracts.keeper_config, contracts.policy_shard_addresses, contracts.code_hashes)


@pulumi.runtime.test
def test_resources_receive_only_the_secret_id_and_region(mocks):
    contracts = TonsuranceContracts("contracts", replace(args("mainnet", shard_count=256, batch=64), deployer_mnemonic=REFERENCE))

    def check(_):
        ours = [r for r in mocks.resources.values() if r.typ in (CONTRACT, BATCH, DEPLOYMENT)]
        assert len(ours) == 9 + 4 + 1  # contracts, shard batches, the deployment that sends
        for resource in ours:
            assert resource.inputs.get("deployer_mnemonic") is None
            assert resource.inputs["deployer_mnemonic_ref"] == {"secret_id": REFERENCE.secret_id,
                                                                "region": REFERENCE.region}

    return registered(contracts).apply(check)


@pulumi.runtime.test
def test_words_in_config_stay_a_secret_input_without_a_reference(mocks):
    contracts = TonsuranceContracts("contracts", args())

    def check(_):
        ours = [r for r in mocks.resources.values() if r.typ in (CONTRACT, BATCH, DEPLOYMENT)]
        assert ours and all(r.inputs.get("deployer_mnemonic_ref") is None and r.inputs["deployer_mnemonic"]
                            for r in ours)

    return registered(contracts).apply(check)


def test_mainnet_stack_config_hands_the_reference_to_the_contracts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mainnet = TonsuranceContractsArgs.from_stack_config(parse(raw_config("mainnet"), stack="mainnet"))
    assert mainnet.deployer_mnemonic == REFERENCE
