"""Roll a stack back to a deployment record (replaces the guide's rollback.sh).

    python -m ops rollback --stack mainnet --type services|contracts|database|all [--to RECORD] [--backup-id ID] [--yes]

- services: the stack's `tonsurance:images` go back to the record's image tags, through the Automation API:
  the config is set, `pulumi preview` shows the change, and `pulumi up` runs after confirmation (or --yes);
  declining restores the config. When the images already equal the record's, nothing runs.
- contracts: contracts are immutable; their addresses follow from code and config. The command compares the
  record's contract addresses with the stack's and, when they differ, names the record's git commit to
  redeploy from (checking it out and running the update points every service back at those contracts).
- database: restores a verified backup (--backup-id, default the record's) through `python -m database.restore`,
  which shows what is lost and asks for the database name (or --yes).
- all: services, then contracts, then database (data is restored last, once nothing writes with the new code).
`--to` defaults to the record before `<stack>-latest.json`. A rollback writes no record: the stack is back at
one, and running the same rollback again changes nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

from pulumi import automation as auto

from config import NAMESPACE, StackConfig
from ops.checks import stack_config
from ops.records import RECORDS_DIR, RecordError, read_record, stack_records
from ops.stack import ROOT, open_stack, plain_outputs

IMAGES_KEY = f"{NAMESPACE}:images"
TYPES = ("services", "contracts", "database", "all")
Confirm = Callable[[str], bool]


def previous_record(stack_name: str, directory: Path = RECORDS_DIR) -> Path:
    """The record before the newest one: where the last update came from."""
    records = stack_records(stack_name, directory)
    if len(records) < 2:
        raise RecordError(f"stack {stack_name} has {len(records)} deployment record(s) in {directory}; rolling back "
                          "needs the one before the latest (or --to RECORD)")
    return records[-2]


def current_images(stack: auto.Stack) -> dict[str, str]:
    value = stack.get_all_config().get(IMAGES_KEY)
    return json.loads(value.value) if value else {}


def rollback_services(stack: auto.Stack, record: dict[str, Any], confirm: Confirm,
                      log: Callable[[str], None] = print) -> bool:
    """Returns True when an update ran."""
    target, current = record.get("images") or {}, current_images(stack)
    if not target:
        raise RecordError(f"record of {record['created_at']} has no image tags")
    if target == current:
        log(f"services: images already at the record of {record['created_at']}; nothing to change")
        return False
    for service in sorted(set(target) | set(current)):
        if target.get(service) != current.get(service):
            log(f"services: {service}: {current.get(service)} -> {target.get(service)}")
    set_images(stack, target)
    try:
        preview = stack.preview(on_output=log)
        log(f"services: preview: {preview.change_summary}")
        if not confirm(f"Roll services of {stack.name} back to {record['created_at']}?"):
            raise Declined()
        up = stack.up(on_output=log)
    except BaseException:
        set_images(stack, current)  # nothing half-done
        raise
    log(f"services: rolled back ({up.summary.resource_changes})")
    return True


def set_images(stack: auto.Stack, images: dict[str, str]) -> None:
    stack.set_all_config({f"{IMAGES_KEY}.{service}": auto.ConfigValue(image) for service, image in images.items()},
                         path=True)


def rollback_contracts(outputs: dict[str, Any], record: dict[str, Any], log: Callable[[str], None] = print) -> bool:
    """True when the stack's contracts (its outputs) are the record's; otherwise says how to get back to them."""
    differing = [key for key, value in record["contracts"].items()
                 if outputs.get(_output_key(key)) != value]
    if not differing:
        log(f"contracts: the stack already uses the record's contracts ({record['created_at']})")
        return True
    commit = (record.get("git") or {}).get("commit") or "unknown"
    log(f"contracts: the stack's {', '.join(differing)} differ from the record of {record['created_at']}. Contracts "
        f"never change in place: check out commit {commit} (the record's), run preflight and `pulumi up`; the "
        "earlier contracts are still on chain and are adopted without a message.")
    return False


def _output_key(record_key: str) -> str:
    return {"sure_token": "sure_token_addresses", "policy_shard": "policy_shard_addresses",
            "shard_count": "shard_count"}.get(record_key, f"{record_key}_address")


def rollback_database(cfg: StackConfig, record: dict[str, Any], backup_id: str | None, yes: bool,
                      work_dir: Path = ROOT) -> int:
    from database import restore
    from ops.backups import backup_store_url, bucket_owner, signing_key

    backup_id = backup_id or (record.get("database") or {}).get("backup_id")
    if not backup_id:
        raise RecordError("no backup id: pass --backup-id (the record names none)")
    variable = "TONSURANCE_ROLLBACK_DSN"  # the DSN (with its password) stays off the command line
    os.environ[variable] = cfg.database.dsn()
    try:
        owner = bucket_owner(cfg)
        return restore.main(["--backup-id", backup_id, "--store", backup_store_url(cfg, work_dir),
                             "--signing-key", signing_key(cfg, work_dir), "--target-dsn-env", variable,
                             *(["--expected-bucket-owner", owner] if owner else []),
                             *(["--s3-region", cfg.database.backup_s3_region] if cfg.database.backup_s3_region
                               else []), *(["--yes"] if yes else [])])
    finally:
        del os.environ[variable]


class Declined(Exception):
    """The operator did not confirm; the config was put back."""


def ask(question: str) -> bool:
    try:
        return input(f"{question} Type yes: ").strip() == "yes"
    except EOFError:
        return False


# ---- the command -----------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--type", required=True, choices=TYPES)
    parser.add_argument("--to", type=Path, help="the record to return to (default: the one before the latest)")
    parser.add_argument("--backup-id", help="database: the backup to restore (default: the record's)")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation (automation)")


def run(args: argparse.Namespace) -> int:
    try:
        record = read_record(args.to or previous_record(args.stack))
        if record["stack"] != args.stack:
            raise RecordError(f"record is of stack {record['stack']}, not {args.stack}")
        stack = open_stack(args.stack)
        confirm = (lambda _question: True) if args.yes else ask
        code = 0
        if args.type in ("services", "all"):
            rollback_services(stack, record, confirm)
        if args.type in ("contracts", "all") and not rollback_contracts(plain_outputs(stack), record):
            code = 1
        if args.type in ("database", "all"):
            code = rollback_database(stack_config(stack), record, args.backup_id, args.yes) or code
        return code
    except Declined:
        print("Not confirmed; the stack's config is as it was and nothing was changed.", file=sys.stderr)
        return 1
    except RecordError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
