"""The scheduled backup's path (database/backup_job.py, what the CronJob runs) on a real PostgreSQL and moto's
S3 on loopback, with the bucket set up as components/aws.py sets it (versioned, SSE-KMS with its own key);
and `python -m database.restore --backup-id` finding the right backup among several."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3
import psycopg
import pytest

from database import backup as backup_module
from database import backup_job, restore
from database.backup import BackupManifest, count_rows
from database.migrations import apply_migrations
from database.signing import ManifestSigner
from database.storage import AmbiguousBackupIdError, BackupNotFoundError, S3Store, resolve_backup_id
from tests.database.conftest import scalar, scratch_databases, seed
from tests.moto_server import REGION, aws_env, moto_endpoint  # noqa: F401

BUCKET, PREFIX = "tonsurance-backups-mainnet", "mainnet/"
STORE = f"s3://{BUCKET}/{PREFIX}"


@pytest.fixture
def bucket(aws_env) -> dict:
    """A bucket configured like the stack's: versioning and default SSE-KMS with its own key; and the stack's
    signing key (an asymmetric KMS key)."""
    s3, kms = boto3.client("s3"), boto3.client("kms")
    key = kms.create_key(Description="tonsurance test backups")["KeyMetadata"]["Arn"]
    signing = kms.create_key(Description="tonsurance test manifests", KeyUsage="SIGN_VERIFY",
                             KeySpec="ECC_NIST_P256")["KeyMetadata"]["Arn"]
    for existing in s3.list_buckets()["Buckets"]:
        if existing["Name"] == BUCKET:
            for version in s3.list_object_versions(Bucket=BUCKET).get("Versions", []):
                s3.delete_object(Bucket=BUCKET, Key=version["Key"], VersionId=version["VersionId"])
            s3.delete_bucket(Bucket=BUCKET)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key},
        "BucketKeyEnabled": True}]})
    return {"s3": s3, "key": key, "signing": f"kms:{signing}"}


@pytest.fixture
def populated(database, migrations) -> str:
    apply_migrations(database, migrations)
    seed(database)
    return database


def job_env(dsn: str) -> dict[str, str]:
    return {"DATABASE_URL": dsn}


def test_the_job_dumps_uploads_under_a_dated_key_verifies_and_records(postgres, populated, bucket, capsys):
    assert backup_job.main(["--store", STORE, "--s3-region", REGION, "--signing-key", bucket["signing"]],
                           env=job_env(populated)) == 0

    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    backup_id = record["backup_id"]
    assert record["location"] == f"{STORE}{backup_id}.dump" and record["verified"] is True
    assert backup_id[:8].isdigit() and backup_id[8] == "-"  # YYYYMMDD-HHMMSS-xxxx: the key is dated
    with psycopg.connect(populated) as conn:
        counts = count_rows(conn)
    assert record["tables"] == len(counts) and record["rows"] == sum(counts.values()) > 300

    s3 = bucket["s3"]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX)["Contents"]}
    assert keys == {f"{PREFIX}{backup_id}.dump", f"{PREFIX}{backup_id}.json"}
    head = s3.head_object(Bucket=BUCKET, Key=f"{PREFIX}{backup_id}.dump")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == bucket["key"]
    assert head["ContentLength"] == record["size_bytes"] and head.get("VersionId")
    text = s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}{backup_id}.json")["Body"].read()
    manifest = BackupManifest.from_signed_json(text, ManifestSigner(bucket["signing"]))  # signed in KMS
    assert manifest.row_counts == counts and manifest.sha256 == record["sha256"]
    assert manifest.dump_version_id == head["VersionId"]
    assert scratch_databases(postgres) == []  # the verification database is gone
    assert postgres.password not in json.dumps(record)


def test_a_wrong_password_or_missing_variable_fails_clearly_without_the_secret(postgres, populated, bucket, capsys):
    env = job_env(postgres.dsn(psycopg.conninfo.conninfo_to_dict(populated)["dbname"], "wrong-password-123"))
    assert backup_job.main(["--store", STORE, "--signing-key", bucket["signing"]], env=env) == 1
    err = capsys.readouterr().err
    assert "scheduled backup failed: cannot connect to PostgreSQL as tonsurance_app@127.0.0.1" in err
    assert "wrong-password-123" not in err
    assert "Contents" not in bucket["s3"].list_objects_v2(Bucket=BUCKET)  # nothing uploaded

    assert backup_job.main(["--store", STORE, "--signing-key", bucket["signing"]], env={}) == 1
    assert "environment variable DATABASE_URL is not set" in capsys.readouterr().err


def test_an_unreachable_bucket_fails_the_job(postgres, populated, aws_env, capsys, tmp_path):
    assert backup_job.main(["--store", "s3://no-such-bucket-anywhere/x/", "--signing-key", f"file:{tmp_path}/key"],
                           env=job_env(populated)) == 1
    assert "NoSuchBucket" in capsys.readouterr().err


IDS = {  # backup id -> policies in the database when it was taken
    "20250115-083000-cccc": 50,
    "20250115-143000-aaaa": 300,
    "20250115-143100-bbbb": 120,
    "20250116-143000-dddd": 10,
    "20250116-143042-eeee": 20,
}


def test_backup_id_picks_the_right_backup_among_several(postgres, populated, second_database, bucket, monkeypatch,
                                                        capsys):
    monkeypatch.setenv("TARGET_DSN", second_database)
    # One real backup per id, each of a different database content (fewest policies last: rows are deleted).
    for backup_id, policies in sorted(IDS.items(), key=lambda item: -item[1]):
        monkeypatch.setattr(backup_module, "new_backup_id", lambda now=None, chosen=backup_id: chosen)
        with psycopg.connect(populated) as conn:
            conn.execute("DELETE FROM policies WHERE policy_id > %s", (policies,))
        assert backup_job.main(["--store", STORE, "--signing-key", bucket["signing"]], env=job_env(populated)) == 0
    store = S3Store(BUCKET, PREFIX, region=REGION)

    assert resolve_backup_id(store, "20250115-1431") == "20250115-143100-bbbb"
    assert resolve_backup_id(store, "20250115-0830") == "20250115-083000-cccc"
    assert resolve_backup_id(store, "20250116-143000") == "20250116-143000-dddd"
    with pytest.raises(AmbiguousBackupIdError, match="matches 2 backups.*20250116-143000-dddd, 20250116-143042-eeee"):
        resolve_backup_id(store, "20250116-1430")
    with pytest.raises(BackupNotFoundError, match=f"backup 20250117-1430 not found in {STORE}"):
        resolve_backup_id(store, "20250117-1430")
    for malformed in ("2025", "20250115-14", "20250115-143", "../20250115-1430", "20250115-1430*"):
        with pytest.raises(ValueError, match="must look like 20250115-1430"):
            resolve_backup_id(store, malformed)

    capsys.readouterr()
    arguments = ["--store", STORE, "--s3-region", REGION, "--signing-key", bucket["signing"],
                 "--target-dsn-env", "TARGET_DSN", "--yes"]
    assert restore.main([*arguments, "--backup-id", "20250115-1431"]) == 0
    assert "Backup 20250115-143100-bbbb" in capsys.readouterr().out
    assert scalar(second_database, "SELECT count(*) FROM policies") == 120
    assert restore.main([*arguments, "--backup-id", "20250115-1430"]) == 0
    assert scalar(second_database, "SELECT count(*) FROM policies") == 300

    assert restore.main([*arguments, "--backup-id", "20250116-1430"]) == 1
    assert "give one of them in full" in capsys.readouterr().err
    assert scalar(second_database, "SELECT count(*) FROM policies") == 300  # untouched


def test_the_cronjob_container_command_runs_from_its_configmap_files(postgres, populated, bucket, aws_env, tmp_path):
    """What the pod runs: the ConfigMap's files alone on PYTHONPATH, the container's command and environment
    (DATABASE_URL from the Secret), outside the project directory."""
    from components.backup_schedule import BackupScheduleArgs, backup_manifests

    args = BackupScheduleArgs(network="mainnet", namespace="tonsurance", image="unused:1", store_url=STORE,
                              region=REGION, role_arn="arn:aws:iam::123456789012:role/backup")
    manifests = backup_manifests(args, args.role_arn, bucket["signing"].removeprefix("kms:"))
    code_dir = tmp_path / "opt" / "tonsurance" / "database"
    code_dir.mkdir(parents=True)
    for name, text in manifests["ConfigMap"]["data"].items():
        (code_dir / name).write_text(text)
    [container] = manifests["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value", "") for e in container["env"]}
    env.update(PYTHONPATH=str(tmp_path / "opt" / "tonsurance"), HOME=str(tmp_path), DATABASE_URL=populated,
               PATH=os.environ["PATH"], **aws_env)

    result = subprocess.run([sys.executable, *container["command"][1:]], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["verified"] and record["location"].startswith(STORE)
    keys = {o["Key"] for o in bucket["s3"].list_objects_v2(Bucket=BUCKET, Prefix=PREFIX)["Contents"]}
    assert keys == {f"{PREFIX}{record['backup_id']}.dump", f"{PREFIX}{record['backup_id']}.json"}
    assert postgres.password not in result.stdout + result.stderr
