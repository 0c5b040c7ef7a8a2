"""Backups that are proven restorable and cannot be swapped: dump, store, sign, verify by restoring; restore.

`create_backup` dumps the database with pg_dump (custom format, compressed) inside a REPEATABLE READ
snapshot that also counts and checksums the rows of every table, so both describe exactly what was dumped
even while the database takes writes. The dump is stored once (database/storage.py), then its manifest
(sha256, size, the dump's S3 version, counts, checksums) is signed (database/signing.py) and stored once.

Nothing of a stored backup is used before its manifest is proven: `load_manifest` checks the id, the
signature and that the manifest names the backup asked for. Then the dump is fetched by the version the
manifest names and its sha256 checked. `verify_backup` restores it into a throwaway database and compares
every table's count and checksum; `restore_backup` does the same into a scratch database on the target's
server and only then swaps it in for the target (two renames in one transaction), keeping the previous
database under another name.
"""
from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from psycopg import sql

from database.dsn import connect, describe, libpq_command_target, parse, scrub, with_database
from database.signing import ManifestSignatureError, ManifestSigner
from database.storage import BackupStore, check_backup_id

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


MAINTENANCE_DATABASE = "postgres"  # where the swap runs: a database cannot be renamed from inside itself
# Row text is the same on every server and session with these settings, so checksums compare.
_STABLE_TEXT = ("SET TIME ZONE 'UTC'", "SET DateStyle = 'ISO, YMD'", "SET IntervalStyle = 'postgres'",
                "SET extra_float_digits = 1", "SET bytea_output = 'hex'")


@dataclass(frozen=True)
class BackupManifest:
    backup_id: str
    created_at: str  # ISO 8601, UTC
    source: str  # user@host:port/dbname, never the DSN
    size_bytes: int
    sha256: str
    row_counts: dict[str, int]  # "schema.table" -> rows, in the dumped snapshot
    checksums: dict[str, str]  # "schema.table" -> sum of its rows' md5s (order-free), in the same snapshot
    extensions: list[str]
    dump_version_id: str | None  # the dump's S3 version; None in a local folder

    def signed_json(self, signer: ManifestSigner) -> str:
        fields = asdict(self)
        return json.dumps({"manifest": fields, "signature": signer.sign(fields)}, indent=2, sort_keys=True)

    @classmethod
    def from_signed_json(cls, text: str, signer: ManifestSigner) -> "BackupManifest":
        """The manifest, once its signature is proven (ManifestSignatureError otherwise)."""
        try:
            document = json.loads(text)
            fields, signature = document["manifest"], document.get("signature")
            if not isinstance(fields, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise ManifestSignatureError("it is not a signed manifest") from None
        signer.verify(fields, signature)
        try:
            return cls(**fields)
        except TypeError:
            raise ManifestSignatureError("its fields are not a manifest's") from None


@dataclass(frozen=True)
class VerifiedBackup:
    manifest: BackupManifest
    location: str
    verified_counts: dict[str, int]


def new_backup_id(now: datetime | None = None) -> str:
    """`20250115-143000-1a2b`: sortable like the guide's ids, unique with a random suffix."""
    now = now or datetime.now(timezone.utc)
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def create_backup(dsn: str, store: BackupStore, signer: ManifestSigner, *,
                  scratch_dsn: str | None = None) -> VerifiedBackup:
    """Dump, store, sign and verify. `scratch_dsn` names the server (and credentials) where the scratch
    database for verification is created; by default the source server."""
    backup_id = new_backup_id()
    with tempfile.TemporaryDirectory(prefix="tonsurance-backup-") as tmp:
        dump_path = Path(tmp) / f"{backup_id}.dump"
        with connect(dsn) as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            with conn.transaction():
                snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
                row_counts, checksums = table_contents(conn)
                extensions = [r[0] for r in conn.execute("SELECT extname FROM pg_extension ORDER BY 1")]
                # pg_dump reads the same snapshot, which lives while this transaction is open.
                _run_tool(
                    "pg_dump", dsn,
                    ["--format=custom", "--compress=6", f"--snapshot={snapshot}", f"--file={dump_path}"],
                )
        version_id = store.put_dump(backup_id, dump_path)
        manifest = BackupManifest(
            backup_id=backup_id,
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            source=describe(dsn),
            size_bytes=dump_path.stat().st_size,
            sha256=_sha256(dump_path),
            row_counts=row_counts,
            checksums=checksums,
            extensions=extensions,
            dump_version_id=version_id,
        )
        store.put_manifest(backup_id, manifest.signed_json(signer))
    verified_counts = verify_backup(store, backup_id, scratch_dsn or dsn, signer)
    return VerifiedBackup(manifest, store.location(backup_id), verified_counts)


def load_manifest(store: BackupStore, backup_id: str, signer: ManifestSigner) -> BackupManifest:
    """The stored manifest of `backup_id`, proven: a backup id (never a path), signed by the stack's key, and
    naming that same backup. Nothing is fetched or touched before this returns."""
    check_backup_id(backup_id)
    try:
        manifest = BackupManifest.from_signed_json(store.manifest(backup_id), signer)
    except ManifestSignatureError as error:
        raise BackupVerificationError(f"backup {backup_id} is refused: its manifest is not trusted ({error})") from None
    if manifest.backup_id != backup_id:
        raise BackupVerificationError(f"backup {backup_id} is refused: its manifest describes backup "
                                      f"{manifest.backup_id!r}, not the one asked for")
    return manifest


def verify_backup(store: BackupStore, backup_id: str, scratch_dsn: str, signer: ManifestSigner) -> dict[str, int]:
    """Restore the stored backup into a throwaway database and compare every table's count and checksum."""
    manifest = load_manifest(store, backup_id, signer)
    with tempfile.TemporaryDirectory(prefix="tonsurance-verify-") as tmp:
        dump_path = _fetch_checked(store, manifest, Path(tmp))
        with _scratch_database(scratch_dsn, f"verify_{backup_id.replace('-', '_')}") as target:
            counts = _restore_and_compare(dump_path, target, manifest, "the verification restore")
    return counts


def restore_backup(store: BackupStore, backup_id: str, target_dsn: str, signer: ManifestSigner) -> "Restored":
    """Restore into a scratch database on the target's server, verify it, then swap it in for the target.

    The target is touched only after the restored copy matched every count and checksum; the previous
    database is kept (connections disabled) as `Restored.previous_database`.
    """
    manifest = load_manifest(store, backup_id, signer)
    target = parse(target_dsn).get("dbname") or describe(target_dsn).rsplit("/", 1)[-1]
    with tempfile.TemporaryDirectory(prefix="tonsurance-restore-") as tmp:
        dump_path = _fetch_checked(store, manifest, Path(tmp))
        scratch = f"restore_{backup_id.replace('-', '_')}"
        with _scratch_database(target_dsn, scratch, keep_on_success=True) as scratch_dsn:
            counts = _restore_and_compare(dump_path, scratch_dsn, manifest, "the restore into a scratch database")
            previous = _swap_in(target_dsn, scratch, target, backup_id)
    return Restored(counts, previous)


@dataclass(frozen=True)
class Restored:
    counts: dict[str, int]
    previous_database: str  # the target as it was, renamed


def tables_not_in_backup(manifest: BackupManifest, dsn: str) -> list[str]:
    with connect(dsn) as conn:
        tables = {f"{schema}.{table}" for schema, table in conn.execute(_USER_TABLES).fetchall()}
    return sorted(tables - set(manifest.row_counts))


def count_rows(conn: psycopg.Connection) -> dict[str, int]:
    return table_contents(conn)[0]


def table_contents(conn: psycopg.Connection) -> tuple[dict[str, int], dict[str, str]]:
    """Each table's row count and checksum: the sum of the first 60 bits of each row's md5 (order-free)."""
    for statement in _STABLE_TEXT:
        conn.execute(statement)
    counts, checksums = {}, {}
    for schema, table in conn.execute(_USER_TABLES).fetchall():
        query = sql.SQL("SELECT count(*), coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint), 0)"
                        " FROM {}.{} t").format(sql.Identifier(schema), sql.Identifier(table))
        count, checksum = conn.execute(query).fetchone()
        counts[f"{schema}.{table}"], checksums[f"{schema}.{table}"] = count, str(checksum)
    return counts, checksums


def _restore(dump_path: Path, target_dsn: str, manifest: BackupManifest) -> None:
    """pg_restore into an empty database, in one transaction."""
    timescaledb = "timescaledb" in manifest.extensions
    if timescaledb:  # TimescaleDB's documented restore procedure: catalog first, then pre/post hooks
        with connect(target_dsn, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            conn.execute("SELECT timescaledb_pre_restore()")
    try:
        _run_tool("pg_restore", target_dsn,
                  ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", str(dump_path)])
    finally:
        if timescaledb:
            with connect(target_dsn, autocommit=True) as conn:
                conn.execute("SELECT timescaledb_post_restore()")


def _fetch_checked(store: BackupStore, manifest: BackupManifest, directory: Path) -> Path:
    dump_path = directory / f"{check_backup_id(manifest.backup_id)}.dump"
    store.fetch(manifest.backup_id, dump_path, manifest.dump_version_id)
    actual = _sha256(dump_path)
    if actual != manifest.sha256:
        raise BackupVerificationError(
            f"backup {manifest.backup_id} is corrupt: stored dump has sha256 {actual[:12]}, "
            f"the manifest says {manifest.sha256[:12]}"
        )
    return dump_path


def _restore_and_compare(dump_path: Path, target_dsn: str, manifest: BackupManifest, what: str) -> dict[str, int]:
    _restore(dump_path, target_dsn, manifest)
    with connect(target_dsn) as conn:
        counts, checksums = table_contents(conn)
    _compare(manifest, counts, checksums, what)
    return counts


class _scratch_database:
    """A database created on the server of `dsn`, dropped on leaving (also on success unless kept)."""

    def __init__(self, dsn: str, name: str, keep_on_success: bool = False):
        self.dsn, self.name, self.keep_on_success = dsn, name, keep_on_success

    def __enter__(self) -> str:
        with connect(self.dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        return with_database(self.dsn, self.name)

    def __exit__(self, error_type, _error, _tb) -> None:
        if error_type is None and self.keep_on_success:
            return
        with connect(self.dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name)))


def _swap_in(dsn: str, scratch: str, target: str, backup_id: str) -> str:
    """Rename the target away and the verified scratch database to the target's name, in one transaction; the
    target takes no new sessions meanwhile and its open ones are ended. Returns the previous database's name."""
    previous = f"{target[:38]}_before_{backup_id.replace('-', '_')}"
    name = sql.Identifier(target)
    with connect(with_database(dsn, MAINTENANCE_DATABASE), autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(name))
        try:
            deadline = time.monotonic() + 60
            while admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
                                (target,)).fetchone()[0] and time.monotonic() < deadline:
                time.sleep(0.2)  # ended sessions leave pg_stat_activity shortly after
            with admin.transaction():
                admin.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(name, sql.Identifier(previous)))
                admin.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(scratch), name))
        except psycopg.Error as error:
            admin.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(name))
            raise BackupError(f"backup {backup_id} was restored and verified in database {scratch}, but swapping it "
                              f"in for {target} failed ({scrub(str(error).strip(), dsn)}); {target} is unchanged") from None
    return previous


def _compare(manifest: BackupManifest, counts: dict[str, int], checksums: dict[str, str], what: str) -> None:
    tables = sorted(set(counts) | set(manifest.row_counts))
    differences = [f"{table}: backup {manifest.row_counts.get(table, 'missing')}, restored {counts.get(table, 'missing')}"
                   for table in tables if counts.get(table) != manifest.row_counts.get(table)]
    differences += [f"{table}: same rows count, other contents (checksum)" for table in tables
                    if counts.get(table) == manifest.row_counts.get(table)
                    and checksums.get(table) != manifest.checksums.get(table)]
    if differences:
        raise BackupVerificationError(f"backup {manifest.backup_id}: {what} differs from the backup: "
                                      + "; ".join(differences))


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
