"""What the TON providers (`ton_contract.py`, `shard_batch.py`) share.

Resource inputs carry plain values only: the chain settings as a dict, the deployer mnemonic (a Pulumi
secret; the engine unwraps it before a provider method runs) or its Secrets Manager reference
(deployer_mnemonic.py), and the path of the wallets' send journal.
Every method builds its client and wallet from them, so the providers pickle and hold nothing between calls.

Money rules applied here:
- before anything is sent, each deploy is executed on a private in-memory chain (the same TVM and
  config) and refused unless the account comes out active with the expected code;
- wallets send through the journal (chain/wallets.py), so a re-run after any interruption converges on
  the recorded message instead of signing a second one; the journal lives beside the stack's state
  (`journal_location`), so every operator of a stack with a folder backend reads the same one;
- before the missing contracts are computed, the wallet's open messages are settled and the chain is
  read again (`send_missing`): what an earlier message deployed is adopted, never sent twice;
- the deployer's balance is checked before signing; the faucet tops it up only on localnet.
"""
from __future__ import annotations

import base64
import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import pulumi
from pytoniq_core import Address, Cell, StateInit

from chain.client import AccountInfo, ChainClient, ChainError, ChainSettings
from chain.files import exclusive_lock
from chain.localnet import LocalnetClient
from chain.sandbox import Sandbox, raw_address
from chain.wallets import JournaledWallet, SendResult, Superseded, Transfer, WalletKey
from contracts.base import read_address
from dynamic_providers.deployer_mnemonic import resolve_deployer_mnemonic

TON = 10**9
# What a deployer wallet needs beyond chain/wallets.py's own requirement (values, forwarding, gas per
# message): its deployment on first use and the gas of a large batch.
WALLET_MARGIN = TON // 10
DEFAULT_WAIT_SECONDS = 120.0
LOCAL_JOURNAL_DIR = ".state/journal"
SUPERSEDED_READS = 3   # reads of the chain after an earlier message landed under a send (one is the norm)


class DeployRefused(ChainError):
    """Nothing was sent: the deploy would not produce the expected contract, or the address is taken."""


class DerivedAddressMismatch(ChainError):
    """A contract derives an address that differs from the one the program computed."""


@dataclass(frozen=True)
class Target:
    """A contract to deploy: its address and the StateInit whose hash that address is."""
    address: Address
    state_init: StateInit

    @property
    def code_hash(self) -> str:
        return self.state_init.code.hash.hex()

    @property
    def raw(self) -> str:
        return raw_address(self.address)


@dataclass(frozen=True)
class DeployEffect:
    """The computed outcome of one deploy message on a private copy of the TVM."""
    target: Target
    success: bool
    exit_code: int | None
    status: str
    code_hash: str | None
    balance: int
    fees: int

    @property
    def deploys(self) -> bool:
        return self.success and self.status == "active" and self.code_hash == self.target.code_hash


def chain_input(settings: ChainSettings) -> dict[str, Any]:
    """The resource input describing how to reach the chain (plain values, picklable)."""
    return {"network": settings.network, "localnet_path": settings.localnet_path,
            "liteserver_config_path": settings.liteserver_config_path}


def chain_settings(props: dict[str, Any]) -> ChainSettings:
    chain = props["chain"]
    return ChainSettings(chain["network"], localnet_path=chain.get("localnet_path"),
                         liteserver_config_path=chain.get("liteserver_config_path"))


def deployer_key(props: dict[str, Any]) -> WalletKey:
    """The deployer's key from the secret input, or from Secrets Manager by reference inside this call;
    errors never repeat the words."""
    return WalletKey.from_mnemonic(resolve_deployer_mnemonic(props))


def cell_from_b64(boc: str) -> Cell:
    return Cell.one_from_boc(base64.b64decode(boc))


def cell_to_b64(cell: Cell) -> str:
    return base64.b64encode(cell.to_boc()).decode()


def target_of(code: Cell, data: Cell) -> Target:
    state_init = StateInit(code=code, data=data)
    return Target(Address((0, state_init.serialize().hash)), state_init)


def friendly_address(raw: str, network: str) -> str:
    """The user-friendly bounceable form, test-only flagged off mainnet (as config.py writes addresses)."""
    return Address(raw).to_str(is_user_friendly=True, is_bounceable=True, is_test_only=network != "mainnet")


def compute_deploys(now: int, sender: Address, targets: Sequence[Target], value: int | Sequence[int],
                    sandbox: Sandbox | None = None) -> list[DeployEffect]:
    """Execute each deploy message (value + StateInit, bounceable) on a fresh in-memory chain (or on `sandbox`,
    which the caller keeps to run getters on the computed contracts)."""
    sandbox = sandbox or Sandbox(now=now)
    values = [value] * len(targets) if isinstance(value, int) else list(value)
    effects = []
    for target, amount in zip(targets, values):
        records = sandbox.send_internal(sender=sender, to=target.address, value=amount,
                                        state_init=target.state_init, bounce=True)
        deploy_tx = records[0]
        info = sandbox.account(target.address)
        effects.append(DeployEffect(target, deploy_tx.success, deploy_tx.exit_code, info.status, info.code_hash,
                                    info.balance, sum(r.total_fees for r in records)))
    return effects


def require_deployable(effects: Sequence[DeployEffect], what: str) -> None:
    failing = [e for e in effects if not e.deploys]
    if failing:
        shown = "; ".join(f"{e.target.raw}: transaction {'succeeded' if e.success else 'failed'} "
                          f"(exit code {e.exit_code}), account {e.status}" for e in failing[:5])
        raise DeployRefused(f"{what}: the deploy message was executed on a private copy of the TVM and would not "
                            f"produce the expected contract, so nothing was sent ({shown})")


def require_expected_code(info: AccountInfo, target: Target, what: str) -> None:
    """An active account at the target address must run the expected code (otherwise it is not ours)."""
    if info.status == "frozen":
        raise DeployRefused(f"{what} at {target.raw} is frozen (balance {info.balance} nanotons); "
                            "unfreeze it by hand before deploying")
    if info.status == "active" and info.code_hash != target.code_hash:
        raise DeployRefused(f"{what} at {target.raw} is active with code {info.code_hash}, "
                            f"expected {target.code_hash}; not touching it")


def drift(info: AccountInfo, expected_code_hash: str) -> str | None:
    """What differs between the account on chain and the deployed contract, or None."""
    if info.status != "active":
        return f"account is {info.status} (balance {info.balance} nanotons)"
    if info.code_hash != expected_code_hash:
        return f"account runs code {info.code_hash}, expected {expected_code_hash}"
    return None


@contextlib.contextmanager
def deployer_turn(props: dict[str, Any]) -> Iterator[None]:
    """One funding-and-send at a time per journal: a balance checked for a send stays true until it is signed."""
    with exclusive_lock(Path(f"{props['journal_path']}.deployer")):
        yield


def ensure_funds(client: ChainClient, wallet: JournaledWallet, transfers: Sequence[Transfer]) -> int:
    """Make sure the deployer wallet can send these transfers; returns the nanotons funded.

    Localnet: the faucet tops the wallet up. Elsewhere nothing is funded: a short wallet fails here, before
    anything is signed, with the amount to send it.
    """
    required = wallet.required_balance(transfers) + WALLET_MARGIN
    balance = client.account(wallet.address).balance
    if balance >= required:
        return 0
    if not isinstance(client, LocalnetClient):
        raise DeployRefused(f"deployer wallet {raw_address(wallet.address)} holds {balance / TON:.3f} TON; deploying "
                            f"{len(transfers)} contract(s) needs about {required / TON:.3f} TON (deploy values, "
                            "forwarding and wallet fees): fund it and run the update again")
    amount = required - balance
    client.fund(wallet.address, amount)
    pulumi.log.info(f"localnet faucet: funded deployer wallet {raw_address(wallet.address)} with {amount / TON:.3f} TON")
    return amount




def journal_location(stack: str, backend_url: str | None) -> str:
    """Where the deployer's send journal lives: beside the stack's state when the Pulumi backend is a folder
    (`file://DIR`, a shared volume included), so every operator and CI runner of the stack reads the same
    journal; otherwise `.state/journal` of this checkout, and the wallets' fence protects the rest. A journal
    left at the old place is copied beside the state once, so its open messages stay known."""
    legacy = os.path.abspath(os.path.join(LOCAL_JOURNAL_DIR, f"{stack}-deployer.json"))
    if not (backend_url and backend_url.startswith("file://")):
        return legacy
    folder = os.path.abspath(os.path.expanduser(backend_url.removeprefix("file://")))
    path = os.path.join(folder, ".tonsurance", "journal", f"{stack}-deployer.json")
    if not os.path.exists(path) and os.path.exists(legacy):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        shutil.copy2(legacy, path)
    return path


def send_missing(client: ChainClient, wallet: JournaledWallet, targets: dict[Any, Target], value: int | dict[Any, int],
                 what: str, wait_seconds: float) -> tuple[SendResult | None, list[Any], int]:
    """Deploy the targets that are not active, in one message of `wallet` (call inside `deployer_turn`).

    First the wallet's open messages are settled and the chain is read again, so what an earlier message
    deployed (a killed run, a delayed batch, another operator) is adopted; the rest is executed on a private
    TVM, funded and sent. If an earlier message lands while the wallet waits for it (Superseded), read again.
    Returns (the send, or None when nothing was missing any more; the keys sent; nanotons funded).
    """
    funded = 0
    for _ in range(SUPERSEDED_READS):
        wallet.settle_open()
        missing = [key for key, target in targets.items() if client.account(target.address).status != "active"]
        if not missing:
            return None, [], funded
        values = [value if isinstance(value, int) else value[k] for k in missing]
        require_deployable(compute_deploys(client.now(), wallet.address, [targets[k] for k in missing], values), what)
        transfers = [Transfer(targets[k].address, v, state_init=targets[k].state_init) for k, v in zip(missing, values)]
        funded += ensure_funds(client, wallet, transfers)
        try:
            return wallet.send(transfers, wait_seconds=wait_seconds), missing, funded
        except Superseded as superseded:
            pulumi.log.info(f"{what}: {superseded}")
    raise ChainError(f"{what}: earlier messages kept landing while this one waited ({SUPERSEDED_READS} reads); "
                     "run the update again")


def check_derived(reader: Any, address: str, kind: str, derived: Sequence[dict[str, Any]],
                  where: str = "") -> None:
    """The addresses the contract at `address` derives (getters, on the chain or a private TVM: anything with
    run_get_method) must be the program's; DerivedAddressMismatch names the first that is not."""
    for item in derived:
        args = [int(a) for a in item["args"]]
        got = raw_address(read_address(reader.run_get_method(Address(address), item["getter"], args)[0]))
        if got != item["address"]:
            raise DerivedAddressMismatch(
                f"{kind} {address} derives {got} for the {item['what']} ({item['getter']} {args}){where} but the "
                f"program computed {item['address']}; stopping before anything is deployed at an address the "
                f"{kind} does not use")
