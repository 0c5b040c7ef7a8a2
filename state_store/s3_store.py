"""A store in an S3 bucket (the documented backend of public stacks): one object per name under a prefix.

Writes are S3 conditional writes: `If-None-Match: *` to create, `If-Match: <etag>` to replace or delete, so
two runners can never both win a write (S3 answers 412 Precondition Failed, or 409 while another
conditional write to the key is in flight). No encryption header: the bucket's default applies.
"""
from __future__ import annotations

from dataclasses import dataclass

from state_store.store import StoreConflict, StoreUnavailable, Versioned

CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}
MISSING_CODES = {"NoSuchKey", "404", "NotFound"}


@dataclass(frozen=True)
class S3Store:
    bucket: str
    prefix: str = ""                 # "" or ending in "/"
    region: str | None = None
    endpoint_url: str | None = None  # an S3-compatible endpoint (the backend URL's `endpoint=`); None for AWS
    path_style: bool = False
    profile: str | None = None

    def describe(self, name: str) -> str:
        return f"s3://{self.bucket}/{self._key(name)}"

    def read(self, name: str) -> Versioned | None:
        try:
            answer = self._client().get_object(Bucket=self.bucket, Key=self._key(name))
            return Versioned(answer["Body"].read(), answer["ETag"])
        except Exception as error:  # noqa: BLE001 - classified by _classified
            if _code(error) in MISSING_CODES:
                return None
            raise self._classified(error, "read", name) from None

    def create(self, name: str, data: bytes) -> str:
        return self._put(name, data, IfNoneMatch="*")

    def replace(self, name: str, data: bytes, version: str) -> str:
        return self._put(name, data, IfMatch=version)

    def delete(self, name: str, version: str) -> None:
        try:
            self._client().delete_object(Bucket=self.bucket, Key=self._key(name), IfMatch=version)
        except Exception as error:  # noqa: BLE001
            if _code(error) in MISSING_CODES:
                return
            raise self._classified(error, "delete", name) from None

    def names(self, prefix: str = "") -> list[str]:
        found = []
        try:
            pages = self._client().get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._key(prefix))
            for page in pages:
                found += [o["Key"].removeprefix(self.prefix) for o in page.get("Contents", [])]
        except Exception as error:  # noqa: BLE001
            raise self._classified(error, "list", prefix) from None
        return sorted(found)

    def _put(self, name: str, data: bytes, **condition: str) -> str:
        try:
            answer = self._client().put_object(Bucket=self.bucket, Key=self._key(name), Body=data,
                                               ContentType="application/json", **condition)
            return answer["ETag"]
        except Exception as error:  # noqa: BLE001
            raise self._classified(error, "write", name) from None

    def _key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def _classified(self, error: Exception, what: str, name: str) -> Exception:
        code = _code(error)
        if code in CONFLICT_CODES:
            return StoreConflict(f"{self.describe(name)} changed or exists: another writer got there first ({code})")
        if code is None and not _is_boto(error):
            return error
        detail = f"{code}: {_message(error)}" if code else f"{type(error).__name__}: {error}"
        return StoreUnavailable(f"cannot {what} {self.describe(name)} ({detail}); check that the bucket exists and "
                                "that this runner's AWS credentials (and region/endpoint) can read and write it")

    def _client(self):
        import boto3  # here: a folder-backed stack never loads boto3
        from botocore.config import Config

        session = boto3.session.Session(profile_name=self.profile) if self.profile else boto3.session.Session()
        config = Config(connect_timeout=5, read_timeout=30, retries={"mode": "standard"},
                        s3={"addressing_style": "path"} if self.path_style else None)
        return session.client("s3", region_name=self.region, endpoint_url=self.endpoint_url, config=config)


def _code(error: Exception) -> str | None:
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    return str(code) if code is not None else str(response.get("ResponseMetadata", {}).get("HTTPStatusCode"))


def _message(error: Exception) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Message", error))


def _is_boto(error: Exception) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError
    return isinstance(error, (BotoCoreError, ClientError))
