"""`DatabaseBackup`: a verified backup taken whenever its trigger changes.

The component sets the trigger to the migration set's checksum, so a new backup is dumped, stored
and verified (restored into a scratch database, row counts compared) before the migrations that
depend on it run. The resource's id is the backup id; outputs say where the backup is, its size
and the verified row count of every table. Deleting the resource keeps the backup (retention is
the store's business, e.g. an S3 lifecycle rule).

The provider holds no state: stores and connections are built from the inputs in each method.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

from database.backup import create_backup
from database.dsn import same_target
from database.signing import ManifestSigner
from database.storage import BackupStore, store_from_url
from resource_types import DATABASE_BACKUP, dynamic_type

# A change to any of these takes a new backup; scratch_dsn only says where verification runs.
_BACKUP_DEFINING_INPUTS = ("dsn", "store_url", "s3_endpoint_url", "s3_region", "trigger")


@dataclass(frozen=True)
class DatabaseBackupArgs:
    dsn: pulumi.Input[str]  # made a secret by the resource
    store_url: str  # file:///abs/dir or s3://bucket/prefix
    trigger: pulumi.Input[str]  # a new backup is taken when this changes
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    scratch_dsn: pulumi.Input[str] | None = None  # server for the verification restore; default: the source
    # kms:<key> (public stacks: components/aws.py's signing key) or file:<path> (local): signs the manifest
    signing_key: pulumi.Input[str] | None = None
    s3_expected_owner: str | None = None  # the bucket owner's account id


class DatabaseBackupProvider(ResourceProvider):
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        if not news.get("dsn"):
            failures.append(CheckFailure("dsn", "a PostgreSQL DSN is required"))
        try:
            ManifestSigner(news.get("signing_key") or "")
        except ValueError as error:
            failures.append(CheckFailure("signing_key", str(error)))
        try:
            _store(news)
        except ValueError as error:
            failures.append(CheckFailure("store_url", str(error)))
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changes = not same_target(olds.get("dsn"), news.get("dsn")) or \
            any(olds.get(key) != news.get(key) for key in _BACKUP_DEFINING_INPUTS if key != "dsn")
        return DiffResult(changes=changes, replaces=[], stables=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        outputs = _backup(props)
        return CreateResult(outputs["backup_id"], outputs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(_backup(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """A backup that disappeared from its store is gone: refresh drops it and `up` takes a new one."""
        return ReadResult(id_ if _store(props).exists(id_) else "", props)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Backups outlive the stack's resource."""


class DatabaseBackup(Resource, **dynamic_type(DATABASE_BACKUP)):
    backup_id: pulumi.Output[str]
    location: pulumi.Output[str]
    size_bytes: pulumi.Output[int]
    sha256: pulumi.Output[str]
    created_at: pulumi.Output[str]
    verified_counts: pulumi.Output[dict]

    def __init__(self, name: str, args: DatabaseBackupArgs, opts: pulumi.ResourceOptions | None = None):
        props = {
            "dsn": pulumi.Output.secret(args.dsn),
            "store_url": args.store_url,
            "trigger": args.trigger,
            "s3_endpoint_url": args.s3_endpoint_url,
            "s3_region": args.s3_region,
            "scratch_dsn": pulumi.Output.secret(args.scratch_dsn) if args.scratch_dsn is not None else None,
            "signing_key": args.signing_key,
            "s3_expected_owner": args.s3_expected_owner,
            "backup_id": None,
            "location": None,
            "size_bytes": None,
            "sha256": None,
            "created_at": None,
            "verified_counts": None,
        }
        secrets = pulumi.ResourceOptions(additional_secret_outputs=["dsn", "scratch_dsn"])
        super().__init__(DatabaseBackupProvider(), name, props, pulumi.ResourceOptions.merge(opts, secrets))


def _store(props: dict[str, Any]) -> BackupStore:
    return store_from_url(props["store_url"], endpoint_url=props.get("s3_endpoint_url"), region=props.get("s3_region"),
                          expected_owner=props.get("s3_expected_owner"))


def _backup(props: dict[str, Any]) -> dict[str, Any]:
    signer = ManifestSigner(props["signing_key"], region=props.get("s3_region"))
    backup = create_backup(props["dsn"], _store(props), signer, scratch_dsn=props.get("scratch_dsn") or None)
    return {
        **props,
        "backup_id": backup.manifest.backup_id,
        "location": backup.location,
        "size_bytes": backup.manifest.size_bytes,
        "sha256": backup.manifest.sha256,
        "created_at": backup.manifest.created_at,
        "verified_counts": backup.verified_counts,
    }
