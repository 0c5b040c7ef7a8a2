"""Backups: dump, store (local folder and a real S3 endpoint served by moto), sign, verify, restore; and finding 5
of issue 27: a swapped dump, an unsigned or foreign manifest, a traversal id, an overwrite are each refused with
nothing touched."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys

import boto3
import psycopg
import pytest

from database.backup import (BackupError, BackupManifest, BackupVerificationError, count_rows, create_backup,
                             restore_backup, verify_backup)
from database.dsn import describe
from database.migrations import apply_migrations
from database.signing import ManifestSigner
from database.storage import BackupNotFoundError, BackupOverwrittenError, LocalFolderStore, S3Store
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


def versioned_bucket(endpoint: str, name: str):
    s3 = boto3.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return s3


class Watched:
    """A store that records every dump it hands out: what a refused restore must never have fetched."""

    def __init__(self, store):
        self.store, self.fetched = store, []

    def __getattr__(self, name):
        return getattr(self.store, name)

    def fetch(self, backup_id, dest_path, version_id=None):
        self.fetched.append(backup_id)
        return self.store.fetch(backup_id, dest_path, version_id)


def test_local_backup_verify_and_restore_round_trip(postgres, populated, tmp_path, signer):
    store = LocalFolderStore(tmp_path / "backups")
    source_counts = _counts(populated)
    fingerprint = scalar(populated, FINGERPRINT)

    backup = create_backup(populated, store, signer)

    backup_id = backup.manifest.backup_id
    assert backup.location == str(tmp_path / "backups" / f"{backup_id}.dump")
    assert os.stat(backup.location).st_size == backup.manifest.size_bytes > 0
    assert os.stat(backup.location).st_mode & 0o077 == 0  # a backup holds all the data: owner only
    assert backup.manifest.row_counts == source_counts
    assert set(backup.manifest.checksums) == set(source_counts)
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

    restored = restore_backup(store, backup_id, populated, signer)

    assert restored.counts == source_counts == _counts(populated)  # the half-applied table is not in the backup
    assert scalar(populated, FINGERPRINT) == fingerprint
    previous = postgres.dsn(restored.previous_database)
    assert restored.previous_database.endswith(backup_id.replace("-", "_"))
    with psycopg.connect(postgres.superuser_dsn(), autocommit=True) as conn:  # kept, connections disabled
        conn.execute(f'ALTER DATABASE "{restored.previous_database}" WITH ALLOW_CONNECTIONS true')
    assert "half_applied" in tables(previous) and scalar(previous, "SELECT count(*) FROM policies") == 100
    assert scratch_databases(postgres) == []


def test_s3_backup_round_trip_into_another_database(postgres, populated, second_database, s3_endpoint, aws_credentials,
                                                    signer):
    s3 = versioned_bucket(s3_endpoint, "tonsurance-backups")
    s3.put_bucket_encryption(Bucket="tonsurance-backups", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})  # the store follows it
    store = S3Store("tonsurance-backups", "mainnet/", endpoint_url=s3_endpoint)

    backup = create_backup(populated, store, signer)

    backup_id = backup.manifest.backup_id
    assert backup.location == f"s3://tonsurance-backups/mainnet/{backup_id}.dump"
    keys = {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket="tonsurance-backups")["Contents"]}
    assert keys[f"mainnet/{backup_id}.dump"] == backup.manifest.size_bytes
    text = s3.get_object(Bucket="tonsurance-backups", Key=f"mainnet/{backup_id}.json")["Body"].read()
    manifest = BackupManifest.from_signed_json(text, signer)
    assert manifest.sha256 == backup.manifest.sha256
    head = s3.head_object(Bucket="tonsurance-backups", Key=f"mainnet/{backup_id}.dump")
    assert head["ServerSideEncryption"] == "AES256" and manifest.dump_version_id == head["VersionId"]
    assert backup.verified_counts == _counts(populated)

    restored = restore_backup(store, backup_id, second_database, signer)

    assert restored.counts == _counts(populated) == _counts(second_database)
    assert scalar(second_database, FINGERPRINT) == scalar(populated, FINGERPRINT)


def test_every_s3_call_names_the_bucket_owner(populated, s3_endpoint, aws_credentials, signer, monkeypatch):
    """Finding 8: a bucket of the same name in another account is never written or read (ExpectedBucketOwner)."""
    versioned_bucket(s3_endpoint, "owned-backups")
    sent: list[tuple[str, bytes | None]] = []
    real_client = boto3.client

    def recording_client(*args, **kwargs):
        client = real_client(*args, **kwargs)
        client.meta.events.register("before-send.s3", lambda request, **_: sent.append(
            (request.method, request.headers.get("x-amz-expected-bucket-owner"))))
        return client

    monkeypatch.setattr(boto3, "client", recording_client)
    store = S3Store("owned-backups", "p/", endpoint_url=s3_endpoint, expected_owner="123456789012")
    backup_id = create_backup(populated, store, signer).manifest.backup_id
    store.find(backup_id[:13])
    assert len(sent) > 5 and {owner for _method, owner in sent} == {b"123456789012"}
    assert {method for method, _owner in sent} >= {"PUT", "GET", "HEAD"}


def test_corrupted_backup_is_refused_by_verify_and_restore(populated, second_database, tmp_path, signer):
    store = LocalFolderStore(tmp_path)
    backup_id = create_backup(populated, store, signer).manifest.backup_id
    dump = tmp_path / f"{backup_id}.dump"
    dump.chmod(0o600)
    dump.write_bytes(dump.read_bytes()[:-64] + bytes(64))

    with pytest.raises(BackupVerificationError, match=f"backup {backup_id} is corrupt"):
        verify_backup(store, backup_id, populated, signer)
    with pytest.raises(BackupVerificationError, match="corrupt"):
        restore_backup(store, backup_id, second_database, signer)
    assert tables(second_database) == set()


def test_a_restore_that_does_not_match_is_refused_before_the_target_is_touched(postgres, populated, second_database,
                                                                               tmp_path, signer):
    """The counts are checked in the scratch database, not after the target was overwritten."""
    store = LocalFolderStore(tmp_path / "b")
    backup = create_backup(populated, store, signer)
    wrong = dataclasses.replace(backup.manifest, row_counts={**backup.manifest.row_counts, "public.policies": 301})
    forged = LocalFolderStore(tmp_path / "forged")  # the same dump, a signed manifest that disagrees with it
    forged.put_dump(wrong.backup_id, tmp_path / "b" / f"{wrong.backup_id}.dump")
    forged.put_manifest(wrong.backup_id, wrong.signed_json(signer))
    with psycopg.connect(second_database) as conn:
        conn.execute("CREATE TABLE live (x int)")
        conn.execute("INSERT INTO live VALUES (1)")

    with pytest.raises(BackupVerificationError, match="public.policies: backup 301, restored 300"):
        verify_backup(forged, wrong.backup_id, populated, signer)
    with pytest.raises(BackupVerificationError, match="public.policies: backup 301, restored 300"):
        restore_backup(forged, wrong.backup_id, second_database, signer)

    assert tables(second_database) == {"live"} and scalar(second_database, "SELECT count(*) FROM live") == 1
    assert scratch_databases(postgres) == []


# ---- finding 5: swapped, unsigned, foreign, traversal, overwritten -----------------------------------------

def test_a_swapped_dump_with_a_matching_unsigned_manifest_is_refused(postgres, populated, tmp_path, signer):
    store = Watched(LocalFolderStore(tmp_path / "backups"))
    genuine = create_backup(populated, store.store, signer).manifest
    # The attacker can write the bucket, not sign: a crafted dump (another database's) under a new id, with a
    # manifest whose sha256 and counts match it.
    crafted_id = "20990101-000000-beef"
    crafted = tmp_path / "crafted.dump"
    crafted.write_bytes(b"PGDMP crafted: DROP TABLE policies; CREATE ROLE intruder SUPERUSER")
    fields = {**dataclasses.asdict(genuine), "backup_id": crafted_id, "sha256": hashlib.sha256(crafted.read_bytes()).hexdigest(),
              "size_bytes": crafted.stat().st_size, "row_counts": {}, "checksums": {}}
    store.put_dump(crafted_id, crafted)
    store.put_manifest(crafted_id, json.dumps({"manifest": fields}))  # no signature
    with psycopg.connect(populated) as conn:
        conn.execute("DELETE FROM deposits")
    before = _counts(populated)

    with pytest.raises(BackupVerificationError, match=f"backup {crafted_id} is refused: .*it is not signed"):
        restore_backup(store, crafted_id, populated, signer)
    # A signature by another key is no better.
    other = ManifestSigner(f"file:{tmp_path / 'attacker.key'}")
    forged = LocalFolderStore(tmp_path / "forged")
    forged.put_dump(crafted_id, crafted)
    forged.put_manifest(crafted_id, BackupManifest(**fields).signed_json(other))
    with pytest.raises(BackupVerificationError, match="is not one of the key"):
        restore_backup(forged, crafted_id, populated, signer)

    assert store.fetched == [] and _counts(populated) == before  # nothing fetched, nothing touched
    assert scratch_databases(postgres) == []


def test_a_traversal_id_is_refused_before_anything_is_read(postgres, populated, tmp_path, signer):
    store = Watched(LocalFolderStore(tmp_path / "store" / "backups"))
    create_backup(populated, store.store, signer)
    before = _counts(populated)
    for bad in ("../../outside", "20250115-143000-aaaa/../../x", "/etc/passwd", "20250115-143000-aaaa.."):
        with pytest.raises(ValueError, match="is not a backup id"):
            restore_backup(store, bad, populated, signer)
    assert store.fetched == [] and _counts(populated) == before
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == ["backups"]  # nothing written beside the store

    # From the command line, the id is refused before the store is even listed.
    result = _restore_cli(["--store", (tmp_path / "store" / "backups").as_uri(), "--backup-id", "../../outside",
                           "--signing-key", signer.spec, "--yes"], populated)
    assert result.returncode == 1 and "must look like 20250115-1430" in result.stderr


def test_a_manifest_naming_another_backup_is_refused(postgres, populated, tmp_path, signer):
    """A validly signed manifest copied under another id (or naming a path) is not that backup."""
    store = Watched(LocalFolderStore(tmp_path / "backups"))
    first = create_backup(populated, store.store, signer).manifest
    with psycopg.connect(populated) as conn:
        conn.execute("DELETE FROM policies WHERE policy_id > 10")
    before = _counts(populated)
    other_id = "20990101-000000-0bad"
    store.put_dump(other_id, tmp_path / "backups" / f"{first.backup_id}.dump")
    store.put_manifest(other_id, (tmp_path / "backups" / f"{first.backup_id}.json").read_text())
    traversal_id = "20990101-000000-0ddd"
    store.put_dump(traversal_id, tmp_path / "backups" / f"{first.backup_id}.dump")
    store.put_manifest(traversal_id, dataclasses.replace(first, backup_id="../../../tmp/evil").signed_json(signer))

    with pytest.raises(BackupVerificationError, match=f"describes backup '{first.backup_id}', not the one asked for"):
        restore_backup(store, other_id, populated, signer)
    with pytest.raises(BackupVerificationError, match="describes backup '../../../tmp/evil'"):
        restore_backup(store, traversal_id, populated, signer)
    assert store.fetched == [] and _counts(populated) == before
    assert scratch_databases(postgres) == []


def test_backups_are_written_once_and_restored_by_the_signed_version(postgres, populated, second_database,
                                                                    s3_endpoint, aws_credentials, signer):
    s3 = versioned_bucket(s3_endpoint, "write-once")
    store = S3Store("write-once", "m/", endpoint_url=s3_endpoint)
    backup = create_backup(populated, store, signer)
    backup_id = backup.manifest.backup_id
    dump_key, manifest_key = f"m/{backup_id}.dump", f"m/{backup_id}.json"

    # The store never replaces an object (If-None-Match: S3 answers 412).
    with pytest.raises(FileExistsError, match="already exists; a backup is written once"):
        store.put_dump(backup_id, REPO / "README.md")
    with pytest.raises(FileExistsError):
        store.put_manifest(backup_id, "{}")

    # Someone the bucket policy does not bind swaps the dump: restore still fetches the version the manifest signed.
    s3.put_object(Bucket="write-once", Key=dump_key, Body=b"not a dump")
    restored = restore_backup(store, backup_id, second_database, signer)
    assert restored.counts == backup.manifest.row_counts

    # A manifest written twice is not trusted, whatever it says.
    s3.put_object(Bucket="write-once", Key=manifest_key,
                  Body=s3.get_object(Bucket="write-once", Key=manifest_key)["Body"].read())
    with pytest.raises(BackupOverwrittenError, match="was written 2 times"):
        restore_backup(store, backup_id, second_database, signer)


def test_unknown_backup_id_is_reported(tmp_path, database, signer):
    with pytest.raises(BackupNotFoundError, match="backup 20250101-000000-dead not found"):
        restore_backup(LocalFolderStore(tmp_path), "20250101-000000-dead", database, signer)


def _restore_cli(args: list[str], dsn: str, answer: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "TARGET_DSN": dsn}
    return subprocess.run(
        [sys.executable, "-m", "database.restore", *args, "--target-dsn-env", "TARGET_DSN"],
        cwd=REPO, env=env, input=answer, capture_output=True, text=True, timeout=120,
    )


def test_restore_cli_asks_for_confirmation(postgres, populated, second_database, tmp_path, signer):
    store_url = (tmp_path / "backups").as_uri()
    backup_id = create_backup(populated, LocalFolderStore(tmp_path / "backups"), signer).manifest.backup_id
    args = ["--store", store_url, "--backup-id", backup_id, "--signing-key", signer.spec]

    refused = _restore_cli(args, second_database, answer="yes\n")  # not the database name
    assert refused.returncode == 1
    assert "nothing was changed" in refused.stderr
    no_answer = _restore_cli(args, second_database, answer="")  # stdin closed, e.g. in a pipeline
    assert no_answer.returncode == 1 and "nothing was changed" in no_answer.stderr
    assert tables(second_database) == set()

    confirmed = _restore_cli(args, second_database, answer="restore_target\n")
    assert confirmed.returncode == 0, confirmed.stderr
    assert "public.policies: 300 rows" in confirmed.stdout and "(signature checked)" in confirmed.stdout
    assert f"Target: tonsurance_app@127.0.0.1:{postgres.port}/restore_target" in confirmed.stdout
    assert "row counts and checksums match the backup" in confirmed.stdout
    assert "The previous database is kept as restore_target_before_" in confirmed.stdout
    assert postgres.password not in confirmed.stdout + confirmed.stderr
    assert _counts(second_database) == _counts(populated)


def test_restore_cli_never_takes_a_password_on_its_command_line(postgres, second_database, tmp_path, signer):
    """Finding 8: --target-dsn refuses a DSN with a password (argv is visible in `ps`); a file or variable serves."""
    result = subprocess.run([sys.executable, "-m", "database.restore", "--store", tmp_path.as_uri(), "--backup-id",
                             "20250101-000000-dead", "--signing-key", signer.spec, "--target-dsn", second_database],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "--target-dsn must not carry a password" in result.stderr
    assert postgres.password not in result.stderr
    dsn_file = tmp_path / "dsn"
    dsn_file.write_text(second_database)
    result = subprocess.run([sys.executable, "-m", "database.restore", "--store", tmp_path.as_uri(), "--backup-id",
                             "20250101-000000-dead", "--signing-key", signer.spec, "--target-dsn-file", str(dsn_file)],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "backup 20250101-000000-dead not found" in result.stderr  # the DSN was read


def test_restore_cli_yes_flag_skips_the_question(populated, second_database, tmp_path, signer):
    backup_id = create_backup(populated, LocalFolderStore(tmp_path), signer).manifest.backup_id

    result = _restore_cli(["--store", tmp_path.as_uri(), "--backup-id", backup_id, "--signing-key", signer.spec,
                           "--yes"], second_database)

    assert result.returncode == 0, result.stderr
    assert _counts(second_database) == _counts(populated)


def test_restore_cli_reports_errors_without_a_traceback(second_database, tmp_path, signer):
    result = _restore_cli(["--store", tmp_path.as_uri(), "--backup-id", "20250101-000000-dead",
                           "--signing-key", signer.spec, "--yes"], second_database)

    assert result.returncode == 1
    assert result.stderr.strip() == f"error: backup 20250101-000000-dead not found in {tmp_path}"


def _counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return count_rows(conn)


def test_child_tools_get_a_minimal_environment(populated, tmp_path, signer, monkeypatch):
    """Finding 8: pg_dump and pg_restore see the one password they need, not the operator's other secrets."""
    import database.backup as backup_module

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "operator-cloud-secret")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "operator-passphrase")
    seen: list[dict] = []
    real_run = subprocess.run
    monkeypatch.setattr(backup_module.subprocess, "run",
                        lambda command, **kwargs: seen.append(kwargs["env"]) or real_run(command, **kwargs))
    create_backup(populated, LocalFolderStore(tmp_path / "b"), signer)
    assert len(seen) == 2  # pg_dump, pg_restore (verification)
    for env in seen:
        assert "AWS_SECRET_ACCESS_KEY" not in env and "PULUMI_CONFIG_PASSPHRASE" not in env
        assert set(env) <= {"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "PGPASSWORD", "PGSSLMODE",
                            "PGSSLROOTCERT", "PGSSLCERT", "PGSSLKEY", "PGSSLCRL", "PGCONNECT_TIMEOUT",
                            "PGTARGETSESSIONATTRS", "PGUSER", "PGHOST", "PGPORT"}
        assert env["PGPASSWORD"] and env["PATH"] == os.environ["PATH"]


def test_a_restore_that_cannot_swap_leaves_the_target_as_it_was(postgres, populated, tmp_path, signer):
    """A session the restorer may not end keeps the target in use: the swap fails, the target is unchanged."""
    store = LocalFolderStore(tmp_path)
    backup_id = create_backup(populated, store, signer).manifest.backup_id
    with psycopg.connect(populated) as conn:
        conn.execute("DELETE FROM deposits")
    before = _counts(populated)
    name = psycopg.conninfo.conninfo_to_dict(populated)["dbname"]
    superuser = psycopg.connect(postgres.superuser_dsn(name))  # the application role cannot end a superuser's session
    try:
        with pytest.raises(BackupError, match=f"swapping it in for {name} failed.*{name} is unchanged"):
            restore_backup(store, backup_id, populated, signer)
    finally:
        superuser.close()
    assert _counts(populated) == before
