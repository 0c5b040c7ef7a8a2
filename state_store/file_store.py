"""A store in a folder (a `file://` backend, a shared volume included): one file per object.

Create-if-absent is a hard link of a fully written temporary file (atomic, fails if the name exists);
replace and delete compare the content hash under an exclusive lock on `<file>.lock`, then rename over.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from chain.files import exclusive_lock
from state_store.store import StoreConflict, StoreUnavailable, Versioned


def _version(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class FileStore:
    directory: str

    def describe(self, name: str) -> str:
        return str(self._path(name))

    def read(self, name: str) -> Versioned | None:
        path = self._path(name)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreUnavailable(f"cannot read {path}: {error}") from None
        return Versioned(data, _version(data))

    def create(self, name: str, data: bytes) -> str:
        path = self._path(name)
        temporary = self._written(path, data)
        try:
            os.link(temporary, path)
        except FileExistsError:
            raise StoreConflict(f"{path} already exists") from None
        finally:
            os.unlink(temporary)
        return _version(data)

    def replace(self, name: str, data: bytes, version: str) -> str:
        path = self._path(name)
        with exclusive_lock(path):
            self._require(path, version)
            temporary = self._written(path, data)
            os.replace(temporary, path)
        return _version(data)

    def delete(self, name: str, version: str) -> None:
        path = self._path(name)
        with exclusive_lock(path):
            if path.exists():
                self._require(path, version)
                path.unlink()

    def names(self, prefix: str = "") -> list[str]:
        root = Path(self.directory)
        if not root.is_dir():
            return []
        found = (p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        return sorted(n for n in found if n.startswith(prefix) and not n.endswith(".lock")
                      and not Path(n).name.startswith("."))

    def _path(self, name: str) -> Path:
        if name.startswith("/") or ".." in Path(name).parts:
            raise ValueError(f"object name {name!r} must stay inside the store")
        return Path(self.directory) / name

    def _require(self, path: Path, version: str) -> None:
        current = path.read_bytes() if path.exists() else None
        if current is None or _version(current) != version:
            raise StoreConflict(f"{path} changed since it was read")

    @staticmethod
    def _written(path: Path, data: bytes) -> str:
        """A temporary file beside `path` holding `data`, flushed to disk."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        except OSError as error:
            raise StoreUnavailable(f"cannot write beside {path}: {error}") from None
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        return temporary
