"""Loopback ports of a checkout's local servers, chosen free once and recorded under `.state`.

Two checkouts on one machine must not fight over a fixed port, so each server of a checkout gets a port
that was free when first asked for, recorded in `.state/ports.json` and reused afterwards. When a recorded
port is taken by something else, `holder` names the process so the error can say who holds it.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from pathlib import Path

_LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def recorded_port(state_dir: Path, name: str) -> int:
    """The port recorded for `name` in `state_dir/ports.json`; a free one is chosen and recorded first."""
    record = state_dir / "ports.json"
    ports = json.loads(record.read_text()) if record.exists() else {}
    if name not in ports:
        taken = set(ports.values())
        port = free_port()
        while port in taken:
            port = free_port()
        ports[name] = port
        state_dir.mkdir(parents=True, exist_ok=True)
        tmp = record.with_suffix(".tmp")
        tmp.write_text(json.dumps(ports, indent=2, sort_keys=True) + "\n")
        tmp.replace(record)
    return int(ports[name])


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == _LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _fd_targets(proc: Path) -> set[str]:
    targets = set()
    try:
        fds = list((proc / "fd").iterdir())
    except OSError:  # gone, or not ours to read
        return targets
    for fd in fds:
        try:
            targets.add(os.readlink(fd))
        except OSError:  # closed meanwhile
            continue
    return targets


def holder(port: int) -> str | None:
    """Describe the process listening on loopback `port` ("pid 123: postgres -D ..."), None when free."""
    if is_free(port):
        return None
    inodes = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    for proc in Path("/proc").glob("[0-9]*"):
        if _fd_targets(proc) & inodes:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            return f"pid {proc.name}: {cmdline[:200]}"
    return "a process this user cannot see"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcluster.ports", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    get = sub.add_parser("get", help="print the recorded port of NAME, choosing a free one the first time")
    get.add_argument("name")
    get.add_argument("--state-dir", default=".state", type=Path)
    who = sub.add_parser("holder", help="name the process listening on PORT (exit 1 when the port is free)")
    who.add_argument("port", type=int)
    args = parser.parse_args(argv)
    if args.command == "get":
        print(recorded_port(args.state_dir, args.name))
        return 0
    description = holder(args.port)
    if description is None:
        return 1
    print(description)
    return 0


if __name__ == "__main__":
    sys.exit(main())
