"""The deployer mnemonic by reference: the TON providers get a Secrets Manager id and fetch the words inside
create, from moto's Secrets Manager on loopback. Nothing is sent when the words cannot be had."""
from __future__ import annotations

import json
import uuid

import pytest
from pytoniq_core import Address

from tests.moto_server import REGION, aws_env, moto_endpoint, secrets_manager  # noqa: F401
from tests.providers.conftest import external_count, journal_text
from tests.support import mnemonic_leaks as leaks
from ton_deploy.contract import TonContractProvider
from ton_deploy.mnemonic import DeployerMnemonicError
from ton_deploy.shard_batch import ShardBatchProvider

contracts, batches = TonContractProvider(), ShardBatchProvider()


def by_reference(props: dict, secret_id: str, region: str = REGION) -> dict:
    return {**props, "deployer_mnemonic": None, "deployer_mnemonic_ref": {"secret_id": secret_id, "region": region}}


@pytest.fixture
def secret_id(aws_env, mnemonic) -> str:
    name = f"tonsurance/test-{uuid.uuid4().hex[:8]}/deployer-mnemonic"
    secrets_manager().create_secret(Name=name, SecretString=mnemonic)
    return name


def test_contracts_and_shards_deploy_with_words_fetched_from_secrets_manager(client, inputs, deployer, highload,
                                                                             mnemonic, journal, secret_id):
    router = by_reference(inputs.router(), secret_id)
    assert "deployer_mnemonic_ref" in router and mnemonic not in json.dumps(router)
    assert contracts.check({}, router).failures == []

    created = contracts.create(router)
    assert created.outs["deployed_by"] == "message" and client.account(Address(created.id)).status == "active"
    assert external_count(client, deployer.address) == 1  # the wallet of the secret's words signed it

    shards = by_reference(inputs.shards(router["address"], range(4)), secret_id)
    assert batches.check({}, shards).failures == []
    deployed = batches.create(shards)
    assert deployed.outs["deployed_ids"] == [0, 1, 2, 3] and external_count(client, highload.address) == 1

    everything = json.dumps([router, shards, created.outs, deployed.outs]) + journal_text(journal)
    assert not leaks(everything, mnemonic)


def test_missing_secret_is_named_and_nothing_is_sent(client, inputs, deployer, aws_env, mnemonic):
    props = by_reference(inputs.oracle(), "tonsurance/test/absent")
    with pytest.raises(DeployerMnemonicError, match="'tonsurance/test/absent' in eu-central-1: it does not exist"):
        contracts.create(props)
    assert client.account(Address(props["address"])).status != "active"
    assert client.account(deployer.address).balance == 0 and external_count(client, deployer.address) == 0


def test_a_secret_that_is_not_a_mnemonic_is_refused_without_echoing_it(client, inputs, aws_env, mnemonic):
    words = mnemonic.split()
    name = f"tonsurance/test-{uuid.uuid4().hex[:8]}/deployer-mnemonic"
    secrets_manager().create_secret(Name=name, SecretString=" ".join(words[1:] + words[:1]))  # checksum fails
    with pytest.raises(DeployerMnemonicError, match="does not hold a valid 24-word TON mnemonic") as error:
        contracts.create(by_reference(inputs.oracle(), name))
    assert not leaks(str(error.value), " ".join(words[1:] + words[:1]))

    empty = f"tonsurance/test-{uuid.uuid4().hex[:8]}/keeper-mnemonic"
    secrets_manager().create_secret(Name=empty)  # a container whose value was never set
    with pytest.raises(DeployerMnemonicError, match="it does not exist or has no value yet"):
        contracts.create(by_reference(inputs.oracle(), empty))


def test_unreachable_endpoint_and_missing_credentials_are_clear(inputs, aws_env, monkeypatch, tmp_path):
    props = by_reference(inputs.oracle(), "tonsurance/test/deployer-mnemonic")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(DeployerMnemonicError, match="EndpointConnectionError"):
        contracts.create(props)

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(DeployerMnemonicError, match="no AWS credentials"):
        contracts.create(props)


def test_an_active_contract_is_adopted_by_reference_without_a_message(client, inputs, deployer, secret_id):
    created = contracts.create(inputs.oracle())  # deployed with the words in config
    sent = external_count(client, deployer.address)
    adopted = contracts.create(by_reference(inputs.oracle(), secret_id))  # the same wallet, words from the secret
    assert adopted.id == created.id and adopted.outs["deployed_by"] == "adopted"
    assert external_count(client, deployer.address) == sent == 1


@pytest.mark.parametrize("ref, failure", [
    ({"secret_id": "", "region": REGION}, "needs a secret_id and a region"),
    ({"secret_id": "tonsurance/x", "region": ""}, "needs a secret_id and a region"),
])
def test_check_reports_an_incomplete_reference(inputs, ref, failure):
    props = {**inputs.oracle(), "deployer_mnemonic": None, "deployer_mnemonic_ref": ref}
    assert [f.reason for f in contracts.check({}, props).failures] == [f"deployer_mnemonic_ref {failure}"]
    neither = {**inputs.oracle(), "deployer_mnemonic": None}
    assert "neither deployer_mnemonic nor deployer_mnemonic_ref" in contracts.check({}, neither).failures[0].reason


def test_the_deployment_signs_with_words_fetched_by_reference(client, settings, mnemonic, journal, highload,
                                                              secret_id):
    from tests.providers.conftest import deployment, plan
    from ton_deploy.deployment import TonDeploymentProvider
    props = by_reference(deployment(plan(settings, mnemonic, journal)), secret_id)
    provider = TonDeploymentProvider()
    assert provider.check({}, props).failures == [] and mnemonic not in json.dumps(props)
    created = provider.create(props)
    assert len(created.outs["deployed"]) == 25 and external_count(client, highload.address) == 1
    assert not leaks(json.dumps(created.outs) + journal_text(journal), mnemonic)
    with pytest.raises(DeployerMnemonicError, match="it does not exist"):    # nothing signed without the words
        provider.create(by_reference(props, "tonsurance/test/absent"))
