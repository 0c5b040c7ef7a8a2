"""The scheduled backup (the stack's Kubernetes CronJob runs this): dump, upload, verify, record.

    python -m database.backup_job --store s3://tonsurance-backups/mainnet/ --s3-region eu-central-1 \\
        --signing-key kms:<the stack's signing key> --expected-bucket-owner <account id>

It is `create_backup`, the code `DatabaseBackup` runs before migrations: pg_dump in a consistent
snapshot, upload under the dated key `<prefix><YYYYMMDD-HHMMSS-xxxx>.dump` with its manifest, signed with
the stack's KMS key (database/signing.py), both written once, then a verification restore into a scratch database (on the same server: the role needs CREATEDB) with every
table's row count compared. The DSN comes from an environment variable (DATABASE_URL: the CronJob takes
it from the services' `database-url` Secret), S3 access from boto3's default chain (the pod's IAM role). The last line of
output is the JSON record of the backup (id, object, size, sha256, rows), never a secret; the manifest
object in the bucket is the durable record `python -m database.restore --backup-id` finds.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError

from database.backup import BackupError, create_backup
from database.dsn import DatabaseConnectionError
from database.signing import ManifestSigner
from database.storage import store_from_url

def dsn_from_environment(env: dict[str, str], name: str) -> str:
    if not env.get(name):
        raise ValueError(f"environment variable {name} is not set: it holds the database's DSN "
                         "(the CronJob takes it from the `database-url` Secret)")
    return env[name]


def main(argv: list[str] | None = None, env: dict[str, str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        store = store_from_url(args.store, endpoint_url=args.s3_endpoint_url, region=args.s3_region,
                               expected_owner=args.expected_bucket_owner)
        dsn = dsn_from_environment(dict(os.environ) if env is None else env, args.dsn_env)
        backup = create_backup(dsn, store, ManifestSigner(args.signing_key, region=args.s3_region))
    except (BackupError, DatabaseConnectionError, ValueError, FileExistsError, Boto3Error, BotoCoreError,
            ClientError) as error:
        print(f"error: scheduled backup failed: {error}", file=sys.stderr)
        return 1
    manifest = backup.manifest
    print(json.dumps({"backup_id": manifest.backup_id, "location": backup.location, "created_at": manifest.created_at,
                      "size_bytes": manifest.size_bytes, "sha256": manifest.sha256, "source": manifest.source,
                      "tables": len(backup.verified_counts), "rows": sum(backup.verified_counts.values()),
                      "verified": True}, sort_keys=True))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m database.backup_job", description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="s3://bucket/prefix (or file:///dir)")
    parser.add_argument("--s3-region")
    parser.add_argument("--s3-endpoint-url", help="S3-compatible endpoint (default: AWS)")
    parser.add_argument("--dsn-env", default="DATABASE_URL", help="environment variable holding the DSN")
    parser.add_argument("--signing-key", required=True, help="kms:<key id, alias or ARN> (or file:<path>) signing the manifest")
    parser.add_argument("--expected-bucket-owner", help="the bucket owner's AWS account id (checked on every call)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
