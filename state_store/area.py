"""An area of plain files beside a stack's state (`<backend>/.tonsurance/<area>/`): the deployment records
and anything else written whole and read back by name, on the same stores as the journal (state_store/).

    file:///srv/pulumi[?metadata=skip]        -> /srv/pulumi/.tonsurance/<area>/<name>
    s3://bucket/prefix?region=eu-central-1    -> s3://bucket/prefix/.tonsurance/<area>/<name>

Other backends (Pulumi Cloud, gs://, azblob://) have no place beside the state: `beside_state` returns None and
the caller falls back to the checkout. Areas hold no client and no secret, so they pickle.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from state_store.location import beside_state as state_store_url
from state_store.location import store_at
from state_store.store import StateStore, StoreConflict


@dataclass(frozen=True)
class Area:
    store: StateStore
    url: str   # printable location of the area (no secret in it)

    def location(self, name: str) -> str:
        return self.store.describe(name)

    def read_text(self, name: str) -> str | None:
        found = self.store.read(name)
        return found.data.decode() if found else None

    def write_text(self, name: str, text: str) -> str:
        """Write `name` whole (a reader sees the old or the new content); a concurrent writer's version is
        replaced, as the last writer of a record or pointer wins."""
        for _ in range(5):
            found = self.store.read(name)
            try:
                if found is None:
                    self.store.create(name, text.encode())
                else:
                    self.store.replace(name, text.encode(), found.version)
                return self.location(name)
            except StoreConflict:
                continue
        raise StoreConflict(f"{self.location(name)} kept changing while it was written; try again")

    def names(self) -> list[str]:
        return self.store.names()


def folder_area(directory: Path | str) -> Area:
    """An area in a local folder (the checkout's own records, or `--dir`)."""
    store = store_at(f"file://{os.path.abspath(directory)}")
    return Area(store, store.describe(""))


def beside_state(backend_url: str | None, area: str, project_dir: str | None = None) -> Area | None:
    """The area `area` beside the state of `backend_url` (a relative folder taken against `project_dir`, by
    default the current directory); None when that backend has no such place."""
    base = state_store_url(backend_url, project_dir or os.getcwd())
    if base is None:
        return None
    path, _, query = base.partition("?")
    store = store_at(f"{path}/{area}" + (f"?{query}" if query else ""))
    return Area(store, store.describe(""))


def state_folder(backend_url: str | None) -> Path | None:
    """The folder of a `file://` backend (options after `?` dropped), else None."""
    if not (backend_url and backend_url.startswith("file://")):
        return None
    return Path(os.path.abspath(os.path.expanduser(backend_url.removeprefix("file://").split("?", 1)[0])))
