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


def test_secrets_exist_and_are_younger_than_rotation(secretsmanager):
    from components.services.catalog import secret_id, secret_names

    cfg = parse(raw_config("mainnet", secretRotationDays="30"))
    ids = [secret_id(cfg.stack, name) for name in secret_names(cfg.services.redis_in_cluster)]
    for secret in ids[1:]:
        secretsmanager.create_secret(Name=secret, SecretString="x")
    now = datetime.now(timezone.utc)
    passed, detail = preflight.secrets_fresh(cfg, now)
    assert not passed and detail == f"{ids[0]}: ResourceNotFoundException"
    secretsmanager.create_secret(Name=ids[0], SecretString="x")
    passed, detail = preflight.secrets_fresh(cfg, now)
    assert passed and f"{len(ids)} secret(s) exist" in detail
    passed, detail = preflight.secrets_fresh(cfg, now + timedelta(days=31))
    assert not passed and "last rotated 31 days ago (limit 30)" in detail


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
    cfg = parse(raw_config(backupStore="backups", backupBeforeMigrate="true", maxBackupAgeHours="6"))
    assert preflight.backup_recent(cfg, NOW, tmp_path) == (False, "no verified backup in backups")
    write_backup(tmp_path / "backups", "20261129-100000-aaaa", NOW - timedelta(hours=10))
    passed, detail = preflight.backup_recent(cfg, NOW, tmp_path)
    assert not passed and "20261129-100000-aaaa is 10.0 h old (limit 6 h)" in detail
    write_backup(tmp_path / "backups", "20261129-180000-bbbb", NOW - timedelta(hours=2))
    (tmp_path / "backups" / "20261129-190000-cccc.dump").write_bytes(b"incomplete: no manifest")
    passed, detail = preflight.backup_recent(cfg, NOW, tmp_path)
    assert passed and "20261129-180000-bbbb is 2.0 h old" in detail
    write_backup(tmp_path / "backups", "20261129-200000-dddd", NOW - timedelta(hours=1), signed=False)
    with pytest.raises(BackupVerificationError, match="20261129-200000-dddd is refused: .*not signed"):
        preflight.backup_recent(cfg, NOW, tmp_path)  # an unsigned newest backup is no verified backup


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
