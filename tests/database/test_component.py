"""The Database component's wiring, under Pulumi's mocks (no engine, no database)."""
from __future__ import annotations

from pathlib import Path

import pulumi
import pytest

from components.database import BackupPolicy, Database, DatabaseArgs, backup_trigger
from database.migrations import migration_set_checksum
from resource_types import DATABASE_BACKUP as BACKUP, SQL_MIGRATIONS as MIGRATIONS
from tests.database.conftest import REPO
from tests.support import RecordingMocks


def answer(args: pulumi.runtime.MockResourceArgs) -> dict:
    """What the database providers answer: the backup's id and place, the migrations applied."""
    if args.typ == BACKUP:
        return {"backup_id": "20250115-143000-1a2b", "location": "/backups/20250115-143000-1a2b.dump"}
    if args.typ == MIGRATIONS:
        return {"applied": [{"name": m["name"]} for m in args.inputs["migrations"]], "schema_version": 4}
    return {}


@pytest.fixture
def mocks(pulumi_mocks) -> RecordingMocks:
    mocks = RecordingMocks(answer)
    pulumi_mocks(mocks)
    return mocks


@pulumi.runtime.test
def test_migrations_take_the_id_of_the_backup_they_wait_for(mocks, migrations):
    database = Database("database", DatabaseArgs(
        dsn="postgresql://app:pw@db:5432/tonsurance",
        migrations_dir=str(REPO / "migrations"),
        single_transaction=True,
        timescaledb_required=True,
        backup=BackupPolicy(store_url="s3://tonsurance-backups/mainnet/", s3_region="eu-central-1"),
    ))

    def check(values):
        backup_id, schema_version, applied = values
        backup = mocks.only(BACKUP).inputs
        schema = mocks.only(MIGRATIONS).inputs
        assert backup["trigger"] == migration_set_checksum(migrations)
        assert backup["store_url"] == "s3://tonsurance-backups/mainnet/" and backup["s3_region"] == "eu-central-1"
        assert schema["backup_id"] == backup_id == "20250115-143000-1a2b"
        assert schema["single_transaction"] is True and schema["timescaledb_required"] is True
        assert [m["name"] for m in schema["migrations"]] == [m.name for m in migrations]
        assert schema_version == 4 and applied == [m.name for m in migrations]

    return pulumi.Output.all(database.backup_id, database.schema_version, database.applied_migrations).apply(check)


def test_mainnet_backs_up_before_every_update_others_before_new_migrations(migrations):
    checksum = migration_set_checksum(migrations)
    assert backup_trigger(checksum, every_update=False) == checksum  # unchanged migrations: no new backup
    first, second = backup_trigger(checksum, True), backup_trigger(checksum, True)
    assert first.startswith(f"{checksum}; before the update of ") and first != second  # each run: a new backup


@pulumi.runtime.test
def test_local_stack_backs_up_to_an_absolute_folder(mocks, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    database = Database("database", DatabaseArgs(
        dsn="host=/srv/pg port=55432 user=postgres dbname=tonsurance",
        migrations_dir=str(REPO / "migrations"),
        backup=BackupPolicy(store_url=".state/backups"),
    ))

    def check(_):
        assert mocks.only(BACKUP).inputs["store_url"] == (Path(tmp_path) / ".state" / "backups").as_uri()

    return database.schema_version.apply(check)


@pulumi.runtime.test
def test_without_a_backup_policy_only_migrations_are_registered(mocks):
    database = Database("database", DatabaseArgs(dsn="host=/srv/pg dbname=t", migrations_dir=str(REPO / "migrations")))

    def check(_):
        assert not mocks.of_type(BACKUP)
        assert mocks.only(MIGRATIONS).inputs.get("backup_id") is None
        assert database.backup_id is None

    return database.schema_version.apply(check)
