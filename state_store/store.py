"""What every store beside the state offers (state_store/__init__.py says why): the errors, a versioned
object, and the interface the folder and S3 stores implement."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol



class StoreError(Exception):
    """Base of the errors of a store beside the state."""


class StoreUnavailable(StoreError):
    """The store cannot be reached, read or written (missing bucket, no credentials, network, permissions)."""


class StoreConflict(StoreError):
    """A conditional write lost: the object exists (create) or changed since it was read (replace/delete)."""


@dataclass(frozen=True)
class Versioned:
    """An object's content and the version a conditional write names (an S3 ETag, a folder file's hash)."""
    data: bytes
    version: str


class StateStore(Protocol):
    def describe(self, name: str) -> str:
        """Where `name` lives, for messages (a path or an s3:// URL)."""

    def read(self, name: str) -> Versioned | None: ...

    def create(self, name: str, data: bytes) -> str:
        """Write a new object; its version. StoreConflict if it exists."""

    def replace(self, name: str, data: bytes, version: str) -> str:
        """Overwrite the object if it is still `version`; the new version. StoreConflict otherwise."""

    def delete(self, name: str, version: str) -> None:
        """Remove the object if it is still `version`. StoreConflict otherwise; nothing if it is gone."""

    def names(self, prefix: str = "") -> list[str]:
        """The names of the objects under `prefix`, sorted."""


