"""`ops rollback --type database` on a real PostgreSQL: the verified backup taken before the migrations the
record lacks comes back (through database.restore, with its confirmation), a declined restore changes nothing,
a record with the stack's migrations needs no restore, and a stack without a backup is refused."""
from __future__ import annotations

import json

import psycopg
import pytest

from database.backup import create_backup
from database.signing import LOCAL_KEY_FILE, ManifestSigner
from database.storage import LocalFolderStore
from ops import rollback
from ops.records import RecordError
from tests.database.conftest import APP_ROLE, scalar
from tests.support import parse, raw_config


@pytest.fixture
def stack(postgres, database, tmp_path):
    """A local stack config pointing at the test database, with a backup of two rows in its backup folder."""
    name = psycopg.conninfo.conninfo_to_dict(database)["dbname"]
    cfg = parse(raw_config(database=json.dumps({"host": "127.0.0.1", "port": postgres.port, "name": name,
                                                "user": APP_ROLE}),
                           databasePassword=postgres.password, backupStore="backups", backupBeforeMigrate="true"))
    with psycopg.connect(database) as conn:
        conn.execute("CREATE TABLE policies (id int primary key)")
        conn.execute("INSERT INTO policies VALUES (1), (2)")
    signer = ManifestSigner(f"file:{tmp_path / LOCAL_KEY_FILE}")  # where ops finds the local stack's key
    backup = create_backup(database, LocalFolderStore(tmp_path / "backups"), signer)
    with psycopg.connect(database) as conn:
        conn.execute("INSERT INTO policies VALUES (3)")
    return cfg, backup.manifest.backup_id, database


RECORD = {"database": {"migrations": ["001_initial_schema.sql"], "backup_id": "20261101-000000-aaaa"}}


def test_the_backup_before_the_first_migrations_the_record_lacks():
    one, two, three = "001_initial_schema.sql", "002_more.sql", "003_again.sql"
    outputs = {"database_migrations": [one, two, three], "database_backup_id": "20261210-000000-dddd"}
    later = [{"database": {"migrations": [one], "backup_id": "20261101-000000-aaaa"}},      # images only
             {"database": {"migrations": [one, two], "backup_id": "20261201-000000-bbbb"}},  # took it before 002
             {"database": {"migrations": [one, two, three], "backup_id": "20261210-000000-dddd"}}]
    assert rollback.database_backup(outputs, RECORD, later, None) == "20261201-000000-bbbb"  # not the record's own
    assert rollback.database_backup(outputs, RECORD, [], None) == "20261210-000000-dddd"    # no later record
    assert rollback.database_backup(outputs, RECORD, later, "20261115-000000-cccc") == "20261115-000000-cccc"
    same = {**outputs, "database_migrations": [one]}
    assert rollback.database_backup(same, RECORD, later, None) is None  # the schema is the record's: nothing to lose
    with pytest.raises(RecordError, match="pass --backup-id"):
        rollback.database_backup({**outputs, "database_backup_id": None}, RECORD, [], None)


def test_database_rollback_restores_the_backup(stack, tmp_path):
    cfg, backup_id, dsn = stack
    assert rollback.rollback_database(cfg, backup_id, yes=True, work_dir=tmp_path) == 0
    assert scalar(dsn, "SELECT count(*) FROM policies") == 2


def test_declined_database_rollback_changes_nothing(stack, tmp_path, monkeypatch):
    cfg, backup_id, dsn = stack
    monkeypatch.setattr("builtins.input", lambda _prompt: "not the name")
    assert rollback.rollback_database(cfg, backup_id, yes=False, work_dir=tmp_path) == 1
    assert scalar(dsn, "SELECT count(*) FROM policies") == 3
