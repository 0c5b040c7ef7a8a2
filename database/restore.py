"""Operator command: restore a verified backup into a database, after a confirmation.

    python -m database.restore --store s3://tonsurance-backups/mainnet/ --backup-id 20250115-1430 \\
        --signing-key kms:alias/tonsurance-mainnet-backup-signing --target-dsn-env MAINNET_DATABASE_URL

The backup id may be shortened to its start (at least day, hour and minute, as the guide's rollback.sh
takes it) when that matches exactly one backup in the store.

Before anything is shown or touched, the backup's manifest is proven (signed by the stack's key, naming the
backup asked for; database/backup.py). The command shows what the backup holds, where it goes and which
tables of the target the backup lacks, asks to type the target database's name (or takes --yes), restores
into a scratch database on the target's server, checks every table's count and checksum, and only then swaps
it in; the previous database is kept under another name. The target's password never goes on the command
line: the DSN comes from an environment variable (--target-dsn-env) or a file (--target-dsn-file); --target-dsn
takes only a DSN without a password (libpq finds it in ~/.pgpass or PGPASSWORD).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from database.backup import BackupError, load_manifest, restore_backup, tables_not_in_backup
from database.dsn import DatabaseConnectionError, describe, parse
from database.signing import ManifestSigner
from database.storage import BackupNotFoundError, BackupOverwrittenError, resolve_backup_id, store_from_url


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _restore(args)
    except (BackupError, BackupNotFoundError, BackupOverwrittenError, DatabaseConnectionError, ValueError,
            BotoCoreError, ClientError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def target_dsn(args: argparse.Namespace) -> str:
    """The target's DSN from --target-dsn-env, --target-dsn-file or a password-free --target-dsn."""
    if args.target_dsn is not None:
        if parse(args.target_dsn).get("password"):
            raise ValueError("--target-dsn must not carry a password (a command line is visible to every user of the "
                             "machine): pass the DSN in an environment variable (--target-dsn-env) or a file "
                             "(--target-dsn-file)")
        return args.target_dsn
    if args.target_dsn_file is not None:
        try:
            return Path(args.target_dsn_file).read_text().strip()
        except OSError as error:
            raise ValueError(f"--target-dsn-file {args.target_dsn_file}: cannot read it ({error.strerror})") from None
    return os.environ.get(args.target_dsn_env, "")


def _restore(args: argparse.Namespace) -> int:
    dsn = target_dsn(args)
    if not dsn:
        print("error: the target DSN is empty", file=sys.stderr)
        return 2
    store = store_from_url(args.store, endpoint_url=args.s3_endpoint_url, region=args.s3_region,
                           expected_owner=args.expected_bucket_owner)
    signer = ManifestSigner(args.signing_key, region=args.s3_region)
    manifest = load_manifest(store, resolve_backup_id(store, args.backup_id), signer)
    target = describe(dsn)
    dbname = parse(dsn).get("dbname") or target.rsplit("/", 1)[-1]

    print(f"Backup {manifest.backup_id}: taken {manifest.created_at} from {manifest.source}, "
          f"{manifest.size_bytes} bytes, {store.location(manifest.backup_id)} (signature checked)")
    for table, rows in sorted(manifest.row_counts.items()):
        print(f"  {table}: {rows} rows")
    print(f"Target: {target}")
    extra = tables_not_in_backup(manifest, dsn)
    if extra:
        print(f"Tables of the target that the backup lacks (kept only in the previous database): {', '.join(extra)}")
    print("The target database is replaced by the backup's: data written since the backup is LOST from it "
          "(the previous database is kept under another name).")
    if not args.yes:
        try:
            answer = input(f"Type the target database name ({dbname}) to restore: ").strip()
        except EOFError:  # no terminal, no answer
            answer = ""
        if answer != dbname:
            print("Not confirmed; nothing was changed.", file=sys.stderr)
            return 1

    restored = restore_backup(store, manifest.backup_id, dsn, signer)
    print(f"Restored {len(restored.counts)} tables into {target}; row counts and checksums match the backup.")
    print(f"The previous database is kept as {restored.previous_database} (connections disabled); drop it when "
          "it is no longer needed.")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m database.restore", description=__doc__.splitlines()[0])
    parser.add_argument("--backup-id", required=True,
                        help="a full id (20250115-143000-1a2b, DatabaseBackup's output) or its start, at least "
                             "day-hour-minute (20250115-1430), matching exactly one backup")
    parser.add_argument("--store", required=True, help="file:///abs/dir or s3://bucket/prefix")
    parser.add_argument("--signing-key", required=True,
                        help="the key the stack's manifests are signed with: kms:<key id, alias or ARN> or file:<path>")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--target-dsn", help="PostgreSQL DSN to restore into, without a password")
    target.add_argument("--target-dsn-env", help="name of an environment variable holding the DSN")
    target.add_argument("--target-dsn-file", help="a file holding the DSN")
    parser.add_argument("--s3-endpoint-url", help="S3-compatible endpoint (default: AWS)")
    parser.add_argument("--s3-region")
    parser.add_argument("--expected-bucket-owner", help="the bucket owner's AWS account id (checked on every call)")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation (automation)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
