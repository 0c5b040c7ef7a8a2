"""The stack's database: a verified backup (when the stack asks for one), then the migrations.

    Database("database", DatabaseArgs(dsn=..., migrations_dir="migrations",
                                      single_transaction=True, timescaledb_required=True,
                                      backup=BackupPolicy(store_url="s3://tonsurance-backups/mainnet/")))

The backup's trigger is the checksum of the migration set, so adding a migration takes a new
backup, verifies it, and only then runs the migration (the migrations depend on the backup). With
`every_update` (mainnet) the trigger also names this run, so every `pulumi up` takes a verified backup first.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pulumi

from database.backup_resource import DatabaseBackup, DatabaseBackupArgs
from database.migrations import load_migrations, migration_set_checksum
from database.migrations_resource import SqlMigrations, SqlMigrationsArgs


@dataclass(frozen=True)
class BackupPolicy:
    # file:///abs/dir, s3://bucket/prefix, or a plain path (made absolute, for the local stack)
    store_url: str
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    scratch_dsn: pulumi.Input[str] | None = None  # where verification restores; default: the source server
    signing_key: pulumi.Input[str] | None = None  # kms:<key> or file:<path> (database/signing.py)
    s3_expected_owner: str | None = None  # the bucket owner's AWS account id
    every_update: bool = False  # a backup before every update (mainnet), not only before new migrations


@dataclass(frozen=True)
class DatabaseArgs:
    dsn: pulumi.Input[str]
    migrations_dir: str = "migrations"
    single_transaction: bool = False
    timescaledb_required: bool = False
    backup: BackupPolicy | None = None  # None: migrate without a backup (fresh local databases)


def backup_trigger(checksum: str, every_update: bool) -> str:
    """The migration set's checksum; with `every_update`, plus this run's time and a random tag (never equal
    twice, so the preview shows the backup an `up` will take)."""
    if not every_update:
        return checksum
    return f"{checksum}; before the update of {datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ} ({uuid.uuid4().hex[:8]})"


class Database(pulumi.ComponentResource):
    schema_version: pulumi.Output[int]
    applied_migrations: pulumi.Output[list]
    timescaledb: pulumi.Output[bool]
    backup_id: pulumi.Output[str] | None
    backup_location: pulumi.Output[str] | None

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("tonsurance:database:Database", name, None, opts)
        migrations = load_migrations(args.migrations_dir)
        dsn = pulumi.Output.secret(args.dsn)

        backup = None
        if args.backup is not None:
            backup = DatabaseBackup(
                f"{name}-backup",
                DatabaseBackupArgs(
                    dsn=dsn,
                    store_url=_store_url(args.backup.store_url),
                    trigger=backup_trigger(migration_set_checksum(migrations), args.backup.every_update),
                    s3_endpoint_url=args.backup.s3_endpoint_url,
                    s3_region=args.backup.s3_region,
                    scratch_dsn=args.backup.scratch_dsn,
                    signing_key=args.backup.signing_key,
                    s3_expected_owner=args.backup.s3_expected_owner,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

        schema = SqlMigrations(
            f"{name}-migrations",
            SqlMigrationsArgs(
                dsn=dsn,
                migrations=migrations,
                single_transaction=args.single_transaction,
                timescaledb_required=args.timescaledb_required,
                backup_id=backup.backup_id if backup else None,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[backup] if backup else []),
        )

        self.schema_version = schema.schema_version
        self.applied_migrations = schema.applied.apply(lambda rows: [row["name"] for row in rows or []])
        self.timescaledb = schema.timescaledb
        self.backup_id = backup.backup_id if backup else None
        self.backup_location = backup.location if backup else None
        self.register_outputs({
            "schema_version": self.schema_version,
            "applied_migrations": self.applied_migrations,
            "timescaledb": self.timescaledb,
            "backup_id": self.backup_id,
            "backup_location": self.backup_location,
        })


def _store_url(store_url: str) -> str:
    if "://" in store_url:
        return store_url
    return Path(store_url).resolve().as_uri()
