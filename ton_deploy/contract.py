"""`TonContract`: one TON contract as a Pulumi resource (type `resource_types.TON_CONTRACT`).

The program computes the address from code + init data, so it is known at preview. The provider:
- diff: a new code hash, init-data hash, address or network means a new contract: replace. The deploy
  value alone changes nothing (a deployed contract keeps what it was given). Mutable roles (the oracle's
  keepers, `roles`) are compared apart, with what the chain showed last: a change is an *update* of the
  same contract (roles.py). Only these keys are compared, never the serialized provider.
- create: an account already active with the expected code is adopted (no message). Otherwise the deploy
  is computed on a private TVM first, then sent through the deployer's journaled wallet v4r2 (a re-run
  converges on the recorded message, never signs a second deploy), awaited and its code checked. Then
  the addresses the contract derives (`derived_addresses`) are compared with the program's.
  Then the roles are set (the oracle deploys with no keepers): by the stack's admin key (localnet) or as a
  multisig order reported pending (roles.py).
- update: only roles change: admin messages, or the multisig order (found open, or created once).
- read (refresh): reports drift (frozen, uninit, other code) in `drift` and as a warning, and roles changed
  on chain behind the program's back (`roles_applied`, a warning; the next up sets them back).
- delete: never touches the chain.
"""
from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CreateResult, DiffResult, ReadResult, UpdateResult

from chain.connect import connect
from chain.wallets import WalletV4R2
from resource_types import TON_CONTRACT, dynamic_type
from ton_deploy.checks import DeployRefused, check_derived, drift, require_expected_code
from ton_deploy.deployer import chain_settings, deployer_inputs, deployer_journal, deployer_key, deployer_turn
from ton_deploy.plan import TonContractArgs
from ton_deploy.provider import TonProvider, TonResource, positive_value
from ton_deploy.roles import apply_roles, read_roles, roles_changed
from ton_deploy.sending import send_missing
from ton_deploy.targets import Target, cell_from_b64, cell_to_b64, target_of

OUTPUT_KEYS = ("status", "balance", "deployed_by", "deploy_tx_hash", "fees", "faucet_funded", "drift", "roles_applied",
               "roles_pending")


class TonContractProvider(TonProvider):
    REPLACE_KEYS = ("network", "address", "code_hash", "data_hash")
    RECORDED_KEYS = ("kind", "address", "code_hash", "data_hash", "code_boc", "data_boc", "deploy_value", "chain",
                     "derived_addresses", "roles", "admin")
    INVALID_INPUTS = ("", "code_boc / data_boc are not valid BOCs")
    LEFT_ON_CHAIN = "the contract stays on chain"

    def describe(self, props: dict[str, Any]) -> str:
        return f"{props['kind']} contract {props['address']}"

    def check_contracts(self, news: dict[str, Any]) -> list[CheckFailure]:
        failures = positive_value(news.get("deploy_value"))
        target = _target(news)
        if target.code_hash != news["code_hash"] or target.state_init.data.hash.hex() != news["data_hash"]:
            failures.append(CheckFailure("code_hash", "code_hash / data_hash do not match the BOCs"))
        if target.raw != news["address"]:
            failures.append(CheckFailure("address", f"the program computed {news['address']} but code and "
                                                    f"init data give {target.raw}"))
        return failures

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replacing = super().diff(id_, olds, news)
        return DiffResult(changes=replacing.changes or roles_changed(olds, news), replaces=replacing.replaces,
                          stables=[], delete_before_replace=False)

    def recorded(self, props: dict[str, Any]) -> dict[str, Any]:
        return {key: props.get(key) for key in self.RECORDED_KEYS}   # state from before roles lacks them

    def create(self, props: dict[str, Any]) -> CreateResult:
        target, kind = _target(props), props["kind"]
        what = f"{kind} contract"
        outputs = {"deployed_by": "adopted", "deploy_tx_hash": None, "fees": 0, "faucet_funded": 0}
        with connect(chain_settings(props)) as client:
            info = client.account(target.address)
            require_expected_code(info, target, what)
            wait = float(props["wait_seconds"])
            with deployer_turn(props):   # also when active: settles what an earlier run left open
                wallet = WalletV4R2(client, deployer_key(props), deployer_journal(props))
                missing = {} if info.status == "active" else {target.raw: target}
                sent, _, funded = send_missing(client, wallet, missing, int(props["deploy_value"]), what, wait)
            if sent is None:
                pulumi.log.info(f"{what} {target.raw} is already active with the expected code: adopted, "
                                "no message sent")
            else:
                outputs = {"deployed_by": "message", "deploy_tx_hash": sent.external_tx_hash, "fees": sent.fees,
                           "faucet_funded": funded}
                pulumi.log.info(f"{what} deployed at {target.raw} (wallet transaction {sent.external_tx_hash}"
                                f"{', journaled earlier' if sent.reused else ''})")
            info = client.wait_for_active([target.address], wait)[target.raw]
            require_expected_code(info, target, what)
            check_derived(client, target.raw, kind, props.get("derived_addresses") or [])
            roles = _apply_roles(client, props)
        return CreateResult(target.raw, {**self.recorded(props), **outputs, "status": info.status,
                                         "balance": info.balance, "drift": None, **roles})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Only roles change in place (anything else is a replace): set them on the same contract."""
        target = _target(news)
        with connect(chain_settings(news)) as client:
            info = client.account(target.address)
            if info.status != "active":
                raise DeployRefused(f"{news['kind']} contract {target.raw} is {info.status}: its roles cannot be set")
            require_expected_code(info, target, f"{news['kind']} contract")
            roles = _apply_roles(client, news)
        kept = {key: olds.get(key) for key in ("deployed_by", "deploy_tx_hash", "fees", "faucet_funded")}
        return UpdateResult({**self.recorded(news), **kept, "status": info.status, "balance": info.balance,
                             "drift": None, **roles})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        roles = {}
        with connect(chain_settings(props)) as client:
            info = client.account(_target(props).address)
            found = drift(info, props["code_hash"])
            if props.get("roles") is not None and found is None:
                roles = {"roles_applied": read_roles(client, _target(props).address)}
        if found:
            pulumi.log.warn(f"{props['kind']} contract {id_} drifted: {found}")
        if roles and roles["roles_applied"] != (props.get("roles_applied") or props["roles"]):
            pulumi.log.warn(f"{props['kind']} contract {id_}: roles changed on chain behind the program's back: "
                            f"{roles['roles_applied']} on chain, {props['roles']} in the stack; the next "
                            "`pulumi up` sets the stack's")
        return ReadResult(id_, {**props, "status": info.status, "balance": info.balance, "drift": found, **roles})


def _apply_roles(client, props: dict[str, Any]) -> dict[str, Any]:
    if props.get("roles") is None:
        return {"roles_applied": None, "roles_pending": None}
    with deployer_turn(props):   # orders are sent by the deployer wallet: one send at a time per journal
        return apply_roles(client, props, lambda: deployer_key(props), props["journal_path"],
                           float(props["wait_seconds"]))


def contract_inputs(args: TonContractArgs) -> dict[str, Any]:
    """The resource's inputs as the provider receives them (outputs declared as None)."""
    target = target_of(args.code, args.data)
    return {
        "kind": args.kind,
        "address": target.raw,
        "code_hash": target.code_hash,
        "data_hash": args.data.hash.hex(),
        "code_boc": cell_to_b64(args.code),
        "data_boc": cell_to_b64(args.data),
        "deploy_value": args.deploy_value,
        **deployer_inputs(args.deployer),
        "derived_addresses": [d.as_input() for d in args.derived_addresses],
        "roles": {"keepers": list(args.roles.keepers)} if args.roles else None,
        "admin": {"address": args.admin.address, "stack": args.admin.stack} if args.admin else None,
        "admin_mnemonic": args.admin.mnemonic if args.admin else None,
        **{key: None for key in OUTPUT_KEYS},
    }


class TonContract(TonResource, **dynamic_type(TON_CONTRACT)):
    address: pulumi.Output[str]
    code_hash: pulumi.Output[str]
    data_hash: pulumi.Output[str]
    status: pulumi.Output[str]
    balance: pulumi.Output[int]
    deployed_by: pulumi.Output[str]
    deploy_tx_hash: pulumi.Output[str | None]
    fees: pulumi.Output[int]
    faucet_funded: pulumi.Output[int]
    drift: pulumi.Output[str | None]
    roles_applied: pulumi.Output[dict | None]
    roles_pending: pulumi.Output[dict | None]

    provider_class = TonContractProvider
    inputs_of = staticmethod(contract_inputs)
    secret_inputs = ("admin_mnemonic",)


def _target(props: dict[str, Any]) -> Target:
    return target_of(cell_from_b64(props["code_boc"]), cell_from_b64(props["data_boc"]))
