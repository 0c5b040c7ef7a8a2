"""TonsuranceContracts wiring under Pulumi's mocks: offline addresses, dependencies, protection, outputs."""
from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from pathlib import Path

import pulumi
import pytest
from pytoniq_core import Address

from chain.records import raw_address
from components.contracts import TonsuranceContracts
from contracts.base import load_artifact
from contracts.multi_tranche_vault import TRANCHES, token_deployment
from contracts.policy_router import shard_deployment
from resource_types import TON_CONTRACT as CONTRACT, TON_DEPLOYMENT as DEPLOYMENT, TON_SHARD_BATCH as BATCH
from tests.support import MNEMONIC as CONFIG_MNEMONIC, Recorder, contracts_args, parse, raw_config
from ton_deploy.deployer import deployer_turn
from ton_deploy.plan import JournalPlacementError, TonsuranceContractsArgs, plan_contracts
from ton_deploy.targets import target_of

MNEMONIC = "test words " * 8  # never validated here: the providers never run under mocks


def args(network: str = "localnet", shard_count: int = 16, batch: int = 16) -> TonsuranceContractsArgs:
    return contracts_args(network, shard_count, batch, mnemonic=MNEMONIC)


def test_plan_computes_every_address_offline():
    plan = plan_contracts(args(batch=5))
    assert [b.shard_ids for b in plan.batches] == [(0, 1, 2, 3, 4), (5, 6, 7, 8, 9), (10, 11, 12, 13, 14), (15,)]
    router = target_of(plan.router.code, plan.router.data).address
    vault = target_of(plan.vault.code, plan.vault.data).address
    assert {b.router for b in plan.batches} == {raw_address(router)}
    assert {b.vault for b in plan.batches} == {raw_address(vault)}
    assert [b.addresses[i] for b in plan.batches for i in b.shard_ids] == [raw_address(shard_deployment(vault, i, 16).address) for i in range(16)]
    oracle = target_of(plan.oracle.code, plan.oracle.data).address
    vault_refs = plan.vault.data.refs[1].begin_parse()  # ^[claims_processor oracle treasury ...] (contracts/README.md)
    assert vault_refs.load_address() == Address("0:" + "d1" * 32) and vault_refs.load_address() == oracle
    router_refs = plan.router.data.refs[0].begin_parse()  # ^[vault oracle]
    assert (router_refs.load_address(), router_refs.load_address()) == (vault, oracle)


@pytest.mark.parametrize("network, paused", [("localnet", False), ("testnet", False), ("mainnet", True)])
def test_the_vault_deploys_paused_on_mainnet_only(network, paused):
    plan = plan_contracts(args(network=network))
    data = plan.vault.data.begin_parse()
    data.load_address(), data.load_address()  # admin, pending_admin
    assert data.load_bit() == paused


@pulumi.runtime.test
def test_one_deployment_first_then_every_contract_in_parallel(mocks):
    recorder = Recorder()
    contracts = TonsuranceContracts("contracts", args(), pulumi.ResourceOptions(transformations=[recorder]))

    def check(_):
        deps = {name: [d._name for d in (o.depends_on or [])] for name, o in recorder.options.items()}
        tokens = [f"contracts-sure-{n}" for n in ("btc", "snr", "mezz", "jnr", "jnr-plus", "eqt")]
        assert deps["contracts-deployment"] == []
        for name in ["contracts-pricing-oracle", "contracts-multi-tranche-vault", *tokens, "contracts-policy-router",
                     "contracts-policy-shards-000-015"]:
            assert deps[name] == ["contracts-deployment"], name    # no chain of waits between contracts
        assert not any(o.protect or o.retain_on_delete for o in recorder.options.values())
        types = [r.typ for r in mocks.resources.values()]
        assert types.count(CONTRACT) == 9 and types.count(BATCH) == 1 and types.count(DEPLOYMENT) == 1
        planned = mocks.resources["contracts-deployment"].inputs["contracts"]
        resources = {r.inputs["address"] for r in mocks.resources.values() if r.typ == CONTRACT}
        shards = {a for r in mocks.resources.values() if r.typ == BATCH for a in r.inputs["addresses"].values()}
        assert {c["address"] for c in planned.values()} == resources | shards and len(planned) == 9 + 16
        router = planned["policy-router"]["derived_addresses"]
        assert {d["address"] for d in router} == shards and {d["getter"] for d in router} == {"get_shard_address"}

    return pulumi.Output.all(contracts.keeper_config, contracts.policy_shard_addresses).apply(check)


@pulumi.runtime.test
def test_mainnet_contracts_are_protected_and_retained(mocks):
    recorder = Recorder()
    contracts = TonsuranceContracts("contracts", args("mainnet", 256, 16),
                                    pulumi.ResourceOptions(transformations=[recorder]))

    def check(shards):
        children = [o for name, o in recorder.options.items() if name != "contracts"]
        assert len(children) == 1 + 9 + 16
        assert all(o.protect and o.retain_on_delete for o in children)
        assert len(shards) == 256 and len(set(shards)) == 256
        assert all(not Address(s).is_test_only for s in shards)

    return contracts.policy_shard_addresses.apply(check)


@pulumi.runtime.test
def test_the_vault_checks_the_token_addresses_computed_here(mocks):
    contracts = TonsuranceContracts("contracts", args())

    def check(tokens):
        vault = mocks.resources["contracts-multi-tranche-vault"].inputs
        expected = {t.id: raw_address(token_deployment(Address(vault["address"]), t).address) for t in TRANCHES}
        assert {int(d["args"][0]): d["address"] for d in vault["derived_addresses"]} == expected
        assert {d["getter"] for d in vault["derived_addresses"]} == {"get_tranche_token_address"}
        assert sorted(Address(a).to_str(is_user_friendly=False) for a in tokens.values()) == sorted(expected.values())

    return contracts.sure_token_addresses.apply(check)


@pulumi.runtime.test
def test_keeper_config_and_outputs(mocks):
    contracts = TonsuranceContracts("contracts", args("testnet"))

    def check(values):
        env, oracle, router, hashes, shards = values
        assert env["PRICING_ORACLE_ADDRESS"] == oracle and env["POLICY_ROUTER_ADDRESS"] == router
        assert {k for k in env if k.startswith("SURE_")} == {
            "SURE_BTC_ADDRESS", "SURE_SNR_ADDRESS", "SURE_MEZZ_ADDRESS", "SURE_JNR_ADDRESS", "SURE_JNR_PLUS_ADDRESS",
            "SURE_EQT_ADDRESS"}
        assert env["SHARD_COUNT"] == "16" and env["TON_NETWORK"] == "testnet"
        assert env["TON_RPC_URL"].startswith("https://testnet.")
        assert Address(oracle).is_test_only
        assert hashes["PricingOracle"] == load_artifact("PricingOracle").code_hash
        assert hashes["PolicyShard"] == load_artifact("PolicyShard").code_hash
        assert len(shards) == 16

    return pulumi.Output.all(contracts.keeper_config, contracts.pricing_oracle_address,
                             contracts.policy_router_address, contracts.code_hashes,
                             contracts.policy_shard_addresses).apply(check)


@pulumi.runtime.test
def test_the_mnemonic_is_a_secret_input(mocks):
    recorder = Recorder()
    TonsuranceContracts("contracts", args(), pulumi.ResourceOptions(transformations=[recorder]))
    mnemonics = [p["deployer_mnemonic"] for name, p in recorder.props.items() if name != "contracts"]
    assert len(mnemonics) == 11 and MNEMONIC not in repr(args())

    async def secret_flags() -> list[bool]:
        return [await m.is_secret() for m in mnemonics]

    return pulumi.Output.from_input(asyncio.ensure_future(secret_flags())).apply(lambda flags: all(flags) or
                                                                                  pytest.fail("not secret"))


def test_args_from_the_stack_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path / "..")  # the project directory is named, never taken from the process
    project = str(tmp_path)
    local = TonsuranceContractsArgs.from_stack_config(parse(raw_config(), stack="local"), project, None)
    assert local.deployer.journal_path == str(tmp_path / ".state" / "journal" / "local-deployer.json")
    assert local.deployer.legacy_journal_path is None
    assert local.deployer.chain.localnet_path == str(tmp_path / ".state" / "localnet" / "chain.json")
    assert not local.protected
    assert local.deployer.mnemonic == CONFIG_MNEMONIC and CONFIG_MNEMONIC not in repr(local)
    # a folder backend keeps the journal beside the stack's state, where every operator of the stack reads it
    shared = TonsuranceContractsArgs.from_stack_config(parse(raw_config(), stack="local"), project,
                                                       f"file://{tmp_path / 'shared' / 'state'}")
    assert shared.deployer.journal_path == str(tmp_path / "shared" / "state" / ".tonsurance" / "journal" /
                                               "local-deployer.json")
    assert shared.deployer.legacy_journal_path == local.deployer.journal_path

    mainnet = TonsuranceContractsArgs.from_stack_config(parse(raw_config("mainnet"), stack="mainnet"), project,
                                                        "s3://tonsurance-pulumi-state/stacks?region=eu-central-1")
    # an S3 backend keeps it in the same bucket, beside Pulumi's own .pulumi/ folder, with the URL's settings
    assert mainnet.deployer.journal_path == ("s3://tonsurance-pulumi-state/stacks/.tonsurance/journal/"
                                             "mainnet-deployer.json?region=eu-central-1")
    assert mainnet.protected and mainnet.shard_count == 256 and mainnet.deployer.chain.localnet_path is None
    assert mainnet.deployer.chain.liteserver_config_path == os.path.abspath(raw_config("mainnet")["liteserverConfig"])


@pytest.mark.parametrize("backend", [None, "https://api.pulumi.com", "gs://bucket"])
def test_a_public_stack_without_a_place_beside_its_state_is_refused(tmp_path, backend):
    """A journal in a runner's throwaway checkout forgets messages in flight: testnet and mainnet refuse it."""
    for network in ("testnet", "mainnet"):
        with pytest.raises(JournalPlacementError, match=r"Set PULUMI_BACKEND_URL to the stack's backend"):
            TonsuranceContractsArgs.from_stack_config(parse(raw_config(network), stack=network), str(tmp_path), backend)


def test_building_args_writes_nothing_and_the_first_send_adopts_an_old_journal(tmp_path):
    old = tmp_path / ".state" / "journal" / "testnet-deployer.json"
    old.parent.mkdir(parents=True)
    old.write_text('{"format": 1, "wallets": {}, "sends": {}}')
    backend = tmp_path / "shared" / "state"
    args = TonsuranceContractsArgs.from_stack_config(parse(raw_config("testnet"), stack="testnet"), str(tmp_path),
                                                     f"file://{backend}")
    plan_contracts(args)
    assert not backend.exists()                                   # arguments and plan: nothing written
    journal = Path(args.deployer.journal_path)
    with deployer_turn({"journal_path": str(journal), "legacy_journal_path": args.deployer.legacy_journal_path}):
        assert json.loads(journal.read_text())["sends"] == {}      # the old journal is carried beside the state
    journal.write_text('{"format": 1, "wallets": {}, "sends": {"x": {}}}')
    with deployer_turn({"journal_path": str(journal), "legacy_journal_path": str(old)}):
        assert "x" in json.loads(journal.read_text())["sends"]    # never over a journal that exists


def test_a_keeper_change_moves_no_address_and_is_the_oracles_roles_input():
    before, after = plan_contracts(args()), plan_contracts(dataclasses.replace(args(), keeper_addresses=("0:" + "b3" * 32,)))
    for field in ("oracle", "vault", "router"):
        assert target_of(getattr(before, field).code, getattr(before, field).data).address == \
            target_of(getattr(after, field).code, getattr(after, field).data).address
    assert before.deployment == after.deployment                      # nothing to deploy for a rotation
    assert before.oracle.roles.keepers == tuple(sorted(["0:" + "b1" * 32, "0:" + "b2" * 32]))
    assert after.oracle.roles.keepers == ("0:" + "b3" * 32,)
    assert before.vault.roles is None and before.router.roles is None
    assert before.oracle.admin.address == "0:" + "a1" * 32 and before.oracle.admin.mnemonic is None


@pulumi.runtime.test
def test_the_local_admin_key_is_a_secret_input_of_the_oracle_only(mocks):
    recorder = Recorder()
    contracts = TonsuranceContracts(
        "contracts", dataclasses.replace(args(), admin_mnemonic="admin words " * 12, stack="local"),
        pulumi.ResourceOptions(transformations=[recorder]))
    oracle = recorder.props["contracts-pricing-oracle"]
    assert oracle["roles"] == {"keepers": sorted(["0:" + "b1" * 32, "0:" + "b2" * 32])}
    assert oracle["admin"] == {"address": "0:" + "a1" * 32, "stack": "local"}
    others = [p.get("admin_mnemonic") for n, p in recorder.props.items() if n not in ("contracts", "contracts-pricing-oracle")]
    assert not any(others)

    async def secret() -> bool:
        return await oracle["admin_mnemonic"].is_secret()

    return pulumi.Output.from_input(asyncio.ensure_future(secret())).apply(
        lambda flag: flag or pytest.fail("the admin key is not a secret"))
