"""An exclusive, expiring claim on a name in a store: one runner at a time does what the claim guards.

The claim is an object created only if absent (`create`), holding its owner and an expiry (wall clock, UTC
seconds). A runner that finds a live claim waits for it; one that finds an expired claim (its owner crashed)
takes it over with a conditional `replace`, so of two runners taking over, one wins. Safety never rests on
the claim alone: what it guards is written with conditional writes too, so a holder whose claim expired
and was taken over loses its next write instead of overwriting the new holder's.

Claims are re-entrant within a process (`held`): the deployer's turn and the journal session inside it
share one claim.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from typing import Iterator

from state_store.store import StateStore, StoreConflict, StoreError

DEFAULT_TTL_SECONDS = 900.0     # longer than one provider call normally holds it; renewed on every journal write
DEFAULT_WAIT_SECONDS = 600.0    # how long a runner waits for another runner's claim before giving up
POLL_SECONDS = 1.0
log = logging.getLogger(__name__)


class LeaseBusy(StoreError):
    """Another runner holds the claim and did not release it in time."""


class LeaseLost(StoreError):
    """This runner's claim expired and another runner took it over."""


class Lease:
    def __init__(self, store: StateStore, name: str, *, purpose: str, ttl_seconds: float = DEFAULT_TTL_SECONDS,
                 wait_seconds: float = DEFAULT_WAIT_SECONDS, poll_seconds: float = POLL_SECONDS):
        self.store, self.name, self.purpose = store, name, purpose
        self.ttl_seconds, self.wait_seconds, self.poll_seconds = ttl_seconds, wait_seconds, poll_seconds
        self.owner = f"{socket.gethostname()} pid {os.getpid()} {uuid.uuid4().hex[:8]}"
        self._version: str | None = None

    def _claim(self) -> bytes:
        return json.dumps({"owner": self.owner, "purpose": self.purpose,
                           "expires_at": time.time() + self.ttl_seconds}).encode()

    def acquire(self) -> None:
        deadline = time.monotonic() + self.wait_seconds
        waiting = False
        while True:
            try:
                self._version = self.store.create(self.name, self._claim())
                return
            except StoreConflict:
                pass
            current = self.store.read(self.name)
            if current is None:
                continue   # released meanwhile: try to create again
            holder = _parsed(current.data)
            if holder.get("expires_at", 0) < time.time():
                try:
                    self._version = self.store.replace(self.name, self._claim(), current.version)
                    return
                except StoreConflict:
                    continue   # another runner took it over first
            if time.monotonic() >= deadline:
                raise LeaseBusy(
                    f"{holder.get('owner', 'another runner')} holds {self.store.describe(self.name)} "
                    f"({holder.get('purpose', self.purpose)}) until {_utc(holder.get('expires_at', 0))}; waited "
                    f"{self.wait_seconds:.0f}s. Run again when it has finished; if that runner is gone for good, "
                    "its claim expires by itself at that time")
            if not waiting:
                waiting = True
                log.warning("%s waits for %s, which holds %s (%s) until %s", self.owner, holder.get("owner"),
                            self.store.describe(self.name), holder.get("purpose"), _utc(holder.get("expires_at", 0)))
            time.sleep(self.poll_seconds)

    def renew(self) -> None:
        """Extend the claim; LeaseLost if another runner took it over after it expired."""
        if self._version is None:
            return
        try:
            self._version = self.store.replace(self.name, self._claim(), self._version)
        except StoreConflict:
            self._version = None
            raise LeaseLost(f"the claim {self.store.describe(self.name)} expired and another runner took it over; "
                            "stopping before writing anything else") from None

    def release(self) -> None:
        if self._version is not None:
            with contextlib.suppress(StoreConflict):   # taken over after expiry: it is the other runner's now
                self.store.delete(self.name, self._version)
            self._version = None


_held: dict[str, tuple[Lease, int]] = {}
_turns: dict[str, threading.RLock] = {}   # one per claim: a provider runs resources in threads
_turns_guard = threading.Lock()


@contextlib.contextmanager
def held(store: StateStore, name: str, purpose: str, **options) -> Iterator[Lease]:
    """Hold the claim on `name` for the block: one thread of this process at a time (the others wait), re-entrant
    within the thread that holds it; the claim object keeps other processes and runners out."""
    key = store.describe(name)
    with _turns_guard:
        turn = _turns.setdefault(key, threading.RLock())
    with turn:
        existing = _held.get(key)
        if existing is not None:   # this thread, again
            _held[key] = (existing[0], existing[1] + 1)
            try:
                yield existing[0]
            finally:
                lease, count = _held[key]
                _held[key] = (lease, count - 1)
            return
        lease = Lease(store, name, purpose=purpose, **options)
        lease.acquire()
        _held[key] = (lease, 1)
        try:
            yield lease
        finally:
            del _held[key]
            lease.release()


def _parsed(data: bytes) -> dict:
    try:
        value = json.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _utc(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))
