"""Operator command: restore a verified backup into a database, after a confirmation.

    python -m database.restore --store s3://tonsurance-backups/mainnet/ --backup-id 20250115-1430 \\
        --target-dsn-env MAINNET_DATABASE_URL

The backup id may be shortened to its start (at least day, hour and minute, as the guide's rollback.sh
takes it) when that matches exactly one backup in the store.

It shows what the backup holds and where it goes, asks to type the target database's name (or
takes --yes), restores in one transaction, and checks every table's row count against the backup.
The DSN can come from an environment variable (--target-dsn-env), which keeps the password off the
command line and out of shell history.
"""
from __future__ import annotations

import argparse
import os
import sys

from botocore.exceptions import BotoCoreError, ClientError

from database.backup import BackupError, BackupManifest, restore_backup, tables_not_in_backup
from database.dsn import DatabaseConnectionError, describe, parse
from database.storage import BackupNotFoundError, resolve_backup_id, store_from_url


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _restore(args)
    except (BackupError, BackupNotFoundError, DatabaseConnectionError, ValueError, BotoCoreError, ClientError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _restore(args: argparse.Namespace) -> int:
    target_dsn = args.target_dsn or os.environ.get(args.target_dsn_env or "", "")
    if not target_dsn:
        print("error: the target DSN is empty", file=sys.stderr)
        return 2
    store = store_from_url(args.store, endpoint_url=args.s3_endpoint_url, region=args.s3_region)
    manifest = BackupManifest.from_json(store.manifest(resolve_backup_id(store, args.backup_id)))
    target = describe(target_dsn)
    dbname = parse(target_dsn).get("dbname") or target.rsplit("/", 1)[-1]

    print(f"Backup {manifest.backup_id}: taken {manifest.created_at} from {manifest.source}, "
          f"{manifest.size_bytes} bytes, {store.location(manifest.backup_id)}")
    for table, rows in sorted(manifest.row_counts.items()):
        print(f"  {table}: {rows} rows")
    print(f"Target: {target}")
    print("The target's tables are replaced by the backup's: data written since the backup is LOST.")
    if not args.yes:
        try:
            answer = input(f"Type the target database name ({dbname}) to restore: ").strip()
        except EOFError:  # no terminal, no answer
            answer = ""
        if answer != dbname:
            print("Not confirmed; nothing was changed.", file=sys.stderr)
            return 1

    counts = restore_backup(store, manifest.backup_id, target_dsn)
    print(f"Restored {len(counts)} tables into {target}; row counts match the backup.")
    extra = tables_not_in_backup(manifest, target_dsn)
    if extra:
        print(f"Warning: tables newer than the backup were left in place: {', '.join(extra)}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m database.restore", description=__doc__.splitlines()[0])
    parser.add_argument("--backup-id", required=True,
                        help="a full id (20250115-143000-1a2b, DatabaseBackup's output) or its start, at least "
                             "day-hour-minute (20250115-1430), matching exactly one backup")
    parser.add_argument("--store", required=True, help="file:///abs/dir or s3://bucket/prefix")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--target-dsn", help="PostgreSQL DSN to restore into")
    target.add_argument("--target-dsn-env", help="name of an environment variable holding the DSN")
    parser.add_argument("--s3-endpoint-url", help="S3-compatible endpoint (default: AWS)")
    parser.add_argument("--s3-region")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation (automation)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
