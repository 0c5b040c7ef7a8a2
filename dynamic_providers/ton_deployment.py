"""`TonDeployment`: every contract of the plan sent at once (type `pulumi-python:dynamic/ton:Deployment`).

Every address and init data is computed offline, so no contract needs another to exist before it is
deployed: the order oracle -> vault -> tokens -> router -> shards is only logical. This resource deploys
all of them in one external message of the deployer's highload wallet v3 (a single chain round trip);
the `TonContract` and `ShardBatch` resources depend on it, find their contracts active and adopt them,
and their checks that read the chain (derived addresses, code hashes) run then.

create / update, in order:
1. read every account: frozen or other code is refused, active ones are adopted;
2. execute every deploy on one private TVM (the same code, config and values) and run every derived-address
   getter there (the vault's tokens, the router's shards): a mismatch stops everything, nothing sent;
3. under the deployer's turn, settle the wallet's open messages, read again and send only what is missing,
   through the journal (`send_missing`);
4. wait until everything is active, check code hashes, then the derived addresses on chain.

diff: another network is another deployment (replace); another set of contracts is an update, which
deploys the new ones and adopts the rest. read reports drift; delete never touches the chain.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.dynamic import (CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, Resource, ResourceProvider,
                            UpdateResult)

from chain.client import ChainSettings, connect
from chain.sandbox import Sandbox
from chain.wallets import HighloadWalletV3
from config import SecretReference
from dynamic_providers.deployer_mnemonic import mnemonic_inputs, reference_failure, secret_mnemonic_inputs
from dynamic_providers.ton_deploy import (
    DEFAULT_WAIT_SECONDS, Target, cell_from_b64, cell_to_b64, chain_input, chain_settings, check_derived,
    compute_deploys, deployer_key, deployer_turn, drift, require_deployable, require_expected_code, send_missing,
    target_of,
)
from dynamic_providers.ton_contract import DerivedAddress


@dataclass(frozen=True)
class PlannedContract:
    name: str                                  # e.g. "pricing-oracle", "policy-shard-017"
    kind: str
    code: Any                                  # pytoniq_core Cell (stored once per distinct code)
    data: Any                                  # pytoniq_core Cell
    deploy_value: int
    derived_addresses: tuple[DerivedAddress, ...] = ()


@dataclass(frozen=True)
class TonDeploymentArgs:
    contracts: tuple[PlannedContract, ...]
    chain: ChainSettings
    # The words (made a secret by the resource) or a Secrets Manager reference (fetched inside create).
    deployer_mnemonic: pulumi.Input[str] | SecretReference = field(repr=False)
    journal_path: str
    wait_seconds: float = DEFAULT_WAIT_SECONDS


class TonDeploymentProvider(ResourceProvider):
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        try:
            for name, target in _targets(news).items():
                item = news["contracts"][name]
                if target.raw != item["address"]:
                    failures.append(CheckFailure("contracts", f"{name}: the program computed {item['address']} "
                                                              f"but code and init data give {target.raw}"))
                if not int(item["deploy_value"]) > 0:
                    failures.append(CheckFailure("contracts", f"{name}: deploy_value must be positive nanotons"))
        except (KeyError, ValueError, TypeError, IndexError) as error:
            failures.append(CheckFailure("contracts", f"invalid planned contracts: {error}"))
        try:
            chain_settings(news)
        except Exception as error:  # ChainError or a missing key: say which settings are wrong
            failures.append(CheckFailure("chain", str(error)))
        if (mnemonic_failure := reference_failure(news)) is not None:
            failures.append(CheckFailure("deployer_mnemonic_ref", mnemonic_failure))
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = ["chain"] if olds["chain"]["network"] != news["chain"]["network"] else []
        changed = _addresses(olds) != _addresses(news)
        return DiffResult(changes=bool(replaces) or changed, replaces=replaces, stables=[],
                          delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"deployment-{len(props['contracts'])}", self._deploy(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._deploy(news))

    def _deploy(self, props: dict[str, Any]) -> dict[str, Any]:
        targets, planned = _targets(props), props["contracts"]
        values = {name: int(item["deploy_value"]) for name, item in planned.items()}
        wait = float(props["wait_seconds"])
        what = f"deployment of {len(targets)} contract(s)"
        with connect(chain_settings(props)) as client:
            for name, target in targets.items():
                require_expected_code(client.account(target.address), target, f"{planned[name]['kind']} {name}")
            with deployer_turn(props):
                wallet = HighloadWalletV3(client, deployer_key(props), props["journal_path"])
                _check_on_private_tvm(client.now(), wallet, targets, planned, values, what)
                sent, deployed, funded = send_missing(client, wallet, targets, values, what, wait)
            active = client.wait_for_active([t.address for t in targets.values()], wait)
            for name, target in targets.items():
                require_expected_code(active[target.raw], target, f"{planned[name]['kind']} {name}")
            for name, item in planned.items():
                check_derived(client, item["address"], item["kind"], item.get("derived_addresses") or [])
        if sent is not None:
            pulumi.log.info(f"{what}: sent {len(deployed)} in one highload message (wallet transaction "
                            f"{sent.external_tx_hash}{', journaled earlier' if sent.reused else ''}); "
                            f"{len(targets) - len(deployed)} already active")
        else:
            pulumi.log.info(f"{what}: every contract is already active with the expected code: adopted, no message")
        return {**_recorded(props), "deployed": sorted(deployed), "adopted": sorted(set(targets) - set(deployed)),
                "deploy_tx_hash": sent.external_tx_hash if sent else None, "fees": sent.fees if sent else 0,
                "faucet_funded": funded, "drift": None}

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        targets = _targets(props)
        with connect(chain_settings(props)) as client:
            found = {name: d for name, t in targets.items()
                     if (d := drift(client.account(t.address), t.code_hash)) is not None}
        if found:
            pulumi.log.warn(f"deployment drifted: " + "; ".join(f"{n}: {d}" for n, d in list(found.items())[:10]))
        return ReadResult(id_, {**props, "drift": found or None})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Contracts cannot be removed from TON: dropping the deployment leaves every contract on chain."""
        pulumi.log.info(f"deployment {id_} removed from the stack; its contracts stay on chain "
                        "(delete never sends anything)")


class TonDeployment(Resource, module="ton", name="Deployment"):
    deployed: pulumi.Output[list]
    adopted: pulumi.Output[list]
    deploy_tx_hash: pulumi.Output[str | None]
    fees: pulumi.Output[int]
    faucet_funded: pulumi.Output[int]
    drift: pulumi.Output[dict | None]

    def __init__(self, name: str, args: TonDeploymentArgs, opts: pulumi.ResourceOptions | None = None):
        props, secret = secret_mnemonic_inputs(deployment_inputs(args))
        super().__init__(TonDeploymentProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret))


def deployment_inputs(args: TonDeploymentArgs) -> dict[str, Any]:
    """The resource's inputs as the provider receives them: each distinct code once, then the contracts."""
    codes = {c.code.hash.hex(): cell_to_b64(c.code) for c in args.contracts}
    return {
        "codes": codes,
        "contracts": {c.name: {"kind": c.kind, "code_hash": c.code.hash.hex(), "data_boc": cell_to_b64(c.data),
                               "address": target_of(c.code, c.data).raw, "deploy_value": c.deploy_value,
                               "derived_addresses": [{"what": d.what, "getter": d.getter, "args": list(d.args),
                                                      "address": d.address} for d in c.derived_addresses]}
                      for c in args.contracts},
        "chain": chain_input(args.chain),
        **mnemonic_inputs(args.deployer_mnemonic),
        "journal_path": args.journal_path,
        "wait_seconds": args.wait_seconds,
        **{key: None for key in ("deployed", "adopted", "deploy_tx_hash", "fees", "faucet_funded", "drift")},
    }


def _targets(props: dict[str, Any]) -> dict[str, Target]:
    codes = {h: cell_from_b64(boc) for h, boc in props["codes"].items()}
    return {name: target_of(codes[item["code_hash"]], cell_from_b64(item["data_boc"]))
            for name, item in props["contracts"].items()}


def _addresses(props: dict[str, Any]) -> list[str]:
    return sorted(item["address"] for item in props["contracts"].values())


def _recorded(props: dict[str, Any]) -> dict[str, Any]:
    """The inputs kept in the outputs: what diff and read need. Never the mnemonic."""
    return {key: props[key] for key in ("codes", "contracts", "chain")}


def _check_on_private_tvm(now: int, wallet: HighloadWalletV3, targets: dict[str, Target], planned: dict[str, Any],
                          values: dict[str, int], what: str) -> None:
    """Every deploy and every derived address, computed on one private TVM before anything is sent."""
    sandbox = Sandbox(now=now)
    names = list(targets)
    require_deployable(compute_deploys(now, wallet.address, [targets[n] for n in names], [values[n] for n in names],
                                       sandbox), what)
    for name in names:
        check_derived(sandbox, planned[name]["address"], planned[name]["kind"],
                      planned[name].get("derived_addresses") or [], " on a private copy of the TVM")
