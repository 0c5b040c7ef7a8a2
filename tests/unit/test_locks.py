"""`python -m ops unlock` (ops/locks.py): the lock of a Pulumi run that no longer exists on this host is
removed; the lock of a live run, of another host, or a file being written stays."""
from __future__ import annotations

import json
import socket
import subprocess

from ops.locks import clear_stale_locks, stack_locks


def lock(folder, stack: str, name: str, pid: int, hostname: str | None = None):
    path = folder / ".pulumi" / "locks" / "organization" / "tonsurance" / stack / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": pid, "username": "root", "hostname": hostname or socket.gethostname(),
                                "timestamp": "2026-12-07T15:00:00Z"}))
    return path


def test_only_locks_of_runs_that_are_gone_are_removed(tmp_path):
    gone = subprocess.Popen(["true"])
    gone.wait()
    live = subprocess.Popen(["bash", "-c", "exec -a pulumi-up sleep 60"])  # a running Pulumi, as ps shows it
    other_program = subprocess.Popen(["sleep", "60"])                      # its pid reused by something else
    try:
        dead = lock(tmp_path, "local", "a", gone.pid)
        running = lock(tmp_path, "local", "b", live.pid)
        reused = lock(tmp_path, "local", "c", other_program.pid)
        elsewhere = lock(tmp_path, "local", "d", gone.pid, hostname="ci-runner-17")
        another_stack = lock(tmp_path, "testnet", "e", gone.pid)
        half_written = tmp_path / ".pulumi" / "locks" / "organization" / "tonsurance" / "local" / "f.json"
        half_written.write_text('{"pid": ')
        assert clear_stale_locks(f"file://{tmp_path}?metadata=skip", "local") == [dead, reused]
        assert stack_locks(tmp_path, "local") == [running, elsewhere, half_written]
        assert another_stack.exists()
    finally:
        live.kill()
        other_program.kill()


def test_backends_that_are_no_folder_are_left_alone():
    assert clear_stale_locks("s3://bucket/state", "local") == []
    assert clear_stale_locks(None, "local") == []
