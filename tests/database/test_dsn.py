"""A DSN is a secret: failures name the server, database and user, never the password."""
from __future__ import annotations

import pytest

from database.backup import create_backup
from database.signing import ManifestSigner
from database.dsn import DatabaseConnectionError, InvalidDsnError, describe, libpq_command_target
from database.migrations import apply_migrations
from database.storage import LocalFolderStore

WRONG_PASSWORD = "Wr0ng-pa55word-never-shown"


def test_wrong_password_error_names_the_target_but_not_the_password(postgres, database, migrations):
    dbname = describe(database).rsplit("/", 1)[1]
    dsn = postgres.dsn(dbname, password=WRONG_PASSWORD)

    with pytest.raises(DatabaseConnectionError) as failure:
        apply_migrations(dsn, migrations)

    message = str(failure.value)
    assert f"tonsurance_app@127.0.0.1:{postgres.port}/{dbname}" in message
    assert "password authentication failed" in message
    assert WRONG_PASSWORD not in message and postgres.password not in message
    assert failure.value.__suppress_context__  # the driver's exception is not chained into tracebacks


def test_backup_with_wrong_password_fails_without_the_secret(postgres, database, tmp_path):
    dbname = describe(database).rsplit("/", 1)[1]
    with pytest.raises(DatabaseConnectionError) as failure:
        create_backup(postgres.dsn(dbname, password=WRONG_PASSWORD), LocalFolderStore(tmp_path),
                      ManifestSigner(f"file:{tmp_path}/signing.key"))
    assert WRONG_PASSWORD not in str(failure.value)
    assert list(tmp_path.iterdir()) == []


def test_unparseable_dsn_is_rejected_without_echoing_it():
    with pytest.raises(InvalidDsnError) as failure:
        describe(f"postgresql://app:{WRONG_PASSWORD}@db.example:5432/tonsurance?bogus_option=1")
    assert WRONG_PASSWORD not in str(failure.value)


def test_pg_tools_get_the_password_through_the_environment_not_argv():
    conninfo, env = libpq_command_target(f"postgresql://app:{WRONG_PASSWORD}@db.example:5432/tonsurance")
    assert WRONG_PASSWORD not in conninfo
    assert "host=db.example" in conninfo and "dbname=tonsurance" in conninfo
    assert env["PGPASSWORD"] == WRONG_PASSWORD
