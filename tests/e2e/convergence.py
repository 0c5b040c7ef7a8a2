"""What the kill-anywhere test (tests/e2e/test_converge.py) and the random-kill soak (bench/converge.py) share:
a `pulumi up` of a stack copy killed while a condition holds, and the checks that a stack converged with no
duplicate contract deploy or migration."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import psycopg
from pytoniq_core import Address

from tests.e2e.harness import StackCopy

CONTRACT_OUTPUTS = ("pricing_oracle_address", "multi_tranche_vault_address", "policy_router_address")


def journal_path(copy: StackCopy) -> Path:
    """The deployer's send journal where the copy's providers keep it (beside a folder backend's state)."""
    from ton_deploy.plan import journal_location
    return Path(journal_location(copy.stack.name, copy.env()["PULUMI_BACKEND_URL"], str(copy.work_dir)))


def journal_sends(copy: StackCopy) -> list[dict]:
    path = journal_path(copy)
    return list(json.loads(path.read_text())["sends"].values()) if path.exists() else []


def contract_send_in_flight(copy: StackCopy) -> bool:
    """The deployment's one highload message is signed or sent and not yet confirmed."""
    try:
        return any(s["kind"] == "highload_wallet_v3" and s["status"] in ("signed", "sent") for s in journal_sends(copy))
    except (json.JSONDecodeError, KeyError):
        return False  # read while being replaced


def kill_up_when(copy: StackCopy, log: Path, condition: Callable[[], bool], what: str,
                 deadline_seconds: float = 900) -> None:
    """Start `pulumi up` (the CLI, in its own session) and SIGKILL it with its plugins once `condition` holds.
    Fails when the run ends first or nothing happens before the deadline (generous: the machine is shared)."""
    run = copy.start_up(log)
    deadline = time.monotonic() + deadline_seconds
    try:
        while not condition():
            assert run.poll() is None, f"up ended before {what}:\n{log.read_text()[-4000:]}"
            assert time.monotonic() < deadline, f"no {what} within {deadline_seconds} s:\n{log.read_text()[-4000:]}"
            time.sleep(0.2)
    finally:
        copy.kill_run(run)


def deployed_contracts(copy: StackCopy) -> list[Address]:
    out = copy.outputs()
    contracts = [Address(out[key]) for key in CONTRACT_OUTPUTS]
    contracts += [Address(a) for a in out["sure_token_addresses"].values()]
    contracts += [Address(s) for s in out["policy_shard_addresses"]]
    return contracts


def duplicate_sends(copy: StackCopy) -> list[str]:
    """What was sent twice or not at all: contracts with other than one transaction (their deploy) besides the
    admin's role messages (the oracle's keepers, set after the deploy), journal entries not confirmed, and
    wallets (the deployer's and the admin's) that accepted other than one external message per journal entry."""
    chain = copy.localnet()
    admin = Address(copy.stack.outputs()["admin_address"].value)
    problems = [f"{a.to_str()}: {n} transactions besides the admin's" for a in deployed_contracts(copy)
                if (n := sum(tx.in_sender != admin for tx in chain.transactions(a, 10))) != 1]
    sends = journal_sends(copy)
    problems += [f"journal {s['kind']}: {s['status']}" for s in sends if s["status"] != "confirmed"]
    for wallet in {s["wallet"] for s in sends}:  # each journal entry is one message, accepted once
        entries = sum(s["wallet"] == wallet for s in sends)
        accepted = sum(tx.in_external for tx in chain.transactions(Address(wallet), 100))
        if accepted != entries:
            problems.append(f"wallet {wallet}: {accepted} external messages accepted for {entries} journal entries")
    return problems


def applied_migrations(copy: StackCopy) -> list[int]:
    """Versions in schema_migrations, in order (one row per version that ran)."""
    with psycopg.connect(copy.database_dsn()) as conn:
        if not conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]:
            return []
        return [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def waiting_on_lock(copy: StackCopy, locktype: str) -> bool:
    """Some session of the copy's database waits for a lock of `locktype` ('advisory', 'relation')."""
    with psycopg.connect(copy.database_dsn()) as conn:
        return conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = %s AND NOT granted",
                            (locktype,)).fetchone()[0] > 0
