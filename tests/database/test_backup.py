"""Backups: dump, store (local folder and a real S3 endpoint served by moto), verify, restore."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3
import psycopg
import pytest

from database.backup import BackupError, BackupManifest, BackupVerificationError, count_rows, create_backup, restore_backup, verify_backup
from database.dsn import describe
from database.migrations import apply_migrations
from database.storage import BackupNotFoundError, LocalFolderStore, S3Store
from tests.database.conftest import REPO, scalar, scratch_databases, seed, tables
from tests.moto_server import moto_endpoint  # noqa: F401

FINGERPRINT = "SELECT md5(string_agg(policy_id || ':' || coverage_amount || ':' || holder_address, ',' ORDER BY policy_id)) FROM policies"


@pytest.fixture
def populated(database, migrations) -> str:
    apply_migrations(database, migrations)
    seed(database)
    return database


@pytest.fixture(scope="session")
def s3_endpoint(moto_endpoint) -> str:
    return moto_endpoint


@pytest.fixture
def aws_credentials(monkeypatch) -> dict[str, str]:
    credentials = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    for key, value in credentials.items():
        monkeypatch.setenv(key, value)
    return credentials


def test_local_backup_verify_and_restore_round_trip(postgres, populated, tmp_path):
    store = LocalFolderStore(tmp_path / "backups")
    source_counts = _counts(populated)
    fingerprint = scalar(populated, FINGERPRINT)

    backup = create_backup(populated, store)

    backup_id = backup.manifest.backup_id
    assert backup.location == str(tmp_path / "backups" / f"{backup_id}.dump")
    assert os.stat(backup.location).st_size == backup.manifest.size_bytes > 0
    assert os.stat(backup.location).st_mode & 0o077 == 0  # a backup holds all the data: owner only
    assert backup.manifest.row_counts == source_counts
    assert backup.verified_counts == source_counts
    assert source_counts["public.policies"] == 300 and source_counts["public.schema_migrations"] == 4
    assert backup.manifest.source == describe(populated)
    assert scratch_databases(postgres) == []  # the verification database was dropped

    # Something goes wrong after the backup: rows lost and changed, a half-applied table.
    with psycopg.connect(populated) as conn:
        conn.execute("DELETE FROM policies WHERE policy_id > 100")
        conn.execute("UPDATE policies SET coverage_amount = 1")
        conn.execute("DELETE FROM deposits")
        conn.execute("CREATE TABLE half_applied (x int)")

    restored = restore_backup(store, backup_id, populated)

    assert restored == source_counts
    assert _counts(populated) == {**source_counts, "public.half_applied": 0}
    assert scalar(populated, FINGERPRINT) == fingerprint


def test_s3_backup_round_trip_into_another_database(postgres, populated, second_database, s3_endpoint, aws_credentials):
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.create_bucket(Bucket="tonsurance-backups")
    s3.put_bucket_encryption(Bucket="tonsurance-backups", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})  # the store follows it
    store = S3Store("tonsurance-backups", "mainnet/", endpoint_url=s3_endpoint)

    backup = create_backup(populated, store)

    backup_id = backup.manifest.backup_id
    assert backup.location == f"s3://tonsurance-backups/mainnet/{backup_id}.dump"
    keys = {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket="tonsurance-backups")["Contents"]}
    assert keys[f"mainnet/{backup_id}.dump"] == backup.manifest.size_bytes
    manifest = BackupManifest.from_json(s3.get_object(Bucket="tonsurance-backups", Key=f"mainnet/{backup_id}.json")["Body"].read())
    assert manifest.sha256 == backup.manifest.sha256
    head = s3.head_object(Bucket="tonsurance-backups", Key=f"mainnet/{backup_id}.dump")
    assert head["ServerSideEncryption"] == "AES256"
    assert backup.verified_counts == _counts(populated)

    restored = restore_backup(store, backup_id, second_database)

    assert restored == _counts(populated) == _counts(second_database)
    assert scalar(second_database, FINGERPRINT) == scalar(populated, FINGERPRINT)


def test_corrupted_backup_is_refused_by_verify_and_restore(populated, second_database, tmp_path):
    store = LocalFolderStore(tmp_path)
    backup_id = create_backup(populated, store).manifest.backup_id
    dump = tmp_path / f"{backup_id}.dump"
    dump.write_bytes(dump.read_bytes()[:-64] + bytes(64))

    with pytest.raises(BackupVerificationError, match=f"backup {backup_id} is corrupt"):
        verify_backup(store, backup_id, populated)
    with pytest.raises(BackupVerificationError, match="corrupt"):
        restore_backup(store, backup_id, second_database)
    assert tables(second_database) == set()


def test_verification_names_the_table_whose_count_differs(postgres, populated, tmp_path):
    store = LocalFolderStore(tmp_path)
    backup_id = create_backup(populated, store).manifest.backup_id
    manifest_path = tmp_path / f"{backup_id}.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["row_counts"]["public.policies"] = 301  # the dump holds 300
    manifest_path.write_text(json.dumps(manifest))

    with pytest.raises(BackupVerificationError, match="public.policies: backup 301, restored 300"):
        verify_backup(store, backup_id, populated)
    assert scratch_databases(postgres) == []


def test_unknown_backup_id_is_reported(tmp_path, database):
    with pytest.raises(BackupNotFoundError, match="backup 20250101-000000-dead not found"):
        restore_backup(LocalFolderStore(tmp_path), "20250101-000000-dead", database)


def _restore_cli(args: list[str], dsn: str, answer: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "TARGET_DSN": dsn}
    return subprocess.run(
        [sys.executable, "-m", "database.restore", *args, "--target-dsn-env", "TARGET_DSN"],
        cwd=REPO, env=env, input=answer, capture_output=True, text=True, timeout=120,
    )


def test_restore_cli_asks_for_confirmation(postgres, populated, second_database, tmp_path):
    store_url = (tmp_path / "backups").as_uri()
    backup_id = create_backup(populated, LocalFolderStore(tmp_path / "backups")).manifest.backup_id
    args = ["--store", store_url, "--backup-id", backup_id]

    refused = _restore_cli(args, second_database, answer="yes\n")  # not the database name
    assert refused.returncode == 1
    assert "nothing was changed" in refused.stderr
    no_answer = _restore_cli(args, second_database, answer="")  # stdin closed, e.g. in a pipeline
    assert no_answer.returncode == 1 and "nothing was changed" in no_answer.stderr
    assert tables(second_database) == set()

    confirmed = _restore_cli(args, second_database, answer="restore_target\n")
    assert confirmed.returncode == 0, confirmed.stderr
    assert "public.policies: 300 rows" in confirmed.stdout
    assert f"Target: tonsurance_app@127.0.0.1:{postgres.port}/restore_target" in confirmed.stdout
    assert "row counts match the backup" in confirmed.stdout
    assert postgres.password not in confirmed.stdout + confirmed.stderr
    assert _counts(second_database) == _counts(populated)


def test_restore_cli_yes_flag_skips_the_question(populated, second_database, tmp_path):
    backup_id = create_backup(populated, LocalFolderStore(tmp_path)).manifest.backup_id

    result = _restore_cli(["--store", tmp_path.as_uri(), "--backup-id", backup_id, "--yes"], second_database)

    assert result.returncode == 0, result.stderr
    assert _counts(second_database) == _counts(populated)


def test_restore_cli_reports_errors_without_a_traceback(second_database, tmp_path):
    result = _restore_cli(["--store", tmp_path.as_uri(), "--backup-id", "20250101-000000-dead", "--yes"], second_database)

    assert result.returncode == 1
    assert result.stderr.strip() == f"error: backup 20250101-000000-dead not found in {tmp_path}"


def _counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return count_rows(conn)


def test_restore_blocked_by_newer_dependent_objects_changes_nothing(populated, tmp_path):
    store = LocalFolderStore(tmp_path)
    backup_id = create_backup(populated, store).manifest.backup_id
    with psycopg.connect(populated) as conn:  # created after the backup, depends on a backed-up table
        conn.execute("CREATE TABLE claims (policy_id BIGINT REFERENCES policies (policy_id))")
        conn.execute("DELETE FROM deposits")

    with pytest.raises(BackupError, match="pg_restore failed for tonsurance_app@.*cannot drop .*policies"):
        restore_backup(store, backup_id, populated)

    assert scalar(populated, "SELECT count(*) FROM deposits") == 0  # the single transaction was rolled back
    assert "claims" in tables(populated)


def test_restore_cli_from_s3(populated, second_database, s3_endpoint, aws_credentials):
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket="cli-backups")
    store = S3Store("cli-backups", "testnet/", endpoint_url=s3_endpoint)
    backup_id = create_backup(populated, store).manifest.backup_id

    result = _restore_cli(
        ["--store", "s3://cli-backups/testnet", "--s3-endpoint-url", s3_endpoint, "--backup-id", backup_id, "--yes"],
        second_database,
    )

    assert result.returncode == 0, result.stderr
    assert f"s3://cli-backups/testnet/{backup_id}.dump" in result.stdout
    assert _counts(second_database) == _counts(populated)
