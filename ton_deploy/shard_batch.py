"""`ShardBatch`: a range of PolicyShard contracts as one Pulumi resource (type `resource_types.TON_SHARD_BATCH`).

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

from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CreateResult, ReadResult
from pytoniq_core import Address

from chain.connect import connect
from chain.wallets import HighloadWalletV3
from contracts.policy_shard import PolicyShardConfig, init_data as shard_init_data
from resource_types import TON_SHARD_BATCH, dynamic_type
from ton_deploy.checks import check_derived, drifted, require_expected_code
from ton_deploy.deployer import chain_settings, deployer_inputs, deployer_journal, deployer_key, deployer_turn
from ton_deploy.plan import ShardBatchArgs
from ton_deploy.provider import TonProvider, TonResource, positive_value
from ton_deploy.sending import send_missing
from ton_deploy.targets import Target, cell_from_b64, cell_to_b64, target_of

OUTPUT_KEYS = ("shards", "deployed_ids", "adopted_ids", "deploy_tx_hash", "fees", "faucet_funded", "drift")


class ShardBatchProvider(TonProvider):
    REPLACE_KEYS = ("network", "router", "vault", "shard_count", "shard_ids", "shard_code_hash")
    RECORDED_KEYS = ("router", "vault", "shard_count", "shard_ids", "shard_code_boc", "shard_code_hash", "addresses",
                     "deploy_value", "chain")
    INVALID_INPUTS = ("", "invalid shard batch inputs")
    LEFT_ON_CHAIN = "its shards stay on chain"

    def describe(self, props: dict[str, Any]) -> str:
        return f"shard batch {_describe(props)} of router {props['router']}"

    def check_contracts(self, news: dict[str, Any]) -> list[CheckFailure]:
        failures = positive_value(news.get("deploy_value"))
        wrong = {i: t.raw for i, t in _targets(news).items() if news["addresses"].get(str(i)) != t.raw}
        if wrong:
            failures.append(CheckFailure("addresses", f"the program's shard addresses differ from the shard "
                                                      f"code and init data for shard(s) {sorted(wrong)}"))
        if cell_from_b64(news["shard_code_boc"]).hash.hex() != news["shard_code_hash"]:
            failures.append(CheckFailure("shard_code_hash", "does not match shard_code_boc"))
        return failures

    def compared(self, props: dict[str, Any], key: str) -> Any:
        if key == "shard_ids":
            return [int(i) for i in props["shard_ids"]]
        if key == "shard_count":
            return int(props["shard_count"])
        return super().compared(props, key)

    def create(self, props: dict[str, Any]) -> CreateResult:
        targets = _targets(props)
        what = f"shard batch {_describe(props)}"
        value, wait = int(props["deploy_value"]), float(props["wait_seconds"])
        outputs = {"deploy_tx_hash": None, "fees": 0, "faucet_funded": 0}
        with connect(chain_settings(props)) as client:
            infos = {i: client.account(t.address) for i, t in targets.items()}
            for i, info in infos.items():
                require_expected_code(info, targets[i], f"policy shard {i}")
            # Before anything is sent: policies would be routed to shards this batch would not deploy.
            check_derived(client, props["router"], "router", [
                {"what": f"shard {i}", "getter": "get_shard_address", "args": [i], "address": t.raw}
                for i, t in targets.items()])
            missing = [i for i, info in infos.items() if info.status != "active"]
            with deployer_turn(props):   # also when nothing is missing: settles what an earlier run left open
                wallet = HighloadWalletV3(client, deployer_key(props), deployer_journal(props))
                sent, missing, funded = send_missing(client, wallet, {i: targets[i] for i in missing}, value,
                                                     what, wait)
            if sent is not None:
                active = client.wait_for_active([targets[i].address for i in missing], wait)
                for i in missing:
                    require_expected_code(active[targets[i].raw], targets[i], f"policy shard {i}")
                outputs = {"deploy_tx_hash": sent.external_tx_hash, "fees": sent.fees, "faucet_funded": funded}
                earlier = ", journaled earlier" if sent.reused else ""
                pulumi.log.info(f"{what}: deployed {len(missing)} shard(s) ({_id_ranges(missing)}) in one highload "
                                f"message (wallet transaction {sent.external_tx_hash}{earlier}); "
                                f"{len(targets) - len(missing)} already active")
            else:
                pulumi.log.info(f"{what}: every shard is already active with the expected code: adopted, no message")
        adopted = [i for i in targets if i not in missing]
        return CreateResult(f"{props['router']}/{_describe(props)}", {
            **self.recorded(props), **outputs,
            "shards": {str(i): t.raw for i, t in targets.items()},
            "deployed_ids": missing, "adopted_ids": adopted, "drift": None,
        })

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with connect(chain_settings(props)) as client:
            found = drifted(client, _targets(props), f"shard batch {_describe(props)}")
        return ReadResult(id_, {**props, "drift": found})


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
        **deployer_inputs(args.deployer),
        **{key: None for key in OUTPUT_KEYS},
    }


class ShardBatch(TonResource, **dynamic_type(TON_SHARD_BATCH)):
    shards: pulumi.Output[dict]
    deployed_ids: pulumi.Output[list]
    adopted_ids: pulumi.Output[list]
    deploy_tx_hash: pulumi.Output[str | None]
    fees: pulumi.Output[int]
    faucet_funded: pulumi.Output[int]
    drift: pulumi.Output[dict | None]

    provider_class = ShardBatchProvider
    inputs_of = staticmethod(batch_inputs)


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
