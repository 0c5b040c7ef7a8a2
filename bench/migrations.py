"""Benchmark: apply the migration set to an empty database; back up and verify 100,000 policies.

    .venv/bin/python bench/migrations.py [--policies 100000] [--runs 5] [--smoke]   # --smoke: 1,000 policies, 1 run

Starts its own PostgreSQL with scripts/postgres.sh (default durability settings, fsync on) in a
temporary directory and prints the figures; it asserts nothing about time.
"""
from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from database.backup import create_backup, verify_backup  # noqa: E402
from database.migrations import apply_migrations, load_migrations  # noqa: E402
from database.signing import ManifestSigner  # noqa: E402
from database.storage import LocalFolderStore  # noqa: E402

SCRIPT = REPO / "scripts" / "postgres.sh"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="1,000 policies, one run")
    args = parser.parse_args()
    if args.smoke:
        args.policies, args.runs = 1_000, 1

    data_dir = Path(tempfile.mkdtemp(prefix="tonsurance-bench-pg-"))
    backups = Path(tempfile.mkdtemp(prefix="tonsurance-bench-backups-"))
    port = _free_port()
    subprocess.run([str(SCRIPT), "start", str(data_dir), str(port)], check=True)
    try:
        dsn = lambda dbname: make_conninfo(host=str(data_dir), port=port, user="postgres", dbname=dbname)  # noqa: E731
        migrations = load_migrations(REPO / "migrations")
        server_version = _scalar(dsn("postgres"), "SHOW server_version")
        print(f"PostgreSQL {server_version}, {len(migrations)} migrations, fsync on, Unix socket")

        apply_times = []
        for run in range(args.runs):
            _create_database(dsn("postgres"), f"bench_apply_{run}")
            started = time.perf_counter()
            apply_migrations(dsn(f"bench_apply_{run}"), migrations)
            apply_times.append(time.perf_counter() - started)
        print(f"apply full set to an empty database: median {statistics.median(apply_times) * 1000:.0f} ms "
              f"(min {min(apply_times) * 1000:.0f}, max {max(apply_times) * 1000:.0f}, {args.runs} runs)")

        single = dsn("bench_single")
        _create_database(dsn("postgres"), "bench_single")
        started = time.perf_counter()
        apply_migrations(single, migrations, single_transaction=True)
        print(f"apply full set in one transaction: {(time.perf_counter() - started) * 1000:.0f} ms")

        source = dsn("bench_apply_0")
        started = time.perf_counter()
        _seed(source, args.policies)
        print(f"seeded {args.policies:,} policies in {time.perf_counter() - started:.1f} s")

        store = LocalFolderStore(backups)
        started = time.perf_counter()
        signer = ManifestSigner(f"file:{backups}/../signing.key")
        backup = create_backup(source, store, signer)
        total = time.perf_counter() - started
        started = time.perf_counter()
        verify_backup(store, backup.manifest.backup_id, source, signer)
        verify = time.perf_counter() - started
        print(f"backup + verify, {args.policies:,} policies: {total:.2f} s "
              f"(of which verify: restore into a scratch database + row counts {verify:.2f} s; "
              f"dump {backup.manifest.size_bytes / 1e6:.1f} MB compressed)")
    finally:
        subprocess.run([str(SCRIPT), "stop", str(data_dir)], check=True)
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(backups, ignore_errors=True)


def _seed(dsn: str, policies: int) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO policies (policy_id, shard_id, holder_address, coverage_type, coverage_amount, premium,"
            " start_time, expiry_time, status, chain, stablecoin, premium_rate_bps, tx_hash)"
            " SELECT g, g %% 256, 'EQ' || md5(g::text), (ARRAY['depeg','smart_contract','oracle','bridge'])[1 + g %% 4],"
            " 1000000000 + g * 7, 5000000 + g, now() - interval '10 days', now() + interval '80 days',"
            " (ARRAY['active','active','active','expired','claimed'])[1 + g %% 5],"
            " (ARRAY['ton','ethereum','arbitrum'])[1 + g %% 3], (ARRAY['USDT','USDC'])[1 + g %% 2], 80 + g %% 200,"
            " md5('tx' || g) FROM generate_series(1, %s) g",
            (policies,),
        )
        conn.execute("ANALYZE policies")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CHECKPOINT")  # flush the seed now, so its writes are not charged to the backup


def _create_database(admin_dsn: str, name: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


def _scalar(dsn: str, query: str):
    with psycopg.connect(dsn) as conn:
        return conn.execute(query).fetchone()[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    main()
