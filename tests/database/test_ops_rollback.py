"""`ops rollback --type database` on a real PostgreSQL: the record's verified backup comes back (through
database.restore, with its confirmation), a declined restore changes nothing, and a record without a backup id
is refused."""
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
    return cfg, {"database": {"backup_id": backup.manifest.backup_id}}, database


def test_database_rollback_restores_the_records_backup(stack, tmp_path):
    cfg, record, dsn = stack
    assert rollback.rollback_database(cfg, record, None, yes=True, work_dir=tmp_path) == 0
    assert scalar(dsn, "SELECT count(*) FROM policies") == 2


def test_declined_database_rollback_changes_nothing(stack, tmp_path, monkeypatch):
    cfg, record, dsn = stack
    monkeypatch.setattr("builtins.input", lambda _prompt: "not the name")
    assert rollback.rollback_database(cfg, record, None, yes=False, work_dir=tmp_path) == 1
    assert scalar(dsn, "SELECT count(*) FROM policies") == 3


def test_database_rollback_needs_a_backup_id(stack, tmp_path):
    cfg, _record, _dsn = stack
    with pytest.raises(RecordError, match="pass --backup-id"):
        rollback.rollback_database(cfg, {"database": {"backup_id": None}}, None, yes=True, work_dir=tmp_path)
