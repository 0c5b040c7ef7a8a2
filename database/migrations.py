"""Versioned SQL migrations: load them from migrations/, see what is pending, apply them safely.

The database's `schema_migrations` table is the record of what ran. A run takes a PostgreSQL
advisory lock, so concurrent runs (two `pulumi up`, a CI job and an operator) apply each migration
once; applies each pending migration in its own transaction, or all of them in one; refuses an
applied migration whose file changed; and on failure leaves the failed work rolled back, naming the
file, line and statement.
"""
from __future__ import annotations

import hashlib
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg

from database.dsn import connect, describe
from database.sql_statements import Statement, split_statements

_FILE_NAME = re.compile(r"^(\d{3,})_[a-z0-9_]+\.sql$")

# One lock for every migration run of a database: the first 8 bytes of a fixed name's hash.
ADVISORY_LOCK_KEY = int.from_bytes(hashlib.sha256(b"tonsurance:schema_migrations").digest()[:8], "big", signed=True)

_CREATE_SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version      INTEGER     PRIMARY KEY,
    name         TEXT        NOT NULL,
    checksum     TEXT        NOT NULL,
    applied_at   TIMESTAMPTZ NOT NULL,
    duration_ms  INTEGER     NOT NULL
)"""


class MigrationError(Exception):
    """A migration run was refused or failed; the message names the file (and statement)."""


class ChecksumDriftError(MigrationError):
    pass


class MigrationFailedError(MigrationError):
    pass


class TimescaleRequiredError(MigrationError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str  # file name, e.g. 004_add_dynamic_pricing.sql
    sha256: str
    sql: str

    @classmethod
    def from_sql(cls, name: str, sql: str) -> "Migration":
        match = _FILE_NAME.match(name)
        if not match:
            raise ValueError(f"migration file name {name!r} must look like 001_snake_case_name.sql")
        return cls(int(match.group(1)), name, hashlib.sha256(sql.encode()).hexdigest(), sql)

    @classmethod
    def from_input(cls, value: dict) -> "Migration":
        """From a resource input: Pulumi hands numbers back as floats."""
        return cls(int(value["version"]), str(value["name"]), str(value["sha256"]), str(value["sql"]))

    def as_input(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class AppliedMigration:
    version: int
    name: str
    checksum: str
    applied_at: str  # ISO 8601
    duration_ms: int

    def as_output(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MigrationRun:
    applied: list[AppliedMigration]  # everything the database has applied, after the run
    newly_applied: list[str]  # file names applied by this run
    timescaledb: bool  # the extension is installed in the database


def load_migrations(directory: str | Path) -> list[Migration]:
    files = sorted(Path(directory).glob("*.sql"))
    migrations = [Migration.from_sql(path.name, path.read_text(encoding="utf-8")) for path in files]
    validate_migration_set(migrations)
    return migrations


def validate_migration_set(migrations: list[Migration]) -> None:
    if not migrations:
        raise ValueError("the migration set is empty")
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        duplicated = sorted({m.name for m in migrations if versions.count(m.version) > 1})
        raise ValueError(f"migration versions must be unique: {', '.join(duplicated)}")
    if versions != sorted(versions):
        raise ValueError("migrations must be listed in version order")
    for m in migrations:
        if hashlib.sha256(m.sql.encode()).hexdigest() != m.sha256:
            raise ValueError(f"migration {m.name}: sha256 does not match its SQL")


def migration_set_checksum(migrations: list[Migration]) -> str:
    """One hash for the whole set: changes whenever a migration is added or edited."""
    digest = hashlib.sha256()
    for m in migrations:
        digest.update(f"{m.version}:{m.name}:{m.sha256}\n".encode())
    return digest.hexdigest()


def pending_migrations(migrations: list[Migration], applied_versions: set[int]) -> list[Migration]:
    return [m for m in migrations if m.version not in applied_versions]


def check_drift(migrations: list[Migration], applied: list[AppliedMigration], where: str) -> None:
    """Refuse a set whose applied files changed, or that lacks migrations the database has."""
    by_version = {m.version: m for m in migrations}
    for row in applied:
        migration = by_version.get(row.version)
        if migration is None:
            raise ChecksumDriftError(
                f"{where} has migration {row.name} applied, but it is not in the migration set "
                "(is this an older checkout?); refusing to run"
            )
        if migration.sha256 != row.checksum or migration.name != row.name:
            raise ChecksumDriftError(
                f"migrations/{migration.name} changed after it was applied to {where} "
                f"(applied as {row.name} with sha256 {row.checksum[:12]}, the file now has {migration.sha256[:12]}); "
                "applied migrations are immutable: restore the file and put the change in a new migration"
            )


def applied_migrations(dsn: str) -> list[AppliedMigration]:
    with connect(dsn, autocommit=True) as conn:
        return _read_applied(conn)


def apply_migrations(
    dsn: str,
    migrations: list[Migration],
    *,
    single_transaction: bool = False,
    timescaledb_required: bool = False,
    lock_timeout_seconds: int = 600,
) -> MigrationRun:
    validate_migration_set(migrations)
    where = describe(dsn)
    with connect(dsn, autocommit=True) as conn:
        # The lock is held until the connection closes, also when a migration fails.
        _acquire_lock(conn, lock_timeout_seconds, where)
        _require_timescaledb_available(conn, timescaledb_required, where)
        conn.execute(_CREATE_SCHEMA_MIGRATIONS)
        applied = _read_applied(conn)
        check_drift(migrations, applied, where)
        pending = pending_migrations(migrations, {row.version for row in applied})
        if single_transaction and pending:
            with conn.transaction():
                for migration in pending:
                    _apply_one(conn, migration, where, all_rolled_back=True)
        else:
            for migration in pending:
                with conn.transaction():
                    _apply_one(conn, migration, where, all_rolled_back=False)
        timescaledb = _timescaledb_installed(conn)
        if timescaledb_required and not timescaledb:
            raise TimescaleRequiredError(
                f"TimescaleDB is required but the extension is not installed in {where} after the migrations"
            )
        return MigrationRun(_read_applied(conn), [m.name for m in pending], timescaledb)


def _acquire_lock(conn: psycopg.Connection, timeout_seconds: int, where: str) -> None:
    conn.execute(f"SET lock_timeout = '{int(timeout_seconds)}s'")
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
    except psycopg.errors.LockNotAvailable:
        raise MigrationError(
            f"another migration run has held the migration lock on {where} for over {timeout_seconds}s"
        ) from None
    conn.execute("RESET lock_timeout")


def _require_timescaledb_available(conn: psycopg.Connection, required: bool, where: str) -> None:
    if not required:
        return
    available = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')"
    ).fetchone()[0]
    if not available:
        raise TimescaleRequiredError(
            f"TimescaleDB is required on this stack but the PostgreSQL server of {where} does not offer the "
            "extension (no 'timescaledb' in pg_available_extensions); install TimescaleDB on the server, "
            "or set timescaledb_required to false for a plain-PostgreSQL stack. Nothing was applied."
        )


def _timescaledb_installed(conn: psycopg.Connection) -> bool:
    return conn.execute("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')").fetchone()[0]


def _apply_one(conn: psycopg.Connection, migration: Migration, where: str, all_rolled_back: bool) -> None:
    started = time.monotonic()
    for number, statement in enumerate(split_statements(migration.sql), start=1):
        try:
            conn.execute(statement.text)
        except psycopg.Error as error:
            raise MigrationFailedError(_failure_message(migration, number, statement, error, where, all_rolled_back)) from None
    conn.execute(
        "INSERT INTO schema_migrations (version, name, checksum, applied_at, duration_ms) "
        "VALUES (%s, %s, %s, clock_timestamp(), %s)",
        (migration.version, migration.name, migration.sha256, round((time.monotonic() - started) * 1000)),
    )


def _failure_message(
    migration: Migration, number: int, statement: Statement, error: psycopg.Error, where: str, all_rolled_back: bool
) -> str:
    reason = (error.diag.message_primary or str(error)).strip()
    undone = (
        "the whole run was rolled back (single transaction): no migration of this run was applied"
        if all_rolled_back
        else f"{migration.name} was rolled back; migrations before it stay applied"
    )
    return (
        f"migration {migration.name} failed on {where} at statement {number} (line {statement.line}): "
        f"{statement.summary()} -- {reason}. {undone}"
    )


def _read_applied(conn: psycopg.Connection) -> list[AppliedMigration]:
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]
    if not exists:
        return []
    rows = conn.execute(
        "SELECT version, name, checksum, applied_at, duration_ms FROM schema_migrations ORDER BY version"
    ).fetchall()
    return [AppliedMigration(v, n, c, at.isoformat(), d) for v, n, c, at, d in rows]
