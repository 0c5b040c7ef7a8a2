"""`ShardBatch`: a range of PolicyShard contracts as one Pulumi resource (type `pulumi-python:dynamic/ton:ShardBatch`).

create deploys only the shards of the range that are not active yet, with one external message from the
deployer's highload wallet v3, after checking on chain that the router derives exactly the addresses the
program computed and after computing every deploy on a private TVM. The message goes through the send
journal, whose intent is the fingerprint of the transfers: a run killed halfway converges on the next
`up` (shards already active are adopted, a message already signed for the same missing shards is
re-broadcast, never re-signed), so every shard is deployed once.

diff: another router, vault, shard count, shard code, id range or network is other contracts: replace; the
deploy value alone changes nothing. read reports drift per shard; delete never touches the chain.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, Resource, ResourceProvider
from pytoniq_core import Address, Cell

from chain.client import ChainSettings, connect
from chain.sandbox import raw_address
from chain.wallets import HighloadWalletV3
from contracts.base import read_address
from contracts.policy_shard import PolicyShardConfig, init_data as shard_init_data
from config import SecretReference
from dynamic_providers.deployer_mnemonic import mnemonic_inputs, reference_failure, secret_mnemonic_inputs
from dynamic_providers.ton_deploy import (
    DEFAULT_WAIT_SECONDS, DerivedAddressMismatch, Target, cell_from_b64, cell_to_b64, chain_input, chain_settings,
    deployer_key, deployer_turn, drift, require_expected_code, send_missing, target_of,
)

REPLACE_KEYS = ("network", "router", "vault", "shard_count", "shard_ids", "shard_code_hash")


@dataclass(frozen=True)
class ShardBatchArgs:
    router: str                                # raw address of the PolicyRouter (checked to derive the same shards)
    vault: str                                 # raw address of the MultiTrancheVault, the shards' owner (init data)
    shard_count: int                           # the router's shard count (16 or 256)
    shard_ids: tuple[int, ...]                 # the ids of this batch
    shard_code: Cell
    addresses: dict[int, str]                  # shard id -> raw address, as the program computed them
    deploy_value: int                          # nanotons per shard
    chain: ChainSettings
    # The words (made a secret by the resource) or a Secrets Manager reference (fetched inside create).
    deployer_mnemonic: pulumi.Input[str] | SecretReference = field(repr=False)
    journal_path: str
    wait_seconds: float = DEFAULT_WAIT_SECONDS


class ShardBatchProvider(ResourceProvider):
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        try:
            targets = _targets(news)
            wrong = {i: t.raw for i, t in targets.items() if news["addresses"].get(str(i)) != t.raw}
            if wrong:
                failures.append(CheckFailure("addresses", f"the program's shard addresses differ from the shard "
                                                          f"code and init data for shard(s) {sorted(wrong)}"))
            if cell_from_b64(news["shard_code_boc"]).hash.hex() != news["shard_code_hash"]:
                failures.append(CheckFailure("shard_code_hash", "does not match shard_code_boc"))
        except (KeyError, ValueError, TypeError, IndexError) as error:
            failures.append(CheckFailure("", f"invalid shard batch inputs: {error}"))
        if not int(news.get("deploy_value") or 0) > 0:
            failures.append(CheckFailure("deploy_value", "must be a positive number of nanotons"))
        try:
            chain_settings(news)
        except Exception as error:  # ChainError or a missing key: say which settings are wrong
            failures.append(CheckFailure("chain", str(error)))
        if (mnemonic_failure := reference_failure(news)) is not None:
            failures.append(CheckFailure("deployer_mnemonic_ref", mnemonic_failure))
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [key for key in REPLACE_KEYS if _compared(olds, key) != _compared(news, key)]
        return DiffResult(changes=bool(replaces), replaces=replaces, stables=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        targets = _targets(props)
        what = f"shard batch {_describe(props)}"
        value, wait = int(props["deploy_value"]), float(props["wait_seconds"])
        outputs = {"deploy_tx_hash": None, "fees": 0, "faucet_funded": 0}
        with connect(chain_settings(props)) as client:
            infos = {i: client.account(t.address) for i, t in targets.items()}
            for i, info in infos.items():
                require_expected_code(info, targets[i], f"policy shard {i}")
            _check_router_derives(client, Address(props["router"]), targets)
            missing = [i for i, info in infos.items() if info.status != "active"]
            with deployer_turn(props):   # also when nothing is missing: settles what an earlier run left open
                wallet = HighloadWalletV3(client, deployer_key(props), props["journal_path"])
                sent, missing, funded = send_missing(client, wallet, {i: targets[i] for i in missing}, value,
                                                     what, wait)
            if sent is not None:
                active = client.wait_for_active([targets[i].address for i in missing], wait)
                for i in missing:
                    infos[i] = active[targets[i].raw]
                    require_expected_code(infos[i], targets[i], f"policy shard {i}")
                outputs = {"deploy_tx_hash": sent.external_tx_hash, "fees": sent.fees, "faucet_funded": funded}
                earlier = ", journaled earlier" if sent.reused else ""
                pulumi.log.info(f"{what}: deployed {len(missing)} shard(s) ({_id_ranges(missing)}) in one highload "
                                f"message (wallet transaction {sent.external_tx_hash}{earlier}); "
                                f"{len(targets) - len(missing)} already active")
            else:
                pulumi.log.info(f"{what}: every shard is already active with the expected code: adopted, no message")
        adopted = [i for i in targets if i not in missing]
        return CreateResult(f"{props['router']}/{_describe(props)}", {
            **_recorded(props), **outputs,
            "shards": {str(i): t.raw for i, t in targets.items()},
            "deployed_ids": missing, "adopted_ids": adopted, "drift": None,
        })

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        targets = _targets(props)
        with connect(chain_settings(props)) as client:
            found = {str(i): d for i, t in targets.items()
                     if (d := drift(client.account(t.address), props["shard_code_hash"])) is not None}
        if found:
            pulumi.log.warn(f"shard batch {_describe(props)} drifted: " +
                            "; ".join(f"shard {i}: {d}" for i, d in found.items()))
        return ReadResult(id_, {**props, "drift": found or None})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Contracts cannot be removed from TON: dropping the batch leaves its shards on chain."""
        pulumi.log.info(f"shard batch {_describe(props)} of router {props['router']} removed from the stack; "
                        "its shards stay on chain (delete never sends anything)")


class ShardBatch(Resource, module="ton", name="ShardBatch"):
    shards: pulumi.Output[dict]
    deployed_ids: pulumi.Output[list]
    adopted_ids: pulumi.Output[list]
    deploy_tx_hash: pulumi.Output[str | None]
    fees: pulumi.Output[int]
    faucet_funded: pulumi.Output[int]
    drift: pulumi.Output[dict | None]

    def __init__(self, name: str, args: ShardBatchArgs, opts: pulumi.ResourceOptions | None = None):
        props, secret = secret_mnemonic_inputs(batch_inputs(args))
        super().__init__(ShardBatchProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret))


def batch_inputs(args: ShardBatchArgs) -> dict[str, Any]:
    """The resource's inputs as the provider receives them (outputs declared as None)."""
    return {
        "router": args.router,
        "vault": args.vault,
        "shard_count": args.shard_count,
        "shard_ids": list(args.shard_ids),
        "shard_code_boc": cell_to_b64(args.shard_code),
        "shard_code_hash": args.shard_code.hash.hex(),
        "addresses": {str(i): address for i, address in args.addresses.items()},
        "deploy_value": args.deploy_value,
        "chain": chain_input(args.chain),
        **mnemonic_inputs(args.deployer_mnemonic),
        "journal_path": args.journal_path,
        "wait_seconds": args.wait_seconds,
        **{key: None for key in ("shards", "deployed_ids", "adopted_ids", "deploy_tx_hash", "fees",
                                 "faucet_funded", "drift")},
    }


def _targets(props: dict[str, Any]) -> dict[int, Target]:
    code, vault, count = cell_from_b64(props["shard_code_boc"]), Address(props["vault"]), int(props["shard_count"])
    return {int(i): target_of(code, shard_init_data(PolicyShardConfig(int(i), vault, count)))
            for i in props["shard_ids"]}


def _describe(props: dict[str, Any]) -> str:
    ids = [int(i) for i in props["shard_ids"]]
    return f"shards {min(ids)}-{max(ids)} of {int(props['shard_count'])}"


def _id_ranges(ids: list[int]) -> str:
    """[0, 1, 2, 5] -> "0-2, 5"."""
    ranges: list[list[int]] = []
    for i in ids:
        if ranges and i == ranges[-1][1] + 1:
            ranges[-1][1] = i
        else:
            ranges.append([i, i])
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in ranges)


def _compared(props: dict[str, Any], key: str) -> Any:
    if key == "network":
        return props["chain"]["network"]
    if key == "shard_ids":
        return [int(i) for i in props["shard_ids"]]
    if key == "shard_count":
        return int(props["shard_count"])
    return props.get(key)


def _recorded(props: dict[str, Any]) -> dict[str, Any]:
    """The inputs kept in the outputs: what diff and read need. Never the mnemonic."""
    return {key: props[key] for key in ("router", "vault", "shard_count", "shard_ids", "shard_code_boc", "shard_code_hash",
                                        "addresses", "deploy_value", "chain")}


def _check_router_derives(client, router: Address, targets: dict[int, Target]) -> None:
    wrong = {}
    for i, target in targets.items():
        derived = raw_address(read_address(client.run_get_method(router, "get_shard_address", [i])[0]))
        if derived != target.raw:
            wrong[i] = derived
    if wrong:
        shown = "; ".join(f"shard {i}: router {d}, program {targets[i].raw}" for i, d in list(wrong.items())[:5])
        raise DerivedAddressMismatch(
            f"router {raw_address(router)} derives other addresses than the program computed for {len(wrong)} "
            f"shard(s) ({shown}); nothing was sent: policies would be routed to shards this batch would not deploy")
