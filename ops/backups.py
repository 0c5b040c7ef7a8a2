"""The stack's backup store and manifest signing key, as the program configures them (shared by preflight and rollback)."""
from __future__ import annotations

from pathlib import Path

from config import StackConfig
from database.signing import LOCAL_KEY_FILE, ManifestSigner, stack_signing_key
from database.storage import BackupStore, store_from_url


def backup_store_url(cfg: StackConfig, work_dir: Path) -> str:
    url = cfg.database.backup_store
    if url is None:
        raise ValueError("config tonsurance:backupStore is not set: the stack keeps no backups")
    return url if "://" in url else (work_dir / url).resolve().as_uri()  # a folder inside the project


def bucket_owner(cfg: StackConfig) -> str | None:
    """The AWS account that owns a public stack's bucket (the account of its EKS OIDC provider)."""
    return cfg.aws.eks_oidc_provider_arn.split(":")[4] if cfg.aws else None


def signing_key(cfg: StackConfig, work_dir: Path) -> str:
    """The key the stack's manifests are signed with: its KMS key (public stacks) or the local key file."""
    return stack_signing_key(cfg.stack) if cfg.aws else f"file:{(work_dir / LOCAL_KEY_FILE).resolve()}"


def backup_store(cfg: StackConfig, work_dir: Path) -> BackupStore:
    return store_from_url(backup_store_url(cfg, work_dir), region=cfg.database.backup_s3_region,
                          expected_owner=bucket_owner(cfg))


def backup_signer(cfg: StackConfig, work_dir: Path) -> ManifestSigner:
    return ManifestSigner(signing_key(cfg, work_dir), region=cfg.aws.region if cfg.aws else None)


def newest_backup(store: BackupStore) -> str | None:
    """The newest complete backup (dump and manifest): backup ids sort by time."""
    ids = store.find("")
    return ids[-1] if ids else None
