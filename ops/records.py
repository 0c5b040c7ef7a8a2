"""Deployment records: `deployments/<stack>-YYYYMMDD-HHMMSS.json` after each successful `up`, plus a copy
as `<stack>-latest.json`. The format is documented in docs/deployment-records.md; `FORMAT_VERSION` changes
whenever a field changes meaning or goes away (readers refuse versions they do not know).

    python -m ops record --stack local            # after `pulumi up` (the Makefile and the workflow do it)
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import socket
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from database.child_env import minimal_env
from ops.stack import ROOT, open_stack, plain_config, plain_outputs

FORMAT = "tonsurance-deployment-record"
FORMAT_VERSION = 1
RECORDS_DIR = ROOT / "deployments"
_NAME = re.compile(r"^(?P<stack>.+)-(?P<stamp>\d{8}-\d{6})\.json$")
# Outputs that the record lifts into its own sections (everything else stays under "outputs").
CONTRACT_OUTPUTS = ("pricing_oracle_address", "multi_tranche_vault_address", "sure_token_addresses",
                    "policy_router_address", "policy_shard_addresses", "shard_count")


class RecordError(Exception):
    """A record is missing, unreadable or of an unknown format version."""


def build_record(stack_name: str, outputs: dict[str, Any], config: dict[str, Any], *, work_dir: Path = ROOT,
                 now: datetime | None = None) -> dict[str, Any]:
    """A record from the stack's (non-secret) outputs and config."""
    now = now or datetime.now(timezone.utc)
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "stack": stack_name,
        "network": outputs.get("network", config.get("network")),
        "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "deployed_by": os.environ.get("GITHUB_ACTOR") or f"{getpass.getuser()}@{socket.gethostname()}",
        "git": git_state(work_dir),
        "contracts": {key.removesuffix("_address").removesuffix("_addresses"): outputs.get(key)
                      for key in CONTRACT_OUTPUTS},
        "code_hashes": outputs.get("contract_code_hashes") or {},
        "admin_address": outputs.get("admin_address"),
        "images": config.get("images") or {},  # tonsurance:images, what `ops rollback` sets back
        "database": {"schema_version": outputs.get("database_schema_version"),
                     "migrations": outputs.get("database_migrations") or [],
                     "backup_id": outputs.get("database_backup_id")},
        "outputs": outputs,
    }


def git_state(work_dir: Path) -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            run = subprocess.run(["git", "-C", str(work_dir), *args], env=minimal_env(), capture_output=True, text=True,
                                 timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return run.stdout.strip() if run.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    return {"commit": commit, "branch": git("rev-parse", "--abbrev-ref", "HEAD") if commit else None,
            "dirty": bool(git("status", "--porcelain")) if commit else None}


def write_record(record: dict[str, Any], directory: Path = RECORDS_DIR) -> Path:
    """Write the record under its timestamped name and as `<stack>-latest.json`; returns the timestamped path."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.strptime(record["created_at"], "%Y-%m-%dT%H:%M:%SZ").strftime("%Y%m%d-%H%M%S")
    path = directory / f"{record['stack']}-{stamp}.json"
    text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    for target in (path, directory / f"{record['stack']}-latest.json"):
        partial = target.with_suffix(".json.partial")
        partial.write_text(text)
        partial.replace(target)  # atomic: a reader never sees half a record
    return path


def record_stack(stack: auto.Stack, directory: Path = RECORDS_DIR, work_dir: Path = ROOT) -> Path:
    """Record the stack as it stands (call after a successful up)."""
    return write_record(build_record(stack.name, plain_outputs(stack), plain_config(stack), work_dir=work_dir),
                        directory)


def read_record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise RecordError(f"deployment record {path} does not exist") from None
    except (OSError, json.JSONDecodeError) as error:
        raise RecordError(f"deployment record {path} is unreadable: {error}") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise RecordError(f"{path} is not a Tonsurance deployment record")
    if record.get("version") != FORMAT_VERSION:
        raise RecordError(f"{path} has record format version {record.get('version')}; this tool reads version "
                          f"{FORMAT_VERSION}")
    return record


def stack_records(stack_name: str, directory: Path = RECORDS_DIR) -> list[Path]:
    """The stack's timestamped records, oldest first (the `-latest` copy excluded)."""
    found = []
    for path in directory.glob(f"{stack_name}-*.json"):
        match = _NAME.match(path.name)
        if match and match["stack"] == stack_name:
            found.append(path)
    return sorted(found, key=lambda p: _NAME.match(p.name)["stamp"])


# ---- the command -----------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", type=Path, default=RECORDS_DIR, help="where records go (default: deployments/)")


def run(args: argparse.Namespace) -> int:
    path = record_stack(open_stack(args.stack), args.dir)
    print(f"deployment record: {path}")
    return 0
