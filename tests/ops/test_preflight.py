"""Each preflight check against real parts: a localnet chain with a test multisig (tests/ops/fixtures,
answering get_multisig_data like multisig v2), AWS Secrets Manager served by moto, a backup folder, a git
repository. The fee estimate against fees actually paid by the real engine is in tests/e2e/test_ops_e2e.py."""
from __future__ import annotations

import base64
import dataclasses
import json
import subprocess
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer
from pytoniq_core import Address, Cell, HashMap, StateInit, begin_cell

from chain.client import ChainSettings
from chain.connect import connect
from chain.sandbox import FAUCET_ADDRESS
from chain.wallets import WalletKey, WalletV4R2, deployer_wallet_addresses
from contracts.base import TON
from database.backup import BackupManifest, BackupVerificationError
from database.signing import LOCAL_KEY_FILE, ManifestSigner
from ops import preflight
from ops.checks import report, run_check
from tests.support import MNEMONIC, parse, raw_config

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 11, 29, 20, 0, tzinfo=timezone.utc)


def multisig_state(threshold: int, signers: int) -> StateInit:
    code = Cell.one_from_boc(base64.b64decode((FIXTURES / "multisig_stub.code.b64").read_text()))
    table = HashMap(8, value_serializer=lambda address, builder: builder.store_address(address))
    for i in range(signers):
        table.set_int_key(i, Address(f"0:{i + 1:02x}" + "00" * 31))
    return StateInit(code=code, data=begin_cell().store_uint(threshold, 8).store_maybe_ref(table.serialize()).end_cell())


def install(client, state: StateInit) -> str:
    address = Address((0, state.serialize().hash))
    client.send_internal(sender=FAUCET_ADDRESS, to=address, value=TON, state_init=state, bounce=False)
    return address.to_str(is_test_only=True)


@pytest.fixture
def chain(tmp_path):
    with connect(ChainSettings("localnet", localnet_path=str(tmp_path / "chain.json"))) as client:
        yield client


def cfg_with(chain, **overrides):
    return parse(raw_config(localnetPath="chain.json", **overrides))


@pytest.mark.parametrize("threshold, signers, ok", [(3, 5, True), (2, 5, False), (3, 4, False), (5, 5, False)])
def test_multisig_threshold_and_signers(chain, threshold, signers, ok):
    admin = install(chain, multisig_state(threshold, signers))
    passed, detail = preflight.multisig_admin(cfg_with(chain, adminAddress=admin), chain)
    assert passed == ok
    assert f"threshold {threshold} of {signers} signers" in detail


def test_plain_wallet_or_missing_admin_fails(chain):
    wallet = WalletV4R2(chain, WalletKey.from_mnemonic(MNEMONIC), "/dev/null")
    chain.send_internal(sender=FAUCET_ADDRESS, to=wallet.address, value=TON, state_init=wallet.state_init, bounce=False)
    passed, detail = preflight.multisig_admin(cfg_with(chain, adminAddress=wallet.address.to_str(is_test_only=True)),
                                              chain)
    assert not passed and "does not answer get_multisig_data" in detail
    passed, detail = preflight.multisig_admin(cfg_with(chain), chain)  # nothing deployed at the admin address
    assert not passed and "is nonexist, not an active multisig" in detail


def test_off_localnet_the_code_must_be_the_official_multisig(chain, tmp_path):
    admin = install(chain, multisig_state(3, 5))
    testnet = parse(raw_config("testnet", adminAddress=admin))
    passed, detail = preflight.multisig_admin(testnet, chain)  # the stub answers the getter but is not v2's code
    assert not passed and "not the official multisig v2" in detail


@pytest.fixture
def secretsmanager(monkeypatch):
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "eu-central-1", "AWS_ENDPOINT_URL": f"http://{host}:{port}"}.items():
        monkeypatch.setenv(key, value)
    # moto keeps its state per process, not per server: start each test empty.
    urllib.request.urlopen(urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST"))
    import boto3
    yield boto3.client("secretsmanager", region_name="eu-central-1")
    server.stop()


def create_tagged(secretsmanager, cfg, value: str | None = "x", skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Every secret preflight checks, as components/aws.py creates the containers (the rotation tag), with a value
    as an operator sets it; returns name -> id."""
    from components.aws import ROTATION_DAYS_TAG, SECRET_KINDS, secret_kind

    ids = preflight.checked_secrets(cfg)
    for name, secret in ids.items():
        if name in skip:
            continue
        tags = [{"Key": ROTATION_DAYS_TAG, "Value": str(SECRET_KINDS[secret_kind(name)].rotation_days)}]
        secretsmanager.create_secret(Name=secret, Tags=tags, **({"SecretString": value} if value else {}))
    return ids


def test_the_checked_secrets_include_the_deployer_mnemonic_where_secrets_manager_holds_it():
    mainnet = preflight.checked_secrets(parse(raw_config("mainnet")))
    assert mainnet["deployer-mnemonic"] == "tonsurance/mainnet/deployer-mnemonic"
    assert {"database-url", "pricing-keeper-mnemonic", "jwt-secret"} <= set(mainnet)
    # testnet's deployer mnemonic is Pulumi config (encrypted in the stack): Secrets Manager holds no value to age
    assert "deployer-mnemonic" not in preflight.checked_secrets(parse(raw_config("testnet")))


def test_each_secret_ages_against_its_own_rotation_tag(secretsmanager):
    cfg = parse(raw_config("mainnet"))
    ids = create_tagged(secretsmanager, cfg, skip=("database-url",))
    now = datetime.now(timezone.utc) + timedelta(hours=1)  # clear of moto's clock and of the day boundaries
    passed, detail = preflight.secrets_fresh(cfg, now)
    assert not passed and detail == f"{ids['database-url']}: ResourceNotFoundException"
    create_tagged(secretsmanager, cfg, skip=tuple(n for n in ids if n != "database-url"))
    passed, detail = preflight.secrets_fresh(cfg, now)
    assert passed and f"{len(ids)} secret(s) within their rotation periods" in detail
    # 31 days on: the wallet keys (30 days, the deployer's included) are due, the 90-day secrets are not.
    passed, detail = preflight.secrets_fresh(cfg, now + timedelta(days=31))
    assert not passed
    assert "tonsurance/mainnet/deployer-mnemonic: value set 31 days ago, rotation every 30 days (tag)" in detail
    assert f"{ids['pricing-keeper-mnemonic']}: value set 31 days ago" in detail
    assert "database-url" not in detail and "jwt-secret" not in detail
    passed, detail = preflight.secrets_fresh(cfg, now + timedelta(days=91))
    assert f"{ids['database-url']}: value set 91 days ago, rotation every 90 days (tag)" in detail


def test_a_stricter_config_limit_and_an_untagged_or_empty_secret(secretsmanager):
    cfg = parse(raw_config("mainnet", secretRotationDays="20"))
    ids = create_tagged(secretsmanager, cfg, skip=("jwt-secret", "redis-url"))
    secretsmanager.create_secret(Name=ids["jwt-secret"], SecretString="x")  # no tag: the guide's 90 days
    secretsmanager.create_secret(Name=ids["redis-url"])  # a container with no value yet
    passed, detail = preflight.secrets_fresh(cfg, datetime.now(timezone.utc) + timedelta(days=21, hours=1))
    assert not passed
    assert f"{ids['database-url']}: value set 21 days ago, rotation every 20 days " \
           "(tonsurance:secretRotationDays)" in detail
    assert f"{ids['redis-url']}: has no value (set it out of band: README, Security)" in detail
    assert preflight.rotation_days("jwt-secret", [], parse(raw_config("mainnet"))) == (
        90, "no tonsurance:rotation-days tag: the guide's table")


def test_localnet_fake_secret_store_has_nothing_to_check():
    assert preflight.secrets_fresh(parse(raw_config()), NOW) == (
        True, "secret store is 'fake' on localnet: no Secrets Manager to check")


def write_backup(directory: Path, backup_id: str, created_at: datetime, signed: bool = True) -> None:
    """A backup's files as the local stack writes them, its manifest signed with the local key (ops/backups.py)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{backup_id}.dump").write_bytes(b"dump")
    manifest = BackupManifest(backup_id=backup_id, created_at=created_at.isoformat(), source="x", size_bytes=4,
                              sha256="0", row_counts={}, checksums={}, extensions=[], dump_version_id=None)
    signer = ManifestSigner(f"file:{directory.parent / LOCAL_KEY_FILE}")
    text = manifest.signed_json(signer) if signed else json.dumps({"manifest": dataclasses.asdict(manifest)})
    (directory / f"{backup_id}.json").write_text(text)


def test_backup_recent(tmp_path):
    cfg = parse(raw_config(backupStore="backups", backupBeforeMigrate="true"))
    assert preflight.backup_recent(cfg, NOW, tmp_path) == (False, "no verified backup in backups")
    write_backup(tmp_path / "backups", "20261129-100000-aaaa", NOW - timedelta(hours=10))
    passed, detail = preflight.backup_recent(cfg, NOW, tmp_path)
    assert not passed and "20261129-100000-aaaa is 10.0 h old (limit 6 h: no backup schedule on this network)" in detail
    write_backup(tmp_path / "backups", "20261129-180000-bbbb", NOW - timedelta(hours=2))
    (tmp_path / "backups" / "20261129-190000-cccc.dump").write_bytes(b"incomplete: no manifest")
    passed, detail = preflight.backup_recent(cfg, NOW, tmp_path)
    assert passed and "20261129-180000-bbbb is 2.0 h old" in detail
    write_backup(tmp_path / "backups", "20261129-200000-dddd", NOW - timedelta(hours=1), signed=False)
    with pytest.raises(BackupVerificationError, match="20261129-200000-dddd is refused: .*not signed"):
        preflight.backup_recent(cfg, NOW, tmp_path)  # an unsigned newest backup is no verified backup


@pytest.mark.parametrize("network, hours, fresh, limit", [
    ("testnet", 20, True, "25 h: backups every 24 h"),   # testnet backs up daily: a day-old backup is current
    ("testnet", 26, False, "25 h: backups every 24 h"),
    ("mainnet", 5, True, "7 h: backups every 6 h"),
    ("mainnet", 10, False, "7 h: backups every 6 h"),
])
def test_backup_freshness_follows_the_networks_backup_schedule(secretsmanager, tmp_path, network, hours, fresh, limit):
    """The backup in the stack's S3 bucket, its manifest signed by the stack's KMS key (both moto), the limit from
    the CronJob's cadence (components/backup_schedule.py)."""
    import boto3

    from ops.backups import backup_signer, backup_store

    cfg = parse(raw_config(network))
    boto3.client("s3", region_name="eu-central-1").create_bucket(
        Bucket=cfg.aws.backup_bucket, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    kms = boto3.client("kms", region_name="eu-central-1")
    key = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=backup_signer(cfg, tmp_path).key, TargetKeyId=key)
    backup_id = "20261129-100000-aaaa"
    manifest = BackupManifest(backup_id=backup_id, created_at=(NOW - timedelta(hours=hours)).isoformat(), source="x",
                              size_bytes=4, sha256="0", row_counts={}, checksums={}, extensions=[], dump_version_id=None)
    (tmp_path / "dump").write_bytes(b"dump")
    store = backup_store(cfg, tmp_path)
    store.put_dump(backup_id, tmp_path / "dump")
    store.put_manifest(backup_id, manifest.signed_json(backup_signer(cfg, tmp_path)))
    passed, detail = preflight.backup_recent(cfg, NOW, tmp_path)
    assert passed is fresh and detail.endswith(f"is {hours}.0 h old (limit {limit})"), detail


def test_a_stricter_backup_age_in_config_wins():
    limit, source = preflight.backup_age_limit(parse(raw_config("testnet", maxBackupAgeHours="12")))
    assert limit == timedelta(hours=12) and source == "tonsurance:maxBackupAgeHours"
    # a looser one does not: the schedule's promise is the limit
    assert preflight.backup_age_limit(parse(raw_config("mainnet", maxBackupAgeHours="48")))[0] == timedelta(hours=7)


def test_git_clean_on_release_branch(tmp_path):
    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)
    git("init", "-b", "main")
    (tmp_path / "f").write_text("x")
    git("add", "f")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-m", "x")
    cfg = parse(raw_config())
    assert preflight.git_clean(cfg, tmp_path)[0]
    (tmp_path / "f").write_text("changed")
    assert preflight.git_clean(cfg, tmp_path) == (False, "1 uncommitted change(s)")
    git("checkout", "-q", "-b", "feature")
    passed, detail = preflight.git_clean(cfg, tmp_path)
    assert not passed and "on branch feature, not the release branch main" in detail


def test_estimate_and_balance_check_on_a_fresh_chain(chain, tmp_path):
    cfg = cfg_with(chain)
    passed, detail, figures = preflight.deployer_balance(cfg, chain, tmp_path)
    assert passed and "localnet: the faucet tops the wallets up" in detail  # empty wallets, localnet
    assert (figures["contracts_to_deploy"], figures["shards_to_deploy"]) == (9, 16)
    assert figures["estimated_cost_nanotons"] > figures["deploy_values_nanotons"] > 0
    assert set(figures["cost_by_wallet"]) == set(deployer_wallet_addresses(MNEMONIC))


def test_a_failing_check_is_reported_by_name_and_the_report_fails(capsys):
    def boom():
        raise RuntimeError("liteservers unreachable")
    checks = [run_check("admin multisig", boom), run_check("git", lambda: (True, "clean"))]
    assert checks[0].ok is False and checks[0].detail == "RuntimeError: liteservers unreachable"
    assert report("preflight of stack x", checks, as_json=True) == 1
    printed = json.loads(capsys.readouterr().out)
    assert printed["passed"] is False and [c["name"] for c in printed["checks"]] == ["admin multisig", "git"]
    assert report("t", checks[1:], as_json=False) == 0
    assert "PASS  git  clean" in capsys.readouterr().out


def test_deployer_roles_read_the_words_from_secrets_manager_on_mainnet(secretsmanager):
    secretsmanager.create_secret(Name="tonsurance/mainnet/deployer-mnemonic", SecretString=MNEMONIC)
    highload = deployer_wallet_addresses(MNEMONIC)["highload_wallet_v3"].to_str(is_test_only=False)
    assert preflight.deployer_roles(parse(raw_config("mainnet")))[0] is True
    passed, detail = preflight.deployer_roles(parse(raw_config("mainnet", treasuryAddress=highload)))
    assert not passed and detail == "tonsurance:treasuryAddress is the deployer mnemonic's highload_wallet_v3 address"
    assert MNEMONIC.split()[0] not in detail.split()


def test_deployer_roles_without_the_secret_fail_by_name(secretsmanager):
    check = run_check("deployer roles", lambda: preflight.deployer_roles(parse(raw_config("mainnet"))))
    assert not check.ok and "tonsurance/mainnet/deployer-mnemonic" in check.detail
