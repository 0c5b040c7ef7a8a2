"""Pre-deployment checklist (the guide's "Pre-deployment Checklist") as checks with a pass/fail table.

    python -m ops preflight --stack mainnet [--json]

- admin multisig: the admin is an active multisig v2 on chain (official code hash off localnet) with
  threshold 3 of 5 signers (`get_multisig_data`); a plain wallet fails
- deployer roles: admin, treasury and claims processor are none of the deployer mnemonic's wallets (read from
  Secrets Manager on mainnet, as the providers read it)
- deployer balance: both deployer wallets cover the estimated cost of this update, measured by executing
  every still-needed contract and shard deploy on a private TVM (ops/estimate.py)
- secrets: every Secrets Manager secret the pods read (components/services/catalog.py), and the deployer
  mnemonic where it lives there, has a current value set within its rotation period: its
  tonsurance:rotation-days tag (wallet keys 30 days, database passwords and API keys 90: the guide's table)
- database: the PostgreSQL server answers SELECT 1 with the stack's DSN, over verified TLS on testnet/mainnet
  (sslmode verify-full against tonsurance:database.sslRootCert; ops/endpoints.py)
- database url: the secret `database-url` the pods read names tonsurance:database.host and sets no sslmode or
  sslrootcert that would override the pods' PGSSLMODE/PGSSLROOTCERT (components/services/database_tls.py)
- redis: the managed Redis of the secret `redis-url` answers PING over TLS (rediss://, verified against
  services.redisCaCert or the system CAs); redis:// is refused off localnet; skipped for an in-cluster Redis
- backup: the newest verified backup in tonsurance:backupStore is younger than the network's backup cadence
  plus an hour (mainnet 6 h, testnet 24 h: components/backup_schedule.py CADENCES)
- git: the work tree is clean and on tonsurance:releaseBranch
Exit code 0 only when every check passes.
"""
from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pytoniq_core import Address

from chain.connect import connect
from chain.wallets import deployer_wallet_addresses
from config import SecretReference, StackConfig, role_conflicts
from contracts.base import TON
from contracts.multisig import MULTISIG_V2_CODE_HASH, Multisig
from database.child_env import minimal_env
from ops.endpoints import database_answers, database_url_secret, redis_answers
from ops.checks import Check, contracts_args, deployer_words, report, run_check, stack_config
from ops.stack import ROOT, open_stack

REQUIRED_THRESHOLD, REQUIRED_SIGNERS = 3, 5
UNSCHEDULED_MAX_AGE = timedelta(hours=6)  # localnet: no CronJob; the guide's mainnet cadence


def multisig_admin(cfg: StackConfig, client) -> tuple[bool, str]:
    admin = Address(cfg.ton.admin_address)
    info = client.account(admin)
    if info.status != "active":
        return False, f"admin {cfg.ton.admin_address} is {info.status}, not an active multisig"
    official = info.code_hash == MULTISIG_V2_CODE_HASH
    if not official and cfg.ton.network != "localnet":
        return False, f"admin runs code {info.code_hash}, not the official multisig v2 ({MULTISIG_V2_CODE_HASH})"
    try:
        data = Multisig(admin).get_multisig_data(client.run_get_method)
    except Exception as error:  # noqa: BLE001 - a plain wallet has no such getter
        return False, f"admin does not answer get_multisig_data ({type(error).__name__}): not a multisig"
    ok = data.threshold == REQUIRED_THRESHOLD and len(data.signers) == REQUIRED_SIGNERS
    code = "official multisig v2 code" if official else "localnet: code hash not enforced"
    return ok, f"threshold {data.threshold} of {len(data.signers)} signers ({code}); required " \
               f"{REQUIRED_THRESHOLD} of {REQUIRED_SIGNERS}"


def deployer_balance(cfg: StackConfig, client, work_dir: Path) -> tuple[bool, str, dict]:
    from ops.estimate import estimate_update

    words = deployer_words(cfg)
    with contextlib.redirect_stdout(sys.stderr):  # the providers' progress lines stay out of --json
        estimate = estimate_update(contracts_args(cfg, work_dir), words)
    wallets = deployer_wallet_addresses(words)
    balances = {kind: client.account(address).balance for kind, address in wallets.items()}
    short = {kind: need - balances[kind] for kind, need in estimate.by_wallet.items() if need > balances[kind]}
    figures = {"estimated_cost_nanotons": estimate.cost, "estimated_fees_nanotons": estimate.fees,
               "deploy_values_nanotons": estimate.values, "contracts_to_deploy": estimate.contracts,
               "shards_to_deploy": estimate.shards, "cost_by_wallet": estimate.by_wallet, "balances": balances}
    detail = (f"estimated cost of this update {estimate.cost / TON:.4f} TON ({estimate.contracts} contract(s), "
              f"{estimate.shards} shard(s): values {estimate.values / TON:.4f} + fees {estimate.fees / TON:.4f})")
    if short and cfg.ton.network == "localnet":
        return True, detail + "; localnet: the faucet tops the wallets up", figures
    if short:
        return False, detail + "; short: " + ", ".join(
            f"{kind} {wallets[kind].to_str(is_test_only=cfg.ton.network != 'mainnet')} needs {s / TON:.4f} TON more"
            for kind, s in short.items()), figures
    return True, detail + "; the deployer wallets cover it", figures


def deployer_roles(cfg: StackConfig) -> tuple[bool, str]:
    """Admin, treasury and claims processor are none of the deployer's wallets (config.role_conflicts); on
    mainnet only here and in the policy pack, which read the words from Secrets Manager."""
    conflicts = role_conflicts(cfg.ton, deployer_words(cfg))
    if conflicts:
        return False, "; ".join(f"tonsurance:{key} is the deployer mnemonic's {kind} address" for key, kind in conflicts)
    return True, "admin, treasury and claims processor are none of the deployer's wallets"


def checked_secrets(cfg: StackConfig) -> dict[str, str]:
    """name -> Secrets Manager id of each secret whose age preflight checks: every secret the pods (and the
    monitoring chart's Grafana) read (components/services/catalog.py) and the deployer mnemonic where the
    providers read it from Secrets Manager."""
    from components.aws import DEPLOYER_MNEMONIC
    from components.platform_charts import grafana_namespace
    from components.services.catalog import secret_id, secret_names

    grafana = grafana_namespace(cfg.platform.charts) is not None
    ids = {name: secret_id(cfg.stack, name) for name in secret_names(cfg.services.redis_in_cluster, grafana=grafana)}
    if isinstance(cfg.ton.deployer_mnemonic, SecretReference):
        ids[DEPLOYER_MNEMONIC] = cfg.ton.deployer_mnemonic.secret_id
    return ids


def rotation_days(name: str, tags: list[dict], cfg: StackConfig) -> tuple[int, str]:
    """(limit in days, where it comes from): the secret's tonsurance:rotation-days tag (components/aws.py sets
    it from the guide's table), else that table; tonsurance:secretRotationDays when stricter."""
    from components.aws import ROTATION_DAYS_TAG, SECRET_KINDS, secret_kind

    tagged = {t["Key"]: t["Value"] for t in tags}.get(ROTATION_DAYS_TAG)
    days, source = (int(tagged), "tag") if tagged and tagged.isdigit() else (
        SECRET_KINDS[secret_kind(name)].rotation_days, f"no {ROTATION_DAYS_TAG} tag: the guide's table")
    if cfg.ops.secret_rotation_days is not None and cfg.ops.secret_rotation_days < days:
        return cfg.ops.secret_rotation_days, "tonsurance:secretRotationDays"
    return days, source


def secrets_fresh(cfg: StackConfig, now: datetime) -> tuple[bool, str]:
    """Each secret's current value was set within its rotation period (checked_secrets, rotation_days)."""
    if cfg.services.secret_store != "aws":  # pragma: allowlist secret (config allows this on localnet only)
        return True, f"secret store is {cfg.services.secret_store!r} on {cfg.ton.network}: no Secrets Manager to check"
    import boto3
    from botocore.exceptions import ClientError

    client = boto3.client("secretsmanager", region_name=cfg.services.aws_region)
    problems, fresh = [], []
    for name, secret in checked_secrets(cfg).items():
        try:
            tags = client.describe_secret(SecretId=secret).get("Tags", [])
            versions = client.list_secret_version_ids(SecretId=secret)["Versions"]
        except ClientError as error:
            problems.append(f"{secret}: {error.response.get('Error', {}).get('Code', 'error')}")
            continue
        current = [v["CreatedDate"] for v in versions if "AWSCURRENT" in v.get("VersionStages", [])]
        limit, source = rotation_days(name, tags, cfg)
        if not current:
            problems.append(f"{secret}: has no value (set it out of band: README, Security)")
            continue
        age = (now - current[0]).days
        if age > limit:
            problems.append(f"{secret}: value set {age} days ago, rotation every {limit} days ({source})")
        else:
            fresh.append((limit - age, f"{secret} {age} of {limit} days"))
    if problems:
        return False, "; ".join(problems)
    return True, f"{len(fresh)} secret(s) within their rotation periods; closest to its limit: {min(fresh)[1]}"


def backup_age_limit(cfg: StackConfig) -> tuple[timedelta, str]:
    """The network's backup cadence (the CronJob's schedule) plus an hour for the job to finish;
    tonsurance:maxBackupAgeHours when stricter. Localnet has no CronJob: UNSCHEDULED_MAX_AGE."""
    from components.backup_schedule import CADENCES
    from monitoring.alerts import BACKUP_JOB_GRACE

    cadence = CADENCES.get(cfg.ton.network)
    limit, source = ((timedelta(hours=cadence.every_hours) + BACKUP_JOB_GRACE, f"backups every {cadence.every_hours} h")
                     if cadence else (UNSCHEDULED_MAX_AGE, "no backup schedule on this network"))
    override = cfg.ops.max_backup_age_hours
    if override is not None and (cadence is None or timedelta(hours=override) < limit):
        return timedelta(hours=override), "tonsurance:maxBackupAgeHours"
    return limit, source


def backup_recent(cfg: StackConfig, now: datetime, work_dir: Path) -> tuple[bool, str]:
    from database.backup import load_manifest
    from ops.backups import backup_signer, backup_store, newest_backup

    if cfg.database.backup_store is None:
        return cfg.ton.network == "localnet", "no tonsurance:backupStore configured"
    store = backup_store(cfg, work_dir)
    newest = newest_backup(store)
    if newest is None:
        return False, f"no verified backup in {cfg.database.backup_store}"
    manifest = load_manifest(store, newest, backup_signer(cfg, work_dir))  # signed by the stack's key, or refused
    age = now - datetime.fromisoformat(manifest.created_at.replace("Z", "+00:00"))
    limit, source = backup_age_limit(cfg)
    hours = age.total_seconds() / 3600
    return age <= limit, (f"newest verified backup {newest} is {hours:.1f} h old "
                          f"(limit {limit.total_seconds() / 3600:g} h: {source})")


def git_clean(cfg: StackConfig, work_dir: Path) -> tuple[bool, str]:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(work_dir), *args], env=minimal_env(), capture_output=True, text=True,
                              check=True).stdout.strip()

    branch = git("rev-parse", "--abbrev-ref", "HEAD")
    dirty = git("status", "--porcelain")
    problems = []
    if branch != cfg.ops.release_branch:
        problems.append(f"on branch {branch}, not the release branch {cfg.ops.release_branch}")
    if dirty:
        problems.append(f"{len(dirty.splitlines())} uncommitted change(s)")
    return not problems, "; ".join(problems) or f"clean, on {branch} at {git('rev-parse', '--short', 'HEAD')}"


def preflight(cfg: StackConfig, work_dir: Path = ROOT, now: datetime | None = None) -> list[Check]:
    now = now or datetime.now(timezone.utc)
    with connect(contracts_args(cfg, work_dir).deployer.chain) as client:
        return [
            run_check("admin multisig", lambda: multisig_admin(cfg, client)),
            run_check("deployer roles", lambda: deployer_roles(cfg)),
            run_check("deployer balance", lambda: deployer_balance(cfg, client, work_dir)),
            run_check("secrets", lambda: secrets_fresh(cfg, now)),
            run_check("database", lambda: database_answers(cfg)),
            run_check("database url", lambda: database_url_secret(cfg)),
            run_check("redis", lambda: redis_answers(cfg)),
            run_check("backup", lambda: backup_recent(cfg, now, work_dir)),
            run_check("git", lambda: git_clean(cfg, work_dir)),
        ]


# ---- the command -----------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the checks as JSON (for CI)")


def run(args: argparse.Namespace) -> int:
    stack = open_stack(args.stack)
    return report(f"preflight of stack {args.stack}", preflight(stack_config(stack)), args.json)
