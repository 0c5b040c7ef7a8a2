"""Roll a stack back to a deployment record (replaces the guide's rollback.sh).

    python -m ops rollback --stack mainnet --type services|contracts|database|all [--to RECORD] [--backup-id ID] [--yes]

The target is `--to` (a record's name, e.g. `mainnet-20261129-201507`, or a record file), else the last good
release: after a failed update, the newest record of a successful one; after a successful one, the good record
before it (and after a rollback, the release it went back to: running the same rollback again changes nothing).
Records are read beside the stack's state (ops/records.py), so every operator of the stack sees the same ones.

- services: the stack's config `tonsurance:images.<service>` is set to the record's tags (what
  `pulumi config set --path` does, in Pulumi.<stack>.yaml), so every later ordinary `up` keeps them. Then a
  `pulumi preview` and `pulumi up` targeted at the services component alone (`--target`): contracts, database,
  monitoring and platform are not touched, and the preview printed before the confirmation shows it. The up
  writes a record of its own (`rollback_to`). Declining puts the config back as it was.
- contracts: contracts never change in place; their addresses follow from code and config. When the stack's
  differ from the record's, the command reads the record's contracts on chain and lists what going back needs:
  which are active with the record's code (adopted without a message), which would be deployed again, and the
  admin messages (multisig orders on public stacks) their state requires; then names the record's git commit.
- database: restores, through `python -m database.restore`, the verified backup taken just before the first
  migrations the record does not have (the next record that changed them names it; --backup-id overrides);
  nothing to restore when the schema is the record's. Then bring the program back to the record's revision too,
  or its next `up` applies those migrations again.
- all: services, then contracts, then database (data is restored last, once nothing writes with the new code).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import yaml
from pulumi import automation as auto

from config import NAMESPACE, StackConfig
from ops.checks import stack_config
from ops.records import (
    SUCCEEDED, RecordError, StoredRecord, find_record, read_record, record_stack, same_update, stack_records,
    succeeded, update_summary,
)
from ops.stack import ROOT, open_stack, plain_outputs

IMAGES_KEY = f"{NAMESPACE}:images"
SERVICES_COMPONENT = "tonsurance:services:BackendServices"  # components/services/backend_services.py
TYPES = ("services", "contracts", "database", "all")
Confirm = Callable[[str], bool]
Log = Callable[[str], None]


# ---- the target ------------------------------------------------------------------------------------------

def default_target(records: list[tuple[StoredRecord, dict[str, Any]]], last_update: dict[str, Any] | None
                   ) -> StoredRecord:
    """The last good release to go back to, from the stack's records (oldest first) and its last update."""
    good = [stored for stored, record in records if succeeded(record)]
    if not good:
        raise RecordError(f"no record of a successful update among {len(records)} record(s); pass --to RECORD")
    current = records[-1][1] if records else None
    if current is not None and same_update(current, last_update) is False:
        current = None  # the stack was updated since its newest record
    failed = (last_update and last_update["result"] != SUCCEEDED) or (current is not None and not succeeded(current))
    if failed or current is None:
        return good[-1]  # what ran before the failed (or unrecorded) update
    if current.get("rollback_to"):
        return next((s for s, _ in records if s.name == current["rollback_to"]), records[-1][0])  # already back
    before = [stored for stored in good if stored.name < records[-1][0].name]
    if not before:
        raise RecordError(f"no good release before the current one ({records[-1][0].name}); pass --to RECORD")
    return before[-1]


def resolve_target(stack: auto.Stack, given: str | None) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    """(name, record) of the rollback's target, and the stack's records after it (oldest first)."""
    records = [(stored, stored.read()) for stored in stack_records(stack.name)]
    if given:
        found = find_record(stack.name, given)
        record = found.read() if isinstance(found, StoredRecord) else read_record(found)
        name = found.name if isinstance(found, StoredRecord) else Path(found).name
    else:
        stored = default_target(records, update_summary(stack))
        name, record = stored.name, next(r for s, r in records if s is stored)
    if record["stack"] != stack.name:
        raise RecordError(f"record {name} is of stack {record['stack']}, not {stack.name}")
    return name, record, [r for s, r in records if s.name > name]


# ---- services --------------------------------------------------------------------------------------------

def current_images(stack: auto.Stack) -> dict[str, str]:
    value = stack.get_all_config().get(IMAGES_KEY)
    return json.loads(value.value) if value else {}


def set_images(stack: auto.Stack, images: dict[str, str]) -> None:
    """`pulumi config set --path tonsurance:images.<service> <image>` for each service."""
    stack.set_all_config({f"{IMAGES_KEY}.{service}": auto.ConfigValue(image) for service, image in images.items()},
                         path=True)


def services_targets(stack: auto.Stack, work_dir: Path = ROOT) -> list[str]:
    """URN patterns of the services component, everything under it, and the stack (its outputs)."""
    project = yaml.safe_load((work_dir / "Pulumi.yaml").read_text())["name"]
    base = f"urn:pulumi:{stack.name}::{project}::"
    return [f"{base}{SERVICES_COMPONENT}**", f"{base}pulumi:pulumi:Stack::{project}-{stack.name}"]


def planned_changes(action: Callable[..., Any], **kwargs) -> tuple[Any, list[tuple[str, str]]]:
    """Run a preview or up and collect (op, URN) of every step that changes something."""
    steps: list[tuple[str, str]] = []

    def on_event(event) -> None:
        pre = event.resource_pre_event
        if pre and pre.metadata.op.value not in ("same", "read"):
            steps.append((pre.metadata.op.value, pre.metadata.urn))

    return action(on_event=on_event, **kwargs), steps


def rollback_services(stack: auto.Stack, name: str, record: dict[str, Any], confirm: Confirm, log: Log = print,
                      work_dir: Path = ROOT) -> bool:
    """Returns True when an update ran."""
    target, current = record.get("images") or {}, current_images(stack)
    if not target:
        raise RecordError(f"record {name} has no image tags")
    for service in sorted(set(target) | set(current)):
        if target.get(service) != current.get(service):
            log(f"services: {service}: {current.get(service)} -> {target.get(service)}")
    set_images(stack, target)
    targets = services_targets(stack, work_dir)
    try:
        _, steps = planned_changes(stack.preview, target=targets, on_output=lambda _line: None)
        if not steps:
            log(f"services: already at the record {name}; nothing to change")
            return False
        log(f"services: the preview (targeted at {SERVICES_COMPONENT}; contracts, database and monitoring untouched):")
        for op, urn in steps:
            kind = urn.rsplit("::", 2)[-2].rsplit("$", 1)[-1]
            why = "  (a provider: it is handed the new config; no resource of it runs)" if kind.startswith(
                "pulumi:providers:") else ""
            log(f"  {op:>8}  {kind}  {urn.rsplit('::', 1)[-1]}{why}")
        if not confirm(f"Roll the services of {stack.name} back to {name}?"):
            raise Declined()
    except BaseException:
        set_images(stack, current)  # declined or no preview: the config is as it was
        raise
    try:
        up = stack.up(target=targets, on_output=lambda _line: None)
    finally:  # the record says whether the rollback's update succeeded, like any other
        stored = record_stack(stack, work_dir=work_dir, rollback_to=name)
        log(f"services: deployment record {stored.location}")
    log(f"services: rolled back to {name} ({up.summary.resource_changes})")
    config_file = work_dir / f"Pulumi.{stack.name}.yaml"
    if _tracked_and_changed(config_file):
        log(f"services: commit {config_file.name} (tonsurance:images changed) so that every checkout keeps these "
            "images on its next `pulumi up`")
    return True


def _tracked_and_changed(path: Path) -> bool:
    run = subprocess.run(["git", "-C", str(path.parent), "status", "--porcelain", "--", path.name],
                         capture_output=True, text=True)
    return run.returncode == 0 and bool(run.stdout.strip())


# ---- contracts -------------------------------------------------------------------------------------------

def rollback_contracts(outputs: dict[str, Any], name: str, record: dict[str, Any], log: Log = print,
                       chain_state: Callable[[dict[str, Any]], list[str]] | None = None) -> bool:
    """True when the stack's contracts (its outputs) are the record's; otherwise says what going back needs."""
    differing = [key for key, value in record["contracts"].items() if outputs.get(_output_key(key)) != value]
    if not differing:
        log(f"contracts: the stack already uses the contracts of {name}")
        return True
    commit = (record.get("git") or {}).get("commit") or "unknown"
    log(f"contracts: the stack's {', '.join(differing)} differ from {name}. Contracts never change in place; going "
        "back points the services at the record's contracts:")
    for line in (chain_state(record) if chain_state else []):
        log(f"  {line}")
    log(f"  then: check out commit {commit} (the record's program and Pulumi.<stack>.yaml), run `python -m ops "
        "preflight` and `pulumi up`: it adopts every active contract without a message, and the ConfigMap "
        "contract-addresses changes, so the pods that read it roll.")
    return False


def record_chain_state(cfg: StackConfig, work_dir: Path = ROOT) -> Callable[[dict[str, Any]], list[str]]:
    """What the record's contracts need, read from the stack's chain (see `contract_needs`)."""
    def read(record: dict[str, Any]) -> list[str]:
        from chain.connect import connect
        from ops.checks import contracts_args

        with connect(contracts_args(cfg, work_dir).deployer.chain) as client:
            return contract_needs(record, client, cfg.ton.admin_address, cfg.ton.keeper_addresses,
                                  public=cfg.ton.network != "localnet")
    return read


def contract_needs(record: dict[str, Any], client, admin: str, keepers: tuple[str, ...] | list[str],
                   public: bool) -> list[str]:
    """Lines saying, for the record's contracts on chain: adopted or deployed again, and each admin message
    their state requires before they serve again (on public stacks, orders of the admin multisig)."""
    from pytoniq_core import Address

    from contracts.multi_tranche_vault import MultiTrancheVault
    from contracts.policy_router import PolicyRouter
    from contracts.pricing_oracle import PricingOracle

    contracts = record["contracts"]
    addresses = {"pricing_oracle": [contracts["pricing_oracle"]], "multi_tranche_vault": [contracts["multi_tranche_vault"]],
                 "policy_router": [contracts["policy_router"]], "sure_token": list((contracts["sure_token"] or {}).values()),
                 "policy_shard": list(contracts["policy_shard"] or [])}
    inactive = [(kind, a) for kind, group in addresses.items() for a in group
                if client.account(Address(a)).status != "active"]
    total = sum(len(group) for group in addresses.values())
    lines = [f"{total - len(inactive)} of {total} contracts are active on chain: adopted, no deploy message"]
    if inactive:
        lines.append(f"{len(inactive)} are not active ({', '.join(sorted({k for k, _ in inactive}))}): the up deploys "
                     "them again in one message from the deployer's highload wallet (its cost: `ops preflight`)")
        return lines  # their state is that of a fresh deploy
    run = client.run_get_method
    who = "the admin multisig (an order its signers approve)" if public else "the admin wallet (a message it signs)"
    oracle = PricingOracle(Address(contracts["pricing_oracle"]))
    vault = MultiTrancheVault(Address(contracts["multi_tranche_vault"]))
    router = PolicyRouter(Address(contracts["policy_router"]))
    needs = []
    for label, contract in (("oracle", oracle), ("vault", vault), ("router", router)):
        if contract.get_admin(run) != Address(admin):
            needs.append(f"admin handover of the {label} {contract.address.to_str()}: its admin is "
                         f"{contract.get_admin(run).to_str()}, the stack's is {admin}: that admin proposes the "
                         "stack's, which accepts")
    if vault.is_paused(run):   # the protocol's one pause (the router has none)
        needs.append(f"unpause the vault {vault.address.to_str()}: it is paused, so deposits and sales are refused")
    on_chain = set(oracle.get_keepers(run))
    missing = [k for k in keepers if Address(k) not in on_chain]
    if missing or len(on_chain) != len(keepers):
        needs.append(f"set the oracle's keepers to the stack's {len(keepers)} (it has {len(on_chain)}, "
                     f"missing {len(missing)}): the keepers' prices are refused until then")
    if not needs:
        return lines + ["no admin message is needed: admin, pause state and keepers are the stack's"]
    return lines + [f"message from {who}: {need}" for need in needs]


def _output_key(record_key: str) -> str:
    return {"sure_token": "sure_token_addresses", "policy_shard": "policy_shard_addresses",
            "shard_count": "shard_count"}.get(record_key, f"{record_key}_address")


# ---- database --------------------------------------------------------------------------------------------

def database_backup(outputs: dict[str, Any], record: dict[str, Any], later: list[dict[str, Any]],
                    backup_id: str | None) -> str | None:
    """The backup that returns the database to the record's schema: the one the first later update that
    changed the migrations took right before running them (records after the target, oldest first; the stack's
    own when none says); None when the schema already is the record's."""
    if backup_id:
        return backup_id
    migrations = (record.get("database") or {}).get("migrations")
    if migrations == outputs.get("database_migrations"):
        return None
    for newer in later:
        database = newer.get("database") or {}
        if database.get("migrations") != migrations and database.get("backup_id"):
            return database["backup_id"]
    if not outputs.get("database_backup_id"):
        raise RecordError("no backup id: the stack took no backup before its migrations; pass --backup-id")
    return outputs["database_backup_id"]


def rollback_database(cfg: StackConfig, backup_id: str, yes: bool, work_dir: Path = ROOT) -> int:
    from database import restore
    from ops.backups import backup_store_url, bucket_owner, signing_key

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
    parser.add_argument("--to", help="the record to return to: its name (STACK-YYYYMMDD-HHMMSS) or a record file "
                                     "(default: the last good release before the current one)")
    parser.add_argument("--backup-id", help="database: the backup to restore (default: the one taken before the "
                                            "migrations the record does not have)")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation (automation)")


def run(args: argparse.Namespace) -> int:
    try:
        stack = open_stack(args.stack)
        name, record, later = resolve_target(stack, args.to)
        print(f"rollback of {args.stack} to {name} (created {record['created_at']}, commit "
              f"{(record.get('git') or {}).get('commit') or 'unknown'})")
        confirm = (lambda _question: True) if args.yes else ask
        code = 0
        if args.type in ("services", "all"):
            rollback_services(stack, name, record, confirm)
        outputs = plain_outputs(stack)
        if args.type in ("contracts", "all"):
            if not rollback_contracts(outputs, name, record, chain_state=record_chain_state(stack_config(stack))):
                code = 1
        if args.type in ("database", "all"):
            backup_id = database_backup(outputs, record, later, args.backup_id)
            if backup_id is None:
                print(f"database: the schema is already that of {name} (same migrations); nothing to restore")
            else:
                code = rollback_database(stack_config(stack), backup_id, args.yes) or code
        return code
    except Declined:
        print("Not confirmed; the stack's config is as it was and nothing was changed.", file=sys.stderr)
        return 1
    except RecordError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
