"""Where backups live: a local folder (the `local` stack) or an S3 bucket (testnet, mainnet).

A backup is two objects: `<id>.dump` (pg_dump custom format, compressed) and `<id>.json` (its signed
manifest, database/backup.py). The manifest is written last, so a backup without one is incomplete and never
used. Both are written once: a local file is linked into place only where none exists; an S3 object is put
with `If-None-Match: *` (the bucket's policy refuses a put without it, components/aws.py), and the manifest
names the dump's S3 version, which restore fetches. A manifest key with more than one version was written
twice (by someone the policy does not bind) and is refused. Every S3 call names the bucket's owner account
(`ExpectedBucketOwner`), so a bucket of the same name in another account is never read or written.
Backup ids are checked here too (`check_backup_id`): a name from a listing never becomes a path or key
outside the store. Stores are described by a URL, `file:///abs/dir` or `s3://bucket/prefix`, and build their
clients inside each call (boto3's default credential chain), so they pickle and hold no secret.
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


class BackupOverwrittenError(Exception):
    """A backup's object was written more than once: its manifest is not trusted."""


# A backup id as the guide writes it (20250115-1430) or as far as the operator knows it, up to the full id
# (20250115-143000-1a2b, new_backup_id): it must name at least the day, hour and minute.
_BACKUP_ID = re.compile(r"^\d{8}-\d{4}(\d{2}(-[0-9a-f]{1,4})?)?$")
_FULL_BACKUP_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{4}$")  # new_backup_id's
_PART_BYTES = 64 << 20  # larger dumps go up in parts of this size (S3 takes at most 5 GiB in one put)


def check_backup_id(backup_id: object) -> str:
    """A complete backup id (20250115-143000-1a2b), or ValueError: never a path, a key prefix or `..`."""
    if not isinstance(backup_id, str) or not _FULL_BACKUP_ID.match(backup_id):
        raise ValueError(f"{backup_id!r} is not a backup id (like 20250115-143000-1a2b)")
    return backup_id


class BackupStore(Protocol):
    def location(self, backup_id: str) -> str: ...
    def find(self, id_prefix: str) -> list[str]: ...
    def put_dump(self, backup_id: str, dump_path: Path) -> str | None: ...  # the dump's version (S3), once
    def put_manifest(self, backup_id: str, manifest_json: str) -> None: ...  # once
    def fetch(self, backup_id: str, dest_path: Path, version_id: str | None = None) -> None: ...
    def manifest(self, backup_id: str) -> str: ...
    def exists(self, backup_id: str) -> bool: ...


@dataclass(frozen=True)
class LocalFolderStore:
    directory: Path

    def location(self, backup_id: str) -> str:
        return str(self._path(backup_id, "dump"))

    def put_dump(self, backup_id: str, dump_path: Path) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_once(self._path(backup_id, "dump"), lambda tmp: shutil.copyfile(dump_path, tmp))
        return None  # a folder keeps no versions

    def put_manifest(self, backup_id: str, manifest_json: str) -> None:
        _write_once(self._path(backup_id, "json"), lambda tmp: tmp.write_text(manifest_json))

    def fetch(self, backup_id: str, dest_path: Path, version_id: str | None = None) -> None:
        self._require(backup_id)
        shutil.copyfile(self._path(backup_id, "dump"), dest_path)

    def manifest(self, backup_id: str) -> str:
        self._require(backup_id)
        return self._path(backup_id, "json").read_text()

    def exists(self, backup_id: str) -> bool:
        return self._path(backup_id, "json").is_file() and self._path(backup_id, "dump").is_file()

    def _path(self, backup_id: str, extension: str) -> Path:
        return self.directory / f"{check_backup_id(backup_id)}.{extension}"

    def find(self, id_prefix: str) -> list[str]:
        """Complete backups (dump and manifest) whose id starts with `id_prefix`."""
        ids = (path.name.removesuffix(".json") for path in self.directory.glob(f"{id_prefix}*.json"))
        return sorted(i for i in ids if _FULL_BACKUP_ID.match(i) and self.exists(i))

    def _require(self, backup_id: str) -> None:
        if not self.exists(backup_id):
            raise BackupNotFoundError(f"backup {backup_id} not found in {self.directory}")


@dataclass(frozen=True)
class S3Store:
    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None  # an S3-compatible endpoint; None for AWS
    region: str | None = None
    expected_owner: str | None = None  # the bucket owner's account id: every call names it (ExpectedBucketOwner)

    def location(self, backup_id: str) -> str:
        return f"s3://{self.bucket}/{self._key(backup_id, 'dump')}"

    # No encryption header on puts: the bucket's default applies (SSE-KMS with the stack's own key,
    # components/aws.py; an explicit header would override it).
    def put_dump(self, backup_id: str, dump_path: Path) -> str | None:
        s3, key = self._client(), self._key(backup_id, "dump")
        if dump_path.stat().st_size <= _PART_BYTES:
            with dump_path.open("rb") as body:
                return self._put_once(s3.put_object, backup_id, Key=key, Body=body).get("VersionId")
        upload = s3.create_multipart_upload(**self._args(Key=key))["UploadId"]
        try:
            parts = []
            with dump_path.open("rb") as file:
                for number, chunk in enumerate(iter(lambda: file.read(_PART_BYTES), b""), start=1):
                    etag = s3.upload_part(**self._args(Key=key, UploadId=upload, PartNumber=number, Body=chunk))["ETag"]
                    parts.append({"PartNumber": number, "ETag": etag})
            return self._put_once(s3.complete_multipart_upload, backup_id, Key=key, UploadId=upload,
                                  MultipartUpload={"Parts": parts}).get("VersionId")
        except BaseException:
            s3.abort_multipart_upload(**self._args(Key=key, UploadId=upload))
            raise

    def put_manifest(self, backup_id: str, manifest_json: str) -> None:
        self._put_once(self._client().put_object, backup_id, Key=self._key(backup_id, "json"),
                       Body=manifest_json.encode(), ContentType="application/json")

    def fetch(self, backup_id: str, dest_path: Path, version_id: str | None = None) -> None:
        self._require(backup_id)
        extra = {"VersionId": version_id} if version_id else {}
        self._client().download_file(self.bucket, self._key(backup_id, "dump"), str(dest_path),
                                     ExtraArgs=self._args(**extra, bucket=False))

    def manifest(self, backup_id: str) -> str:
        """The manifest's one version; a key written twice is refused (BackupOverwrittenError)."""
        self._require(backup_id)
        s3, key = self._client(), self._key(backup_id, "json")
        versions = [v for page in s3.get_paginator("list_object_versions").paginate(**self._args(Prefix=key))
                    for v in page.get("Versions", []) + page.get("DeleteMarkers", []) if v["Key"] == key]
        if len(versions) > 1:
            raise BackupOverwrittenError(
                f"backup {backup_id}: its manifest s3://{self.bucket}/{key} was written {len(versions)} times "
                "(versions " + ", ".join(str(v.get("VersionId")) for v in versions) + "): refused; a backup is "
                "written once, so find out who wrote it again")
        extra = {"VersionId": versions[0]["VersionId"]} if versions and versions[0].get("VersionId") not in (None, "null") else {}
        return s3.get_object(**self._args(Key=key, **extra))["Body"].read().decode()

    def exists(self, backup_id: str) -> bool:
        s3 = self._client()
        return self._object_exists(s3, self._key(backup_id, "json")) and self._object_exists(
            s3, self._key(backup_id, "dump")
        )

    def find(self, id_prefix: str) -> list[str]:
        """Complete backups (dump and manifest) whose id starts with `id_prefix`: one listing of that key prefix."""
        keys = set()
        for page in self._client().get_paginator("list_objects_v2").paginate(
                **self._args(Prefix=f"{self.prefix}{id_prefix}")):
            keys.update(o["Key"].removeprefix(self.prefix) for o in page.get("Contents", []))
        return sorted(k.removesuffix(".json") for k in keys if k.endswith(".json")
                      and _FULL_BACKUP_ID.match(k.removesuffix(".json")) and f"{k.removesuffix('.json')}.dump" in keys)

    def _require(self, backup_id: str) -> None:
        if not self.exists(backup_id):
            raise BackupNotFoundError(f"backup {backup_id} not found in s3://{self.bucket}/{self.prefix}")

    def _key(self, backup_id: str, extension: str) -> str:
        return f"{self.prefix}{check_backup_id(backup_id)}.{extension}"

    def _args(self, bucket: bool = True, **args) -> dict:
        """A call's arguments with the bucket and, when known, its owner's account."""
        owner = {"ExpectedBucketOwner": self.expected_owner} if self.expected_owner else {}
        return {**({"Bucket": self.bucket} if bucket else {}), **owner, **args}

    def _put_once(self, put, backup_id: str, **args) -> dict:
        """A put that only creates: S3 answers 412 when the key exists."""
        from botocore.exceptions import ClientError

        try:
            return put(**self._args(IfNoneMatch="*", **args))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412"):
                raise FileExistsError(f"backup {backup_id}: s3://{self.bucket}/{args['Key']} already exists; "
                                      "a backup is written once") from None
            raise

    def _client(self):
        import boto3  # imported here: the local stack and the tests of the local store never need it

        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.region)

    def _object_exists(self, s3, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            s3.head_object(**self._args(Key=key))
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


def store_from_url(url: str, *, endpoint_url: str | None = None, region: str | None = None,
                   expected_owner: str | None = None) -> BackupStore:
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
        return S3Store(parsed.netloc, prefix, endpoint_url, region, expected_owner)
    raise ValueError(f"backup store must be file:///dir or s3://bucket/prefix, got {url!r}")


def _write_once(path: Path, write) -> None:
    """Write a side file readable by the owner only (a backup holds all the data), then link it into place:
    the link fails where the file exists, so nothing is ever overwritten."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.partial")
    tmp.touch(mode=0o600)
    try:
        write(tmp)
        os.link(tmp, path)
    except FileExistsError:
        raise FileExistsError(f"{path} already exists; a backup is written once") from None
    finally:
        tmp.unlink(missing_ok=True)
