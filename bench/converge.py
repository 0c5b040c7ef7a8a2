"""Random-kill soak of the whole local stack, and the time of a services rollback.

soak:     `pulumi up` of a copy of the local stack (its own cluster, PostgreSQL and localnet) SIGKILLed with its
          plugins at a random moment, then a plain `pulumi up` (after `ops unlock`, as `make up` runs it). It must
          converge: that up succeeds, the next one has nothing to do, every contract was deployed by exactly one
          message and no wallet accepted a message twice, every migration ran once. Rounds alternate fresh
          deploys (a new namespace, chain and database) and updates of what the previous round deployed (new
          image tags, so every workload rolls, and a new migration, so a backup runs first). A kill lands
          uniformly between the start and the duration of the previous round's converging up.
rollback: `ops rollback --type services --yes` of that stack back to the previous release (a targeted preview
          and up of the five workloads), timed.

    .venv/bin/python bench/converge.py [--rounds 8] [--seed N]
    .venv/bin/python bench/converge.py --smoke     # one round: a fresh deploy killed at random (`make test`)

Prints each round and the totals (rounds, kills, converged); asserts nothing about time.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from localcluster.cluster import Cluster  # noqa: E402
from tests.e2e.convergence import applied_migrations, duplicate_sends, journal_path  # noqa: E402
from tests.e2e.harness import StackCopy, stack_copy  # noqa: E402

FIRST_GUESS_SECONDS = 40.0  # a full local deploy or update, before a round has measured one


def quiet(_line: str) -> None:
    pass


def fresh_state(copy: StackCopy, round_no: int) -> None:
    """A new namespace, chain and database for a fresh deploy (the stack's earlier objects destroyed)."""
    copy.stack.destroy(on_output=quiet)
    copy.use_cluster(copy.cluster)
    copy.set_config("tonsurance:localnetPath", f".state/localnet/round-{round_no}.json")
    # The send journal records the old chain's messages: the check after the round compares the journal with
    # the new chain's wallets, so the new chain starts with none (its wallets are new there: no fence applies).
    journal_path(copy).unlink(missing_ok=True)
    with psycopg.connect(copy.database_dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE soak_{round_no}")
    copy.set_config("tonsurance:database.name", f"soak_{round_no}", path=True)


def next_release(copy: StackCopy, round_no: int) -> None:
    """New image tags for every workload and a new migration."""
    for key, image in json.loads(copy.stack.get_config("tonsurance:images").value).items():
        copy.set_config(f"tonsurance:images.{key}", f"{image.rsplit(':', 1)[0]}:2.{round_no}.0", path=True)
    (copy.work_dir / "migrations" / f"{100 + round_no:03d}_soak_{round_no}.sql").write_text(
        f"CREATE TABLE soak_{round_no} (id int);\n")


def expected_migrations(copy: StackCopy) -> list[int]:
    return sorted(int(p.name.split("_", 1)[0]) for p in (copy.work_dir / "migrations").glob("*.sql"))


def killed_then_converged(copy: StackCopy, kill_after: float, log: Path) -> tuple[str, float, str]:
    """(what happened to the first run, seconds of the converging up, problems: empty when converged)."""
    run = copy.start_up(log)
    deadline = time.monotonic() + kill_after
    while run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if run.poll() is None:
        copy.kill_run(run)  # with its plugins; then the dead run's lock goes, as `make up` does (ops unlock)
        first = "killed"
    else:
        first = f"had ended first (exit {run.returncode})"
    start = time.monotonic()
    try:
        copy.stack.up(on_output=quiet)
        seconds = time.monotonic() - start
        copy.stack.up(expect_no_changes=True, on_output=quiet)
    except Exception as error:  # noqa: BLE001 - reported as this round's failure
        return first, time.monotonic() - start, f"{type(error).__name__}: {str(error)[-600:]}"
    problems = duplicate_sends(copy)
    if applied_migrations(copy) != expected_migrations(copy):
        problems.append(f"migrations {applied_migrations(copy)} != {expected_migrations(copy)}")
    return first, seconds, "; ".join(problems)


def soak(copy: StackCopy, rounds: int, rng: random.Random, logs: Path) -> None:
    kills = converged = 0
    durations = {"fresh": FIRST_GUESS_SECONDS, "update": FIRST_GUESS_SECONDS}
    for round_no in range(1, rounds + 1):
        kind = "fresh" if round_no % 2 else "update"
        if kind == "fresh" and round_no > 1:
            fresh_state(copy, round_no)
        elif kind == "update":
            next_release(copy, round_no)
        kill_after = rng.uniform(1.0, durations[kind])
        first, seconds, problems = killed_then_converged(copy, kill_after, logs / f"round-{round_no}.log")
        kills += first == "killed"
        converged += not problems
        # What a whole run of this kind takes, about: the kill's moment plus what was left for the next up.
        durations[kind] = max(durations[kind], (kill_after if first == "killed" else 0) + seconds)
        print(f"round {round_no:2d} {kind:6s}  kill at {kill_after:6.1f} s: {first}; converging up {seconds:6.1f} s; "
              f"{'converged' if not problems else 'NOT converged: ' + problems}", flush=True)
    print(f"soak: {rounds} rounds, {kills} kills, {converged}/{rounds} converged")


def rollback_time(copy: StackCopy) -> None:
    """Record the stack, deploy new tags, record, and time `ops rollback --type services --yes`."""
    env = {**os.environ, **copy.env()}

    def ops(*args: str) -> None:
        subprocess.run([sys.executable, "-m", "ops", *args, "--stack", copy.stack.name], cwd=copy.work_dir,
                       env=env, check=True, capture_output=True, text=True)

    ops("record")
    next_release(copy, 99)
    (copy.work_dir / "migrations" / "199_soak_99.sql").unlink()  # images only: a services release
    copy.stack.up(on_output=quiet)
    time.sleep(1)  # records are named by the second
    ops("record")
    start = time.monotonic()
    ops("rollback", "--type", "services", "--yes")
    print(f"services rollback (targeted preview + up of the workloads, record): {time.monotonic() - start:6.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random, printed)")
    parser.add_argument("--smoke", action="store_true", help="one round, no rollback timing (make test)")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    print(f"seed {seed}")
    base = Path(tempfile.mkdtemp(prefix="tonsurance-bench-converge-"))
    base.chmod(0o755)  # the postgres user must reach the copy's data directory
    cluster = Cluster("bench-converge", base / "cluster")
    copy = None
    try:
        cluster.start()
        copy = stack_copy(base / "project")
        copy.use_cluster(cluster)
        copy.start_postgres()
        soak(copy, 1 if args.smoke else args.rounds, random.Random(seed), base)
        if not args.smoke:
            rollback_time(copy)
    finally:
        if copy is not None:
            try:
                copy.stack.destroy(on_output=quiet)
            except Exception:  # noqa: BLE001 - the cluster goes with everything in it
                pass
            copy.stop_postgres()
        cluster.delete()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
