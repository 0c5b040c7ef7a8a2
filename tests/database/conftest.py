"""A private PostgreSQL server for the database tests, started by scripts/postgres.sh.

One server per test session (temporary data directory, free loopback port, fsync off), one fresh
database per test. Tests connect over TCP as an unprivileged role with a password, like the
stacks do. Missing server binaries fail the session: nothing is skipped.
"""
from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from database.migrations import Migration, load_migrations

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "postgres.sh"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
APP_ROLE = "tonsurance_app"


@dataclass(frozen=True)
class PostgresServer:
    data_dir: Path
    port: int
    password: str  # of APP_ROLE

    def superuser_dsn(self, dbname: str = "postgres") -> str:
        return make_conninfo(host=str(self.data_dir), port=self.port, user="postgres", dbname=dbname)

    def dsn(self, dbname: str, password: str | None = None) -> str:
        return make_conninfo(
            host="127.0.0.1", port=self.port, user=APP_ROLE, dbname=dbname,
            password=self.password if password is None else password,
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres() -> PostgresServer:
    if not (PG_BIN / "postgres").exists() or not shutil.which("pg_dump") or not shutil.which("pg_restore"):
        pytest.fail(
            f"PostgreSQL 15 server binaries ({PG_BIN}) or pg_dump/pg_restore not found: run `scripts/postgres.sh install`",
            pytrace=False,
        )
    data_dir = Path(tempfile.mkdtemp(prefix="tonsurance-pg-"))
    port = _free_port()
    env = {**os.environ, "POSTGRES_EXTRA_OPTS": "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"}
    subprocess.run([str(SCRIPT), "start", str(data_dir), str(port)], check=True, env=env)
    server = PostgresServer(data_dir, port, secrets.token_urlsafe(18))
    try:
        with psycopg.connect(server.superuser_dsn(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                    sql.Identifier(APP_ROLE), sql.Literal(server.password)
                )
            )
        yield server
    finally:
        subprocess.run([str(SCRIPT), "stop", str(data_dir)], check=True)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def database(postgres: PostgresServer) -> str:
    """DSN of a fresh, empty database owned by the application role."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres.superuser_dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(APP_ROLE)))
    yield postgres.dsn(name)
    with psycopg.connect(postgres.superuser_dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def migrations() -> list[Migration]:
    return load_migrations(REPO / "migrations")


def tables(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def scalar(dsn: str, query: str, params: tuple = ()):
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchone()[0]


def seed(dsn: str, policies: int = 300) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO policies (policy_id, shard_id, holder_address, coverage_type, coverage_amount, premium,"
            " start_time, expiry_time, chain, stablecoin)"
            " SELECT g, g %% 16, 'EQholder' || g, 'depeg', 1000000 + g, 5000, now(), now() + interval '30 days',"
            " 'ton', 'USDT' FROM generate_series(1, %s) g",
            (policies,),
        )
        conn.execute(
            "INSERT INTO deposits (lp_address, tranche_id, amount, tokens_minted, tx_hash)"
            " SELECT 'EQlp' || g, 1 + g % 6, 1000 * g, 1000 * g, 'tx' || g FROM generate_series(1, 40) g"
        )
        conn.execute(
            "INSERT INTO blockchain_events (observed_at, tx_hash, event_index, logical_time, contract_address,"
            " contract_kind, op, query_id, payload)"
            " SELECT now() - g * interval '1 minute', 'ev' || g, 0, g, 'EQrouter', 'policy_router', 1, g,"
            " jsonb_build_object('policy_id', g) FROM generate_series(1, 25) g"
        )


@pytest.fixture
def second_database(postgres) -> str:
    with psycopg.connect(postgres.superuser_dsn(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE restore_target OWNER tonsurance_app")
    yield postgres.dsn("restore_target")
    with psycopg.connect(postgres.superuser_dsn(), autocommit=True) as conn:
        conn.execute("DROP DATABASE restore_target WITH (FORCE)")


def scratch_databases(postgres) -> list[str]:
    """Verification and restore scratch databases left on the server (none should be)."""
    with psycopg.connect(postgres.superuser_dsn()) as conn:
        return [r[0] for r in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'verify\\_%' OR datname LIKE 'restore\\_2%'")]


@pytest.fixture
def signer(tmp_path):
    """A local stack's manifest signer: an HMAC key file (database/signing.py)."""
    from database.signing import ManifestSigner

    return ManifestSigner(f"file:{tmp_path / 'signing.key'}")
