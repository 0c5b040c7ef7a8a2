"""The stack's backup store, as the program configures it (shared by preflight and rollback)."""
from __future__ import annotations

from pathlib import Path

from config import StackConfig
from database.storage import BackupStore, store_from_url


def backup_store_url(cfg: StackConfig, work_dir: Path) -> str:
    url = cfg.database.backup_store
    if url is None:
        raise ValueError("config tonsurance:backupStore is not set: the stack keeps no backups")
    return url if "://" in url else (work_dir / url).resolve().as_uri()  # a folder inside the project


def backup_store(cfg: StackConfig, work_dir: Path) -> BackupStore:
    return store_from_url(backup_store_url(cfg, work_dir), region=cfg.database.backup_s3_region)


def newest_backup(store: BackupStore) -> str | None:
    """The newest complete backup (dump and manifest): backup ids sort by time."""
    ids = store.find("")
    return ids[-1] if ids else None
