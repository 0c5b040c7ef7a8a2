"""Where backups live: a local folder (the `local` stack) or an S3 bucket (testnet, mainnet).

A backup is two objects: `<id>.dump` (pg_dump custom format, compressed) and `<id>.json` (its
manifest). The manifest is written last, so a backup without one is incomplete and never used.
Stores are described by a URL, `file:///abs/dir` or `s3://bucket/prefix`, and build their clients
inside each call (boto3's default credential chain), so they pickle and hold no secret.
"""
from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse


class BackupNotFoundError(Exception):
    pass


class AmbiguousBackupIdError(BackupNotFoundError):
    pass


# A backup id as the guide writes it (20250115-1430) or as far as the operator knows it, up to the full id
# (20250115-143000-1a2b, new_backup_id): it must name at least the day, hour and minute.
_BACKUP_ID = re.compile(r"^\d{8}-\d{4}(\d{2}(-[0-9a-f]{1,4})?)?$")


class BackupStore(Protocol):
    def location(self, backup_id: str) -> str: ...
    def find(self, id_prefix: str) -> list[str]: ...
    def put(self, backup_id: str, dump_path: Path, manifest_json: str) -> str: ...
    def fetch(self, backup_id: str, dest_path: Path) -> None: ...
    def manifest(self, backup_id: str) -> str: ...
    def exists(self, backup_id: str) -> bool: ...


@dataclass(frozen=True)
class LocalFolderStore:
    directory: Path

    def location(self, backup_id: str) -> str:
        return str(self.directory / f"{backup_id}.dump")

    def put(self, backup_id: str, dump_path: Path, manifest_json: str) -> str:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        dump = self.directory / f"{backup_id}.dump"
        if dump.exists():
            raise FileExistsError(f"backup {backup_id} already exists in {self.directory}")
        _write_atomically(dump, lambda tmp: shutil.copyfile(dump_path, tmp))
        _write_atomically(self.directory / f"{backup_id}.json", lambda tmp: tmp.write_text(manifest_json))
        return str(dump)

    def fetch(self, backup_id: str, dest_path: Path) -> None:
        self._require(backup_id)
        shutil.copyfile(self.directory / f"{backup_id}.dump", dest_path)

    def manifest(self, backup_id: str) -> str:
        self._require(backup_id)
        return (self.directory / f"{backup_id}.json").read_text()

    def exists(self, backup_id: str) -> bool:
        return (self.directory / f"{backup_id}.json").is_file() and (self.directory / f"{backup_id}.dump").is_file()

    def find(self, id_prefix: str) -> list[str]:
        """Complete backups (dump and manifest) whose id starts with `id_prefix`."""
        ids = (path.name.removesuffix(".json") for path in self.directory.glob(f"{id_prefix}*.json"))
        return sorted(i for i in ids if self.exists(i))

    def _require(self, backup_id: str) -> None:
        if not self.exists(backup_id):
            raise BackupNotFoundError(f"backup {backup_id} not found in {self.directory}")


@dataclass(frozen=True)
class S3Store:
    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None  # an S3-compatible endpoint; None for AWS
    region: str | None = None

    def location(self, backup_id: str) -> str:
        return f"s3://{self.bucket}/{self._key(backup_id, 'dump')}"

    def put(self, backup_id: str, dump_path: Path, manifest_json: str) -> str:
        s3 = self._client()
        if self._object_exists(s3, self._key(backup_id, "dump")):
            raise FileExistsError(f"backup {backup_id} already exists in s3://{self.bucket}/{self.prefix}")
        # No encryption header: the bucket's default applies (SSE-KMS with the stack's own key, components/aws.py;
        # an explicit header would override it).
        s3.upload_file(str(dump_path), self.bucket, self._key(backup_id, "dump"))
        s3.put_object(
            Bucket=self.bucket, Key=self._key(backup_id, "json"), Body=manifest_json.encode(),
            ContentType="application/json",
        )
        return self.location(backup_id)

    def fetch(self, backup_id: str, dest_path: Path) -> None:
        self._require(backup_id)
        self._client().download_file(self.bucket, self._key(backup_id, "dump"), str(dest_path))

    def manifest(self, backup_id: str) -> str:
        self._require(backup_id)
        body = self._client().get_object(Bucket=self.bucket, Key=self._key(backup_id, "json"))["Body"]
        return body.read().decode()

    def exists(self, backup_id: str) -> bool:
        s3 = self._client()
        return self._object_exists(s3, self._key(backup_id, "json")) and self._object_exists(
            s3, self._key(backup_id, "dump")
        )

    def find(self, id_prefix: str) -> list[str]:
        """Complete backups (dump and manifest) whose id starts with `id_prefix`: one listing of that key prefix."""
        keys = set()
        for page in self._client().get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=f"{self.prefix}{id_prefix}"):
            keys.update(o["Key"].removeprefix(self.prefix) for o in page.get("Contents", []))
        return sorted(k.removesuffix(".json") for k in keys
                      if k.endswith(".json") and f"{k.removesuffix('.json')}.dump" in keys)

    def _require(self, backup_id: str) -> None:
        if not self.exists(backup_id):
            raise BackupNotFoundError(f"backup {backup_id} not found in s3://{self.bucket}/{self.prefix}")

    def _key(self, backup_id: str, extension: str) -> str:
        return f"{self.prefix}{backup_id}.{extension}"

    def _client(self):
        import boto3  # imported here: the local stack and the tests of the local store never need it

        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.region)

    def _object_exists(self, s3, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            s3.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise


def resolve_backup_id(store: BackupStore, given: str) -> str:
    """The full id of the one complete backup whose id starts with `given` (e.g. the guide's 20250115-1430)."""
    if not _BACKUP_ID.match(given):
        raise ValueError(f"backup id {given!r} must look like 20250115-1430 (day, hour, minute) or a full id "
                         "such as 20250115-143000-1a2b")
    found = store.find(given)
    where = f"s3://{store.bucket}/{store.prefix}" if isinstance(store, S3Store) else str(store.directory)
    if not found:
        raise BackupNotFoundError(f"backup {given} not found in {where}")
    if len(found) > 1:
        raise AmbiguousBackupIdError(f"backup id {given} matches {len(found)} backups in {where}: "
                                     f"{', '.join(found)}; give one of them in full")
    return found[0]


def store_from_url(url: str, *, endpoint_url: str | None = None, region: str | None = None) -> BackupStore:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        if parsed.netloc or not parsed.path.startswith("/"):
            raise ValueError(f"a local backup store must be an absolute file:/// URL, got {url!r}")
        return LocalFolderStore(Path(parsed.path))
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ValueError(f"an S3 backup store URL needs a bucket: s3://bucket/prefix, got {url!r}")
        prefix = parsed.path.lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return S3Store(parsed.netloc, prefix, endpoint_url, region)
    raise ValueError(f"backup store must be file:///dir or s3://bucket/prefix, got {url!r}")


def _write_atomically(path: Path, write) -> None:
    """Write to a side file readable by the owner only (a backup holds all the data), then rename."""
    tmp = path.with_name(path.name + ".partial")
    tmp.touch(mode=0o600)
    write(tmp)
    os.replace(tmp, path)
