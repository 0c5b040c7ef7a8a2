"""The deployer's send journal where every runner of the stack finds it, and the deployer's turn.

A journal location (ton_deploy/plan.py, `journal_location`) is a path (the stack's state is a folder, or
localnet's checkout) or an `s3://bucket/key?region=..&endpoint=..` URL beside the state of an S3 backend.

- A path is chain/wallets.py's file journal, locked with fcntl for a send; the deployer's turn is an fcntl
  lock on `<journal>.deployer`.
- An S3 journal is the same JSON document in the bucket. The deployer's turn is a claim object
  `<key>.lease` created only if absent (state_store/lease.py): a second runner waits for the first, then
  reads the journal the first wrote and adopts its sends. Every journal write is conditional on the
  version (ETag) last read or written (`If-Match`, `If-None-Match: *` for the first), so even a runner whose
  claim expired mid-send cannot overwrite another's record: its write fails before its message is
  broadcast. A store that cannot be read or written stops the send before anything is signed.

A journal left at the old place (`.state/journal` of the checkout) is carried to the new one by the first
turn, never over an existing journal.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse, urlunparse

from chain.files import exclusive_lock
from chain.wallets import SendError, SendJournal, empty_journal, parse_journal
from state_store.lease import Lease, held
from state_store.location import store_at
from state_store.store import StateStore, StoreConflict, StoreError


class JournalUnavailable(SendError):
    """The journal's store cannot be read or written: nothing is signed without it."""


class StoreJournal(SendJournal):
    """The send journal as one object in a store beside the state, written with conditional writes."""

    def __init__(self, store: StateStore, name: str):
        self.store, self.name = store, name
        self._version: str | None = None   # of the session's last read or write; None: the object is absent
        self._lease: Lease | None = None

    @property
    def location(self) -> str:
        return self.store.describe(self.name)

    @property
    def path(self) -> Path:   # the file journal's attribute, for callers that print it
        return Path(self.location)

    @contextlib.contextmanager
    def session(self) -> Iterator[dict]:
        with _unavailable_as_send_error(self.location), turn_claim(self.store, self.name) as lease:
            self._lease = lease
            try:
                yield self._read_versioned()
            finally:
                self._lease, self._version = None, None

    def read(self) -> dict:
        with _unavailable_as_send_error(self.location):
            stored = self.store.read(self.name)
        return empty_journal() if stored is None else parse_journal(stored.data, self.location)

    def save(self, data: dict) -> None:
        data["revision"] = int(data.get("revision", 0)) + 1   # no two writes look alike (no ETag ABA)
        body = json.dumps(data, separators=(",", ":")).encode()
        with _unavailable_as_send_error(self.location):
            try:
                self._version = (self.store.create(self.name, body) if self._version is None
                                 else self.store.replace(self.name, body, self._version))
            except StoreConflict as conflict:
                raise SendError(f"send journal {self.location} was written by another runner while this one held "
                                f"it ({conflict}); stopping before anything else is sent: run again to adopt what "
                                "the other runner recorded") from None
            if self._lease is not None:
                self._lease.renew()

    def _read_versioned(self) -> dict:
        stored = self.store.read(self.name)
        self._version = None if stored is None else stored.version
        return empty_journal() if stored is None else parse_journal(stored.data, self.location)


def journal_at(location: str) -> SendJournal:
    """The journal at a location: a path, or an s3:// URL of the object."""
    if location.startswith("s3://"):
        store, name = _store_and_name(location)
        return StoreJournal(store, name)
    return SendJournal(location)


@contextlib.contextmanager
def journal_turn(location: str, legacy: str | None = None) -> Iterator[None]:
    """One funding-and-send at a time per journal, across processes and (S3) runners. The first turn carries a
    journal left at `legacy` (the checkout's old place) to `location` if nothing is there yet."""
    if not location.startswith("s3://"):
        with exclusive_lock(Path(f"{location}.deployer")):
            if legacy and legacy != location and not os.path.exists(location) and os.path.exists(legacy):
                os.makedirs(os.path.dirname(location), exist_ok=True)
                shutil.copy2(legacy, location)
            yield
        return
    store, name = _store_and_name(location)
    with _unavailable_as_send_error(store.describe(name)), turn_claim(store, name):
        if legacy and os.path.exists(legacy) and store.read(name) is None:
            with contextlib.suppress(StoreConflict):   # another runner created it first: theirs stands
                store.create(name, Path(legacy).read_bytes())
        yield


def turn_claim(store: StateStore, name: str):
    return held(store, f"{name}.lease", purpose="deploying with this send journal")


def _store_and_name(location: str) -> tuple[StateStore, str]:
    parsed = urlparse(location)
    return store_at(urlunparse(parsed._replace(path=""))), parsed.path.lstrip("/")


@contextlib.contextmanager
def _unavailable_as_send_error(location: str) -> Iterator[None]:
    try:
        yield
    except StoreError as error:
        raise JournalUnavailable(f"the deployer's send journal {location} cannot be used: {error}. Nothing was "
                                 "signed; fix access to it (it lives beside the stack's state) and run again") from None
