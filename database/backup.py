"""Backups that are proven restorable: dump, store, verify by restoring; and restore for rollback.

`create_backup` dumps the database with pg_dump (custom format, compressed) inside a REPEATABLE READ
snapshot that also counts the rows of every table, so the counts describe exactly what was dumped
even while the database takes writes. `verify_backup` fetches the stored copy (not the local file),
checks its sha256, restores it into a scratch database and compares the row counts of every table.
"""
from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from psycopg import sql

from database.dsn import connect, describe, libpq_command_target, scrub, with_database
from database.storage import BackupStore

# Every ordinary table of the database, except catalogs, extension-owned tables and TimescaleDB
# internals (a hypertable's rows are counted through the hypertable itself).
_USER_TABLES = """
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname NOT LIKE '\\_timescaledb%' AND n.nspname NOT LIKE 'timescaledb\\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
"""


class BackupError(Exception):
    pass


class BackupVerificationError(BackupError):
    pass


@dataclass(frozen=True)
class BackupManifest:
    backup_id: str
    created_at: str  # ISO 8601, UTC
    source: str  # user@host:port/dbname, never the DSN
    size_bytes: int
    sha256: str
    row_counts: dict[str, int]  # "schema.table" -> rows, in the dumped snapshot
    extensions: list[str]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "BackupManifest":
        return cls(**json.loads(text))


@dataclass(frozen=True)
class VerifiedBackup:
    manifest: BackupManifest
    location: str
    verified_counts: dict[str, int]


def new_backup_id(now: datetime | None = None) -> str:
    """`20250115-143000-1a2b`: sortable like the guide's ids, unique with a random suffix."""
    now = now or datetime.now(timezone.utc)
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def create_backup(dsn: str, store: BackupStore, *, scratch_dsn: str | None = None) -> VerifiedBackup:
    """Dump, store and verify. `scratch_dsn` names the server (and credentials) where the scratch
    database for verification is created; by default the source server."""
    backup_id = new_backup_id()
    with tempfile.TemporaryDirectory(prefix="tonsurance-backup-") as tmp:
        dump_path = Path(tmp) / f"{backup_id}.dump"
        with connect(dsn) as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            with conn.transaction():
                snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
                row_counts = count_rows(conn)
                extensions = [r[0] for r in conn.execute("SELECT extname FROM pg_extension ORDER BY 1")]
                # pg_dump reads the same snapshot, which lives while this transaction is open.
                _run_tool(
                    "pg_dump", dsn,
                    ["--format=custom", "--compress=6", f"--snapshot={snapshot}", f"--file={dump_path}"],
                )
        manifest = BackupManifest(
            backup_id=backup_id,
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            source=describe(dsn),
            size_bytes=dump_path.stat().st_size,
            sha256=_sha256(dump_path),
            row_counts=row_counts,
            extensions=extensions,
        )
        location = store.put(backup_id, dump_path, manifest.to_json())
    verified_counts = verify_backup(store, backup_id, scratch_dsn or dsn)
    return VerifiedBackup(manifest, location, verified_counts)


def verify_backup(store: BackupStore, backup_id: str, scratch_dsn: str) -> dict[str, int]:
    """Restore the stored backup into a throwaway database and compare every table's row count."""
    manifest = BackupManifest.from_json(store.manifest(backup_id))
    scratch_db = f"verify_{backup_id.replace('-', '_')}"
    with tempfile.TemporaryDirectory(prefix="tonsurance-verify-") as tmp:
        dump_path = _fetch_checked(store, manifest, Path(tmp))
        with connect(scratch_dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch_db)))
        try:
            target = with_database(scratch_dsn, scratch_db)
            _restore(dump_path, target, manifest, clean=False)
            with connect(target) as conn:
                counts = count_rows(conn)
        finally:
            with connect(scratch_dsn, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch_db)))
    _compare_counts(manifest, counts, "the verification restore")
    return counts


def restore_backup(store: BackupStore, backup_id: str, target_dsn: str) -> dict[str, int]:
    """Replace the target's objects with the backup's, in one transaction; returns the restored counts.

    Tables the backup does not have (created after it) are left in place; `tables_not_in_backup`
    lists them.
    """
    manifest = BackupManifest.from_json(store.manifest(backup_id))
    with tempfile.TemporaryDirectory(prefix="tonsurance-restore-") as tmp:
        dump_path = _fetch_checked(store, manifest, Path(tmp))
        _restore(dump_path, target_dsn, manifest, clean=True)
    with connect(target_dsn) as conn:
        counts = {table: n for table, n in count_rows(conn).items() if table in manifest.row_counts}
    _compare_counts(manifest, counts, f"the restore into {describe(target_dsn)}")
    return counts


def tables_not_in_backup(manifest: BackupManifest, dsn: str) -> list[str]:
    with connect(dsn) as conn:
        tables = {f"{schema}.{table}" for schema, table in conn.execute(_USER_TABLES).fetchall()}
    return sorted(tables - set(manifest.row_counts))


def count_rows(conn: psycopg.Connection) -> dict[str, int]:
    counts = {}
    for schema, table in conn.execute(_USER_TABLES).fetchall():
        query = sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        counts[f"{schema}.{table}"] = conn.execute(query).fetchone()[0]
    return counts


def _restore(dump_path: Path, target_dsn: str, manifest: BackupManifest, clean: bool) -> None:
    timescaledb = "timescaledb" in manifest.extensions
    if timescaledb:  # TimescaleDB's documented restore procedure: catalog first, then pre/post hooks
        with connect(target_dsn, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            conn.execute("SELECT timescaledb_pre_restore()")
    options = ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
    if clean:
        options += ["--clean", "--if-exists"]
    try:
        _run_tool("pg_restore", target_dsn, [*options, str(dump_path)])
    finally:
        if timescaledb:
            with connect(target_dsn, autocommit=True) as conn:
                conn.execute("SELECT timescaledb_post_restore()")


def _fetch_checked(store: BackupStore, manifest: BackupManifest, directory: Path) -> Path:
    dump_path = directory / f"{manifest.backup_id}.dump"
    store.fetch(manifest.backup_id, dump_path)
    actual = _sha256(dump_path)
    if actual != manifest.sha256:
        raise BackupVerificationError(
            f"backup {manifest.backup_id} is corrupt: stored dump has sha256 {actual[:12]}, "
            f"the manifest says {manifest.sha256[:12]}"
        )
    return dump_path


def _compare_counts(manifest: BackupManifest, counts: dict[str, int], what: str) -> None:
    if counts != manifest.row_counts:
        differences = [
            f"{table}: backup {manifest.row_counts.get(table, 'missing')}, restored {counts.get(table, 'missing')}"
            for table in sorted(set(counts) | set(manifest.row_counts))
            if counts.get(table) != manifest.row_counts.get(table)
        ]
        raise BackupVerificationError(
            f"backup {manifest.backup_id}: row counts after {what} differ: " + "; ".join(differences)
        )


def _run_tool(tool: str, dsn: str, arguments: list[str]) -> None:
    executable = shutil.which(tool)
    if executable is None:
        raise BackupError(f"{tool} not found on PATH: install the PostgreSQL client (scripts/postgres.sh install)")
    conninfo, env = libpq_command_target(dsn)
    result = subprocess.run(
        [executable, f"--dbname={conninfo}", *arguments], env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise BackupError(f"{tool} failed for {describe(dsn)}: {scrub(result.stderr.strip(), dsn)}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
