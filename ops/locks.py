"""Remove the stack's Pulumi lock when the run that took it is gone (killed or crashed on this machine).

    python -m ops unlock --stack local      # `make up` runs it before `pulumi up`

A `pulumi up` killed with SIGKILL leaves its lock in a file backend (`.pulumi/locks/.../<stack>/*.json`, with
the pid and host of the run), and every later command refuses to start until `pulumi cancel`. A lock whose
process no longer exists on this host can be removed without asking anyone; a lock of a live process, or of
another machine, stays (only someone who knows that run is over may `pulumi cancel` it). File backends only:
an S3 backend's locks come from CI runners and other machines, which this machine cannot see.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
from pathlib import Path

from state_store.area import state_folder


def stack_locks(backend_folder: Path, stack: str) -> list[Path]:
    """Lock files of `stack` (project-scoped layout `organization/<project>/<stack>` and the legacy one)."""
    locks = backend_folder / ".pulumi" / "locks"
    return sorted(p for p in locks.rglob("*.json") if p.parent.name == stack) if locks.is_dir() else []


def is_stale(lock: Path, hostname: str | None = None) -> bool:
    """The lock names a process of this host that no longer runs (a reused pid running anything but Pulumi
    counts as gone)."""
    try:
        content = json.loads(lock.read_text())
    except (OSError, json.JSONDecodeError):
        return False  # being written, or not Pulumi's: leave it
    if content.get("hostname") != (hostname or socket.gethostname()):
        return False
    try:
        command = Path(f"/proc/{int(content['pid'])}/cmdline").read_bytes()
    except (OSError, KeyError, TypeError, ValueError):
        return True
    return b"pulumi" not in command


def clear_stale_locks(backend_url: str | None, stack: str) -> list[Path]:
    """Remove the stack's stale locks; returns what was removed."""
    folder = state_folder(backend_url)
    removed = []
    for lock in stack_locks(folder, stack) if folder else []:
        if is_stale(lock):
            lock.unlink(missing_ok=True)
            removed.append(lock)
    return removed


# ---- the command -----------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    for lock in clear_stale_locks(os.environ.get("PULUMI_BACKEND_URL"), args.stack):
        print(f"removed the lock of a run that no longer exists: {lock}")
    return 0
