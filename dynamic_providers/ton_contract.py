"""`TonContract`: one TON contract as a Pulumi resource (type `pulumi-python:dynamic/ton:Contract`).

The program computes the address from code + init data, so it is known at preview. The provider:
- diff: a new code hash, init-data hash, address or network means a new contract: replace. The deploy
  value alone changes nothing (a deployed contract keeps what it was given). Only these keys are
  compared, never the serialized provider.
- create: an account already active with the expected code is adopted (no message). Otherwise the deploy
  is computed on a private TVM first, then sent through the deployer's journaled wallet v4r2 (a re-run
  converges on the recorded message, never signs a second deploy), awaited and its code checked. Then
  the addresses the contract derives (`derived_addresses`) are compared with the program's.
- read (refresh): reports drift (frozen, uninit, other code) in `drift` and as a warning.
- delete: never touches the chain.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, Resource, ResourceProvider
from pytoniq_core import Address

from chain.client import ChainSettings, connect
from chain.wallets import WalletV4R2
from config import SecretReference
from dynamic_providers.deployer_mnemonic import mnemonic_inputs, reference_failure, secret_mnemonic_inputs
from dynamic_providers.ton_deploy import (
    DEFAULT_WAIT_SECONDS, Target, cell_from_b64, cell_to_b64, chain_input, chain_settings,
    check_derived, deployer_key, deployer_turn, drift, require_expected_code, send_missing, target_of,
)

# A change to any of these is another contract at another address (or on another chain): replace.
REPLACE_KEYS = ("network", "address", "code_hash", "data_hash")


@dataclass(frozen=True)
class DerivedAddress:
    """An address the contract computes on chain (getter `getter(*args)`) that must equal the program's."""
    what: str          # e.g. "SURE-BTC token"
    getter: str
    args: tuple[int, ...]
    address: str       # raw, as computed by the program


@dataclass(frozen=True)
class TonContractArgs:
    kind: str                                  # contract name, e.g. "PricingOracle"
    code: Any                                  # pytoniq_core Cell
    data: Any                                  # pytoniq_core Cell: the init data
    deploy_value: int                          # nanotons sent with the deploy message
    chain: ChainSettings
    # The words (made a secret by the resource) or a Secrets Manager reference (fetched inside create).
    deployer_mnemonic: pulumi.Input[str] | SecretReference = field(repr=False)
    journal_path: str                          # the deployer wallets' send journal
    derived_addresses: tuple[DerivedAddress, ...] = field(default_factory=tuple)
    wait_seconds: float = DEFAULT_WAIT_SECONDS


class TonContractProvider(ResourceProvider):
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        try:
            target = _target(news)
            if target.code_hash != news["code_hash"] or target.state_init.data.hash.hex() != news["data_hash"]:
                failures.append(CheckFailure("code_hash", "code_hash / data_hash do not match the BOCs"))
            if target.raw != news["address"]:
                failures.append(CheckFailure("address", f"the program computed {news['address']} but code and "
                                                        f"init data give {target.raw}"))
        except (KeyError, ValueError, TypeError, IndexError) as error:
            failures.append(CheckFailure("", f"code_boc / data_boc are not valid BOCs: {error}"))
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
        target, kind = _target(props), props["kind"]
        what = f"{kind} contract"
        outputs = {"deployed_by": "adopted", "deploy_tx_hash": None, "fees": 0, "faucet_funded": 0}
        with connect(chain_settings(props)) as client:
            info = client.account(target.address)
            require_expected_code(info, target, what)
            wait = float(props["wait_seconds"])
            with deployer_turn(props):   # also when active: settles what an earlier run left open
                wallet = WalletV4R2(client, deployer_key(props), props["journal_path"])
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
        return CreateResult(target.raw, {**_recorded(props), **outputs, "status": info.status,
                                         "balance": info.balance, "drift": None})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with connect(chain_settings(props)) as client:
            info = client.account(Address(props["address"]))
        found = drift(info, props["code_hash"])
        if found:
            pulumi.log.warn(f"{props['kind']} contract {id_} drifted: {found}")
        return ReadResult(id_, {**props, "status": info.status, "balance": info.balance, "drift": found})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Contracts cannot be removed from TON: dropping the resource leaves the contract on chain."""
        pulumi.log.info(f"{props['kind']} contract {id_} removed from the stack; the contract stays on chain "
                        "(delete never sends anything)")


class TonContract(Resource, module="ton", name="Contract"):
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

    def __init__(self, name: str, args: TonContractArgs, opts: pulumi.ResourceOptions | None = None):
        props, secret = secret_mnemonic_inputs(contract_inputs(args))
        super().__init__(TonContractProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret))


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
        "chain": chain_input(args.chain),
        **mnemonic_inputs(args.deployer_mnemonic),
        "journal_path": args.journal_path,
        "derived_addresses": [{"what": d.what, "getter": d.getter, "args": list(d.args), "address": d.address}
                              for d in args.derived_addresses],
        "wait_seconds": args.wait_seconds,
        **{key: None for key in ("status", "balance", "deployed_by", "deploy_tx_hash", "fees", "faucet_funded",
                                 "drift")},
    }


def _target(props: dict[str, Any]) -> Target:
    return target_of(cell_from_b64(props["code_boc"]), cell_from_b64(props["data_boc"]))


def _compared(props: dict[str, Any], key: str) -> Any:
    return props["chain"]["network"] if key == "network" else props.get(key)


def _recorded(props: dict[str, Any]) -> dict[str, Any]:
    """The inputs kept in the outputs: what diff and read need. Never the mnemonic."""
    return {key: props[key] for key in ("kind", "address", "code_hash", "data_hash", "code_boc", "data_boc",
                                        "deploy_value", "chain", "derived_addresses")}
