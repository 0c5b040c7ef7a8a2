"""The checks around every deploy, shared by the three TON providers.

Money rules applied here:
- before anything is sent, each deploy is executed on a private in-memory chain (the same TVM and
  config) and refused unless the account comes out active with the expected code (`compute_deploys`,
  `require_deployable`);
- an account that is frozen or runs other code is never touched (`require_expected_code`);
- the addresses a contract derives (the vault's tokens, the router's shards) must be the program's
  (`check_derived`, on the chain or on the private TVM);
- refresh reports what differs on chain (`drifted`), never changes it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import pulumi
from pytoniq_core import Address

from chain.client import AccountInfo, ChainClient, ChainError
from chain.records import raw_address
from chain.sandbox import Sandbox
from contracts.base import read_address
from ton_deploy.targets import Target


class DeployRefused(ChainError):
    """Nothing was sent: the deploy would not produce the expected contract, or the address is taken."""


class DerivedAddressMismatch(ChainError):
    """A contract derives an address that differs from the one the program computed."""


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


def drifted(client: ChainClient, targets: Mapping[Any, Target], what: str) -> dict[str, str] | None:
    """Each target whose account differs from its contract (key -> what differs), warned about; None when
    none does. What `read` (refresh) reports for every TON resource."""
    found = {str(key): d for key, target in targets.items()
             if (d := drift(client.account(target.address), target.code_hash)) is not None}
    if found:
        pulumi.log.warn(f"{what} drifted: " + "; ".join(f"{key}: {d}" for key, d in list(found.items())[:10])
                        + (f" and {len(found) - 10} more" if len(found) > 10 else ""))
    return found or None


def check_derived(reader: Any, address: str, kind: str, derived: Sequence[Mapping[str, Any]],
                  where: str = "") -> None:
    """The addresses the contract at `address` derives (getters, on the chain or a private TVM: anything with
    run_get_method) must be the program's; DerivedAddressMismatch names every one that is not (the first five)."""
    wrong = []
    for item in derived:
        args = [int(a) for a in item["args"]]
        got = raw_address(read_address(reader.run_get_method(Address(address), item["getter"], args)[0]))
        if got != item["address"]:
            wrong.append(f"the {item['what']} ({item['getter']} {args}): {got}, program {item['address']}")
    if wrong:
        raise DerivedAddressMismatch(
            f"{kind} {address} derives other addresses than the program computed for {len(wrong)} of "
            f"{len(derived)}{where} ({'; '.join(wrong[:5])}); stopping before anything is deployed at an address "
            f"the {kind} does not use")
