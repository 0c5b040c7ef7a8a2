"""Files beside a stack's Pulumi state, where every operator and CI runner of the stack finds them.

The Pulumi backend URL (`PULUMI_BACKEND_URL`) says where the state lives; our files go in `.tonsurance/<area>/`
next to Pulumi's own `.pulumi/` folder:

    file:///srv/pulumi[?metadata=skip]        -> /srv/pulumi/.tonsurance/<area>/<name>
    s3://bucket/prefix?region=eu-central-1    -> s3://bucket/prefix/.tonsurance/<area>/<name>

S3 URLs take the query parameters Pulumi's own S3 backend reads (gocloud.dev): `region`, `endpoint`,
`profile`, `use_path_style` (or `s3ForcePathStyle`), `disable_https`; credentials come from boto3's default
chain, as the CLI's come from the AWS SDK's. Other backends (Pulumi Cloud, gs://, azblob://) have no place
beside the state here: `beside_state` returns None and the caller falls back to the checkout.

Shared by the deployment records (ops/records.py) and anything else that must follow the state around.
Stores hold no client and no secret, so they pickle (a dynamic provider may carry one).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from chain.files import write_text_atomically

AREAS_FOLDER = ".tonsurance"
_TRUE = ("1", "true", "yes")


class BesideStateError(Exception):
    """The backend URL cannot be used (an option this module does not support)."""


class BesideState(Protocol):
    url: str  # printable location of the area (no secret in it)

    def location(self, name: str) -> str: ...
    def read_text(self, name: str) -> str | None: ...
    def write_text(self, name: str, text: str) -> str: ...
    def names(self) -> list[str]: ...


def beside_state(backend_url: str | None, area: str) -> BesideState | None:
    """The area `area` beside the state of `backend_url`; None when that backend has no such place."""
    folder = state_folder(backend_url)
    if folder:
        return FolderArea(folder / AREAS_FOLDER / area)
    if backend_url and backend_url.startswith("s3://"):
        return S3Area.from_backend_url(backend_url, area)
    return None


def state_folder(backend_url: str | None) -> Path | None:
    """The folder of a `file://` backend (options after `?` dropped), else None."""
    if not (backend_url and backend_url.startswith("file://")):
        return None
    return Path(os.path.abspath(os.path.expanduser(_without_query(backend_url.removeprefix("file://")))))


@dataclass(frozen=True)
class FolderArea:
    directory: Path

    @property
    def url(self) -> str:
        return str(self.directory)

    def location(self, name: str) -> str:
        return str(self.directory / name)

    def read_text(self, name: str) -> str | None:
        try:
            return (self.directory / name).read_text()
        except FileNotFoundError:
            return None

    def write_text(self, name: str, text: str) -> str:
        path = self.directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(path, text)
        return str(path)

    def names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(str(p.relative_to(self.directory)) for p in self.directory.rglob("*")
                      if p.is_file() and not p.name.startswith("."))


@dataclass(frozen=True)
class S3Area:
    bucket: str
    prefix: str  # ends with "/"
    region: str | None = None
    endpoint_url: str | None = None
    path_style: bool = False
    profile: str | None = None

    @classmethod
    def from_backend_url(cls, backend_url: str, area: str) -> S3Area:
        url = urlsplit(backend_url)
        if not url.netloc:
            raise BesideStateError(f"backend URL {_without_query(backend_url)} names no bucket")
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        if "role" in query:
            raise BesideStateError(f"backend URL {_without_query(backend_url)}: the `role` option is not supported "
                                   "here; assume the role in the environment (AWS_PROFILE or credentials) instead")
        endpoint = query.get("endpoint")
        if endpoint and "://" not in endpoint:
            endpoint = ("http://" if query.get("disable_https", "").lower() in _TRUE else "https://") + endpoint
        path_style = (query.get("use_path_style") or query.get("s3ForcePathStyle") or "").lower() in _TRUE
        base = url.path.strip("/")
        prefix = "/".join(part for part in (base, AREAS_FOLDER, area) if part) + "/"
        return cls(url.netloc, prefix, query.get("region"), endpoint, path_style, query.get("profile"))

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def location(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{name}"

    def read_text(self, name: str) -> str | None:
        client = self._client()
        try:
            body = client.get_object(Bucket=self.bucket, Key=self.prefix + name)["Body"]
        except client.exceptions.NoSuchKey:
            return None
        return body.read().decode()

    def write_text(self, name: str, text: str) -> str:
        # One PUT: S3 replaces an object atomically, so a reader sees the old or the new content.
        self._client().put_object(Bucket=self.bucket, Key=self.prefix + name, Body=text.encode(),
                                  ContentType="application/json")
        return self.location(name)

    def names(self) -> list[str]:
        pages = self._client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        return sorted(obj["Key"][len(self.prefix):] for page in pages for obj in page.get("Contents", []))

    def _client(self):
        import boto3  # here: stacks on file backends never load it
        from botocore.config import Config

        session = boto3.session.Session(profile_name=self.profile) if self.profile else boto3.session.Session()
        config = Config(s3={"addressing_style": "path"}) if self.path_style else None
        return session.client("s3", region_name=self.region, endpoint_url=self.endpoint_url, config=config)


def _without_query(url: str) -> str:
    return url.split("?", 1)[0]
