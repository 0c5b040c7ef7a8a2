"""`TonDeployment`: every contract of the plan sent at once (type `resource_types.TON_DEPLOYMENT`).

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

from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CreateResult, DiffResult, ReadResult, UpdateResult

from chain.connect import connect
from chain.sandbox import Sandbox
from chain.wallets import HighloadWalletV3
from resource_types import TON_DEPLOYMENT, dynamic_type
from ton_deploy.checks import check_derived, compute_deploys, drifted, require_deployable, require_expected_code
from ton_deploy.deployer import chain_settings, deployer_inputs, deployer_journal, deployer_key, deployer_turn
from ton_deploy.plan import TonDeploymentArgs
from ton_deploy.provider import TonProvider, TonResource, positive_value
from ton_deploy.sending import send_missing
from ton_deploy.targets import Target, cell_from_b64, cell_to_b64, target_of

OUTPUT_KEYS = ("deployed", "adopted", "deploy_tx_hash", "fees", "faucet_funded", "drift")


class TonDeploymentProvider(TonProvider):
    RECORDED_KEYS = ("codes", "contracts", "chain")
    INVALID_INPUTS = ("contracts", "invalid planned contracts")

    def describe(self, props: dict[str, Any]) -> str:
        return f"deployment of {len(props['contracts'])} contract(s)"

    def check_contracts(self, news: dict[str, Any]) -> list[CheckFailure]:
        failures = []
        for name, target in _targets(news).items():
            item = news["contracts"][name]
            if target.raw != item["address"]:
                failures.append(CheckFailure("contracts", f"{name}: the program computed {item['address']} "
                                                          f"but code and init data give {target.raw}"))
            failures += positive_value(item["deploy_value"], "contracts", f"{name}: ")
        return failures

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Another network is another deployment (replace); another set of contracts is an update."""
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
        what = self.describe(props)
        with connect(chain_settings(props)) as client:
            for name, target in targets.items():
                require_expected_code(client.account(target.address), target, f"{planned[name]['kind']} {name}")
            with deployer_turn(props):
                wallet = HighloadWalletV3(client, deployer_key(props), deployer_journal(props))
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
        return {**self.recorded(props), "deployed": sorted(deployed), "adopted": sorted(set(targets) - set(deployed)),
                "deploy_tx_hash": sent.external_tx_hash if sent else None, "fees": sent.fees if sent else 0,
                "faucet_funded": funded, "drift": None}

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with connect(chain_settings(props)) as client:
            found = drifted(client, _targets(props), "deployment")
        return ReadResult(id_, {**props, "drift": found})


def deployment_inputs(args: TonDeploymentArgs) -> dict[str, Any]:
    """The resource's inputs as the provider receives them: each distinct code once, then the contracts."""
    codes = {c.code.hash.hex(): cell_to_b64(c.code) for c in args.contracts}
    return {
        "codes": codes,
        "contracts": {c.name: {"kind": c.kind, "code_hash": c.code.hash.hex(), "data_boc": cell_to_b64(c.data),
                               "address": target_of(c.code, c.data).raw, "deploy_value": c.deploy_value,
                               "derived_addresses": [d.as_input() for d in c.derived_addresses]}
                      for c in args.contracts},
        **deployer_inputs(args.deployer),
        **{key: None for key in OUTPUT_KEYS},
    }


class TonDeployment(TonResource, **dynamic_type(TON_DEPLOYMENT)):
    deployed: pulumi.Output[list]
    adopted: pulumi.Output[list]
    deploy_tx_hash: pulumi.Output[str | None]
    fees: pulumi.Output[int]
    faucet_funded: pulumi.Output[int]
    drift: pulumi.Output[dict | None]

    provider_class = TonDeploymentProvider
    inputs_of = staticmethod(deployment_inputs)


def _targets(props: dict[str, Any]) -> dict[str, Target]:
    codes = {h: cell_from_b64(boc) for h, boc in props["codes"].items()}
    return {name: target_of(codes[item["code_hash"]], cell_from_b64(item["data_boc"]))
            for name, item in props["contracts"].items()}


def _addresses(props: dict[str, Any]) -> list[str]:
    return sorted(item["address"] for item in props["contracts"].values())


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
