"""PolicyShard storage rent, measured on the real TVM (in-memory chain, mainnet config) with chain time advanced.

    .venv/bin/python bench/shard_rent.py            # a full shard (16,000 policies) for a year
    .venv/bin/python bench/shard_rent.py --smoke    # 500 policies, for the test suite

Prints the rent a policy prepays (the vault's get_policy_rent), the rent per policy-year the formula charges
and the emulator really takes from a full shard, the reserve a full shard holds, and how long the same shard
lasts without the prepaid rent (0.05 TON only, as Contracts v2 left it).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pytoniq_core import Address  # noqa: E402

from chain.sandbox import Sandbox  # noqa: E402
from contracts.base import TON  # noqa: E402
from contracts.multi_tranche_vault import MultiTrancheVault, MultiTrancheVaultConfig  # noqa: E402
from contracts.policy_shard import (  # noqa: E402
    MAX_POLICIES, MIN_BALANCE, PolicyShard, PolicyShardConfig, distinct_policies, filled_data,
)

NOW = 1_760_000_000
DAY = 86400
YEAR = 365 * DAY


def actor(tag: str) -> Address:
    return Address("0:" + tag * 32)


VAULT_ACTOR, HOLDER, ADMIN = actor("f1"), actor("c1"), actor("a1")


def policy_rent(sandbox: Sandbox, days: int) -> int:
    """The vault's getter (GETSTORAGEFEE at the config's prices), from a vault deployed for the purpose."""
    cfg = MultiTrancheVaultConfig(admin=ADMIN, claims_processor=ADMIN, oracle=ADMIN, treasury=ADMIN, shard_count=16)
    vault = MultiTrancheVault.from_config(cfg)
    if sandbox.account(vault.address).status != "active":
        sandbox.send_internal(sender=ADMIN, to=vault.address, value=TON, state_init=vault.state_init)
    return MultiTrancheVault(vault.address).get_policy_rent(sandbox.run_get_method, days)


def filled_shard(sandbox: Sandbox, shard_id: int, policies: int, balance: int) -> Address:
    cfg = PolicyShardConfig(shard_id, VAULT_ACTOR, 16)
    target = PolicyShard.from_config(cfg)
    sandbox.send_internal(sender=VAULT_ACTOR, to=target.address, value=balance, state_init=target.state_init)
    sandbox.set_data(target.address, filled_data(cfg, distinct_policies(cfg, policies, HOLDER, NOW, NOW + YEAR)))
    return target.address


def touch(sandbox: Sandbox, address: Address) -> None:
    """A message that runs the account's storage phase (a 1-nanoton top-up)."""
    sandbox.send_internal(sender=VAULT_ACTOR, to=address, value=1, bounce=False)


def measure(policies: int, days: int) -> dict[str, float]:
    sandbox = Sandbox(now=NOW)
    sandbox.fund(VAULT_ACTOR, 10**7 * TON)
    rent_365 = policy_rent(sandbox, 365)
    rent_year_exact = policy_rent(sandbox, 365) - policy_rent(sandbox, 0)  # without the 30-day grace
    reserve = MIN_BALANCE + policies * rent_365
    shard = filled_shard(sandbox, 1, policies, reserve)
    cells, bits = sandbox.storage_used(shard)
    before = sandbox.account(shard).balance
    sandbox.now = NOW + days * DAY
    touch(sandbox, shard)
    after = sandbox.account(shard)
    taken = before + 1 - after.balance
    bare = filled_shard(sandbox, 2, policies, MIN_BALANCE)
    start = sandbox.now
    frozen_after = None
    for day in range(1, 400):
        sandbox.now = start + day * DAY
        touch(sandbox, bare)
        if sandbox.account(bare).status == "frozen":
            frozen_after = day
            break
    return {"policies": policies, "cells": cells, "bits": bits, "days": days,
            "rent_365": rent_365, "rent_year_formula": rent_year_exact,
            "measured_per_policy_year": taken * 365 / days / policies, "measured_total": taken,
            "reserve": reserve, "left": after.balance, "status": after.status, "due": after.due_payment,
            "frozen_after_days": frozen_after}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="500 policies (for the test suite)")
    args = parser.parse_args()
    policies = 500 if args.smoke else MAX_POLICIES
    r = measure(policies, 365)
    print(f"shard of {r['policies']} policies: {r['cells']} cells, {r['bits']} bits of storage")
    print(f"prepaid rent of a 365-day policy (year + 30-day prune grace)  {r['rent_365'] / TON:.6f} TON")
    print(f"rent per policy-year, formula (3 cells, 700 bits)            {r['rent_year_formula'] / TON:.6f} TON")
    print(f"rent per policy-year, taken by the emulator from the shard   {r['measured_per_policy_year'] / TON:.6f} TON")
    print(f"reserve the shard holds (0.05 TON + prepaid rents)           {r['reserve'] / TON:.6f} TON")
    print(f"rent taken over {r['days']} days                                   {r['measured_total'] / TON:.6f} TON")
    print(f"left after {r['days']} days: {r['left'] / TON:.6f} TON, status {r['status']}, storage debt {r['due']}")
    frozen = r["frozen_after_days"]
    print(f"same shard with 0.05 TON only (v2): frozen after {frozen} day(s)" if frozen
          else "same shard with 0.05 TON only (v2): not frozen within 400 days")
    if r["status"] != "active" or r["due"] or r["left"] < MIN_BALANCE // 2:
        raise SystemExit("the shard ran out of rent")


if __name__ == "__main__":
    main()
