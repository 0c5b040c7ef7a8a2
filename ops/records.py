"""Deployment records: one JSON file per update of a stack, kept beside the stack's Pulumi state so every
operator and CI runner of the stack reads the same history (state_store/area.py):

    file://<dir> backend (the local stack: .state/pulumi)   -> <dir>/.tonsurance/records/<stack>-YYYYMMDD-HHMMSS.json
    s3://<bucket>/<prefix> backend (testnet, mainnet)      -> s3://<bucket>/<prefix>/.tonsurance/records/...

Other backends have no place beside the state: records then go to the checkout's `deployments/`, which is also
read, as a fallback, for records written before they moved. A record says whether its update succeeded (the
stack's update history), so a rollback finds the last good release. The format is documented in
docs/deployment-records.md; `FORMAT_VERSION` changes whenever a field changes meaning or goes away (readers
refuse versions they do not know).

    python -m ops record --stack local            # after `pulumi up`, whatever its outcome (make up, the workflow)
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import socket
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from state_store.area import Area, beside_state, folder_area
from database.child_env import minimal_env
from ops.stack import ROOT, open_stack, plain_config, plain_outputs

FORMAT = "tonsurance-deployment-record"
FORMAT_VERSION = 1
AREA = "records"
LEGACY_DIR = ROOT / "deployments"  # the checkout's folder, where records were kept before
SUCCEEDED = "succeeded"
_NAME = re.compile(r"^(?P<stack>.+)-(?P<stamp>\d{8}-\d{6})\.json$")
# Outputs that the record lifts into its own sections (everything else stays under "outputs").
CONTRACT_OUTPUTS = ("pricing_oracle_address", "multi_tranche_vault_address", "sure_token_addresses",
                    "policy_router_address", "policy_shard_addresses", "shard_count")


class RecordError(Exception):
    """A record is missing, unreadable or of an unknown format version."""


@dataclass(frozen=True)
class StoredRecord:
    """One record where it is stored: `name` (`<stack>-YYYYMMDD-HHMMSS.json`) in `store`."""
    name: str
    store: Area

    @property
    def location(self) -> str:
        return self.store.location(self.name)

    def read(self) -> dict[str, Any]:
        text = self.store.read_text(self.name)
        if text is None:
            raise RecordError(f"deployment record {self.location} does not exist")
        return parse_record(text, self.location)


def record_stores(backend_url: str | None = None, legacy_dir: Path = LEGACY_DIR) -> list[Area]:
    """Where the stack's records are, the one new records go to first: beside the state of `backend_url`
    (default: $PULUMI_BACKEND_URL), then the checkout's old folder; only that folder when the backend has no
    place beside its state."""
    backend_url = os.environ.get("PULUMI_BACKEND_URL") if backend_url is None else backend_url
    beside = beside_state(backend_url, AREA)
    legacy = folder_area(legacy_dir)
    return [beside, legacy] if beside else [legacy]


def build_record(stack_name: str, outputs: dict[str, Any], config: dict[str, Any], *, work_dir: Path = ROOT,
                 update: dict[str, Any] | None = None, rollback_to: str | None = None,
                 now: datetime | None = None) -> dict[str, Any]:
    """A record from the stack's (non-secret) outputs and config, and its last update (`update_summary`)."""
    now = now or datetime.now(timezone.utc)
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "stack": stack_name,
        "network": outputs.get("network", config.get("network")),
        "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "deployed_by": os.environ.get("GITHUB_ACTOR") or f"{getpass.getuser()}@{socket.gethostname()}",
        "git": git_state(work_dir),
        "update": update,
        "rollback_to": rollback_to,
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


def update_summary(stack: auto.Stack) -> dict[str, Any] | None:
    """The stack's last update (`pulumi stack history`): its result (succeeded, or failed; a run killed with
    SIGKILL writes no history) and start time, which identifies it (file and S3 backends number no update:
    `version` is null there); None for a stack never updated."""
    updates = [u for u in stack.history(page_size=10, show_secrets=False) if u.kind == "update"]
    if not updates:
        return None
    last = max(updates, key=lambda u: u.start_time)
    return {"version": last.version or None, "result": last.result,
            "started_at": last.start_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "ended_at": last.end_time.strftime("%Y-%m-%dT%H:%M:%SZ") if last.end_time else None}


def same_update(record: dict[str, Any], update: dict[str, Any] | None) -> bool | None:
    """Whether the record was written after `update` (None when the record predates the `update` field)."""
    recorded = record.get("update")
    if not recorded or not update:
        return None
    return recorded.get("started_at") == update["started_at"]


def succeeded(record: dict[str, Any]) -> bool:
    """Whether the record's update succeeded (records of version 1 written before `update` existed were only
    ever written after a successful update)."""
    update = record.get("update")
    return update is None or update.get("result") == SUCCEEDED


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


def record_name(record: dict[str, Any]) -> str:
    stamp = datetime.strptime(record["created_at"], "%Y-%m-%dT%H:%M:%SZ").strftime("%Y%m%d-%H%M%S")
    return f"{record['stack']}-{stamp}.json"


def write_record(record: dict[str, Any], store: Area) -> StoredRecord:
    """Store the record under its timestamped name (atomically: a reader never sees half a record)."""
    name = record_name(record)
    store.write_text(name, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return StoredRecord(name, store)


def record_stack(stack: auto.Stack, stores: list[Area] | None = None, work_dir: Path = ROOT,
                 rollback_to: str | None = None) -> StoredRecord:
    """Record the stack as it stands, with the outcome of its last update (call after every `up`)."""
    record = build_record(stack.name, plain_outputs(stack), plain_config(stack), work_dir=work_dir,
                          update=update_summary(stack), rollback_to=rollback_to)
    return write_record(record, (stores or record_stores())[0])


def parse_record(text: str, where: str) -> dict[str, Any]:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise RecordError(f"deployment record {where} is unreadable: {error}") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise RecordError(f"{where} is not a Tonsurance deployment record")
    if record.get("version") != FORMAT_VERSION:
        raise RecordError(f"{where} has record format version {record.get('version')}; this tool reads version "
                          f"{FORMAT_VERSION}")
    return record


def read_record(path: Path) -> dict[str, Any]:
    """A record from a file of this machine (`ops rollback --to PATH`)."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise RecordError(f"deployment record {path} does not exist") from None
    except OSError as error:
        raise RecordError(f"deployment record {path} is unreadable: {error}") from None
    return parse_record(text, str(path))


def stack_records(stack_name: str, stores: list[Area] | None = None) -> list[StoredRecord]:
    """The stack's records in every store, oldest first; a name found in two stores counts once (the first
    store's)."""
    found: dict[str, StoredRecord] = {}
    for store in stores or record_stores():
        for name in store.names():
            match = _NAME.match(name)
            if match and match["stack"] == stack_name and name not in found:
                found[name] = StoredRecord(name, store)
    return sorted(found.values(), key=lambda r: _NAME.match(r.name)["stamp"])


def find_record(stack_name: str, given: str, stores: list[Area] | None = None) -> StoredRecord | Path:
    """`--to`: a record's name (with or without `.json`) among the stack's records, or a file path."""
    name = given if given.endswith(".json") else f"{given}.json"
    for record in stack_records(stack_name, stores):
        if record.name == Path(name).name:
            return record
    if Path(given).is_file():
        return Path(given)
    raise RecordError(f"no deployment record {given} of stack {stack_name} in "
                      f"{', '.join(s.url for s in stores or record_stores())}, and no such file")


# ---- the command -----------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", type=Path, help="write the record to this folder instead of beside the state")


def run(args: argparse.Namespace) -> int:
    stores = [folder_area(args.dir)] if args.dir else record_stores()
    stack = open_stack(args.stack)
    stored = newest_of_update(stack, stores) or record_stack(stack, stores)
    record = stored.read()
    outcome = (record["update"] or {}).get("result", "no update yet")
    print(f"deployment record: {stored.location}")
    print(f"update of {(record['update'] or {}).get('started_at', '-')}: {outcome}")
    return 0


def newest_of_update(stack: auto.Stack, stores: list[Area]) -> StoredRecord | None:
    """The stack's newest record when it already records the stack's last update (a rollback writes its own
    record; the workflow's record step after it then names that one instead of writing a second)."""
    records = stack_records(stack.name, stores)
    update = update_summary(stack)
    if not records or not update:
        return None
    newest = records[-1]
    return newest if same_update(newest.read(), update) else None
