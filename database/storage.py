"""Where backups live: a local folder (the `local` stack) or an S3 bucket (testnet, mainnet).

A backup is two objects: `<id>.dump` (pg_dump custom format, compressed) and `<id>.json` (its
manifest). The manifest is written last, so a backup without one is incomplete and never used.
Stores are described by a URL, `file:///abs/dir` or `s3://bucket/prefix`, and build their clients
inside each call (boto3's default credential chain), so they pickle and hold no secret.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse


class BackupNotFoundError(Exception):
    pass


class BackupStore(Protocol):
    def location(self, backup_id: str) -> str: ...
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
        encrypted = {"ServerSideEncryption": "AES256"}
        s3.upload_file(str(dump_path), self.bucket, self._key(backup_id, "dump"), ExtraArgs=encrypted)
        s3.put_object(
            Bucket=self.bucket, Key=self._key(backup_id, "json"), Body=manifest_json.encode(),
            ContentType="application/json", **encrypted,
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
