"""The dynamic providers called directly, as the Pulumi engine would, against a real PostgreSQL."""
from __future__ import annotations

import json
import subprocess
import sys

import psycopg
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime.rpc import UNKNOWN

from database.backup_resource import DatabaseBackupProvider
from database.dsn import describe
from database.migrations import Migration, migration_set_checksum
from database.migrations_resource import SqlMigrationsProvider
from tests.database.conftest import REPO, scalar, tables

EXTRA = Migration.from_sql("005_add_claims.sql", "CREATE TABLE IF NOT EXISTS claims (claim_id BIGINT PRIMARY KEY);\n")


def migration_props(dsn: str, migrations: list[Migration], **overrides) -> dict:
    return {
        "dsn": dsn,
        "migrations": [m.as_input() for m in migrations],
        "single_transaction": False,
        "timescaledb_required": False,
        "backup_id": None,
        **overrides,
    }


def as_engine_sees_it(value):
    """Inputs and state come back from the engine as JSON-like values, numbers as floats."""
    return json.loads(json.dumps(value), parse_int=float)


def test_create_then_no_diff_then_pending_then_update(database, migrations):
    provider = SqlMigrationsProvider()
    props = migration_props(database, migrations)
    assert provider.check({}, props).failures == []

    created = provider.create(props)

    assert created.id == describe(database)
    assert created.outs["schema_version"] == 4
    assert [row["name"] for row in created.outs["applied"]] == [m.name for m in migrations]
    assert created.outs["timescaledb"] is False
    state = as_engine_sees_it(created.outs)
    assert provider.diff(created.id, state, as_engine_sees_it(props)).changes is False

    newer = as_engine_sees_it(migration_props(database, [*migrations, EXTRA]))
    assert provider.check(as_engine_sees_it(props), newer).failures == []
    assert provider.diff(created.id, state, newer).changes is True
    assert "claims" not in tables(database)  # diff only looks

    updated = provider.update(created.id, state, newer)

    assert updated.outs["schema_version"] == 5
    assert "claims" in tables(database)
    assert provider.diff(created.id, as_engine_sees_it(updated.outs), newer).changes is False


def test_create_adopts_a_database_that_is_already_migrated(database, migrations):
    provider = SqlMigrationsProvider()
    first = provider.create(migration_props(database, migrations))
    again = provider.create(migration_props(database, migrations))  # e.g. after the stack's state was lost
    assert again.outs["applied"] == first.outs["applied"]


def test_refresh_sees_a_database_rolled_back_to_an_older_schema(database, migrations):
    provider = SqlMigrationsProvider()
    props = migration_props(database, migrations)
    created = provider.create(props)
    with psycopg.connect(database) as conn:  # as if restored from a backup taken before 004
        conn.execute("DELETE FROM schema_migrations WHERE version = 4")

    refreshed = provider.read(created.id, as_engine_sees_it(created.outs))

    assert refreshed.id == created.id
    assert refreshed.outs["schema_version"] == 3
    assert provider.diff(created.id, refreshed.outs, as_engine_sees_it(props)).changes is True
    provider.update(created.id, refreshed.outs, as_engine_sees_it(props))
    assert scalar(database, "SELECT max(version) FROM schema_migrations") == 4


def test_diff_reports_changes_when_the_target_database_is_not_known_yet(database, migrations):
    provider = SqlMigrationsProvider()
    state = provider.create(migration_props(database, migrations)).outs
    assert provider.diff("id", state, migration_props(UNKNOWN, migrations)).changes is True


def test_check_refuses_an_applied_migration_that_changed(database, migrations):
    provider = SqlMigrationsProvider()
    olds = migration_props(database, migrations)
    edited = [Migration.from_sql(m.name, m.sql + "-- tweak\n") if m.version == 3 else m for m in migrations]

    failures = provider.check(as_engine_sees_it(olds), migration_props(database, edited)).failures

    assert [f.property for f in failures] == [""]
    assert "migrations/003_add_blockchain_event_log.sql changed after it was applied" in failures[0].reason


def test_check_rejects_an_inconsistent_migration_set(database, migrations):
    provider = SqlMigrationsProvider()
    tampered = [m.as_input() for m in migrations]
    tampered[1]["sql"] += "DROP TABLE policies;"
    duplicate = [*migrations, Migration.from_sql("004_other.sql", "SELECT 1;")]

    assert "002_add_multi_dimensional_coverage.sql: sha256 does not match" in provider.check(
        {}, {**migration_props(database, migrations), "migrations": tampered}
    ).failures[0].reason
    assert "must be unique" in provider.check({}, migration_props(database, duplicate)).failures[0].reason
    assert [f.property for f in provider.check({}, migration_props("", migrations)).failures] == ["dsn"]


def backup_props(dsn: str, store_url: str, trigger: str) -> dict:
    key = f"file:{store_url.removeprefix('file://')}/../signing.key"
    return {"dsn": dsn, "store_url": store_url, "trigger": trigger, "s3_endpoint_url": None, "s3_region": None,
            "scratch_dsn": None, "signing_key": key, "s3_expected_owner": None}


def test_backup_provider_lifecycle(database, migrations, tmp_path):
    SqlMigrationsProvider().create(migration_props(database, migrations))
    provider = DatabaseBackupProvider()
    props = backup_props(database, tmp_path.as_uri(), migration_set_checksum(migrations))
    assert provider.check({}, props).failures == []

    created = provider.create(props)

    assert created.id == created.outs["backup_id"]
    assert created.outs["location"] == str(tmp_path / f"{created.id}.dump")
    assert created.outs["verified_counts"]["public.tranches"] == 6
    assert created.outs["size_bytes"] > 0
    state = as_engine_sees_it(created.outs)
    assert provider.diff(created.id, state, props).changes is False
    newer = backup_props(database, tmp_path.as_uri(), migration_set_checksum([*migrations, EXTRA]))
    assert provider.diff(created.id, state, newer).changes is True

    updated = provider.update(created.id, state, newer)

    assert updated.outs["backup_id"] != created.id
    assert provider.read(created.id, state).id == created.id
    (tmp_path / f"{created.id}.json").unlink()
    assert provider.read(created.id, state).id == ""  # gone from the store: refresh drops it


def test_backup_provider_check_rejects_a_bad_signing_key(database, tmp_path):
    props = {**backup_props(database, tmp_path.as_uri(), "x"), "signing_key": "hmac:secret"}
    [failure] = DatabaseBackupProvider().check({}, props).failures
    assert failure.property == "signing_key" and "kms:<key id, alias or ARN> or file:<path>" in failure.reason


def test_backup_provider_check_rejects_a_bad_store_url(database):
    failures = DatabaseBackupProvider().check({}, backup_props(database, "ftp://backups", "x")).failures
    assert [f.property for f in failures] == ["store_url"]
    assert "file:///dir or s3://bucket/prefix" in failures[0].reason


def test_providers_pickle_and_run_in_a_fresh_process(database, migrations, tmp_path):
    """What the Pulumi engine does: serialize with dill, load in the provider host process, call."""
    serialized = {
        "migrations": serialize_provider(SqlMigrationsProvider()),
        "backup": serialize_provider(DatabaseBackupProvider()),
    }
    assert serialized["migrations"] == serialize_provider(SqlMigrationsProvider())  # stateless, deterministic
    request = {
        **serialized,
        "backup_props": backup_props(database, tmp_path.as_uri(), migration_set_checksum(migrations)),
        "migration_props": migration_props(database, migrations),
    }
    host = """
import base64, json, sys
import dill
request = json.load(sys.stdin)
load = lambda key: dill.loads(base64.b64decode(request[key]))
backup = load("backup").create(request["backup_props"])
schema = load("migrations").create(request["migration_props"])
print(json.dumps({"backup_id": backup.id, "schema_version": schema.outs["schema_version"]}))
"""
    result = subprocess.run(
        [sys.executable, "-c", host], cwd=REPO, input=json.dumps(request), capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["schema_version"] == 4
    assert (tmp_path / f"{outcome['backup_id']}.dump").is_file()
    assert scalar(database, "SELECT count(*) FROM schema_migrations") == 4


def test_another_machines_ca_path_is_no_change_but_another_tls_mode_is(database, migrations, tmp_path):
    """The CA bundle's path in the DSN is the running checkout's (DatabaseConfig.dsn() makes it absolute): an
    update from another operator's checkout neither retargets the migrations nor takes a backup."""
    here, there = f"{database} sslrootcert=/home/alice/tonsurance/ca.pem", f"{database} sslrootcert=/ci/work/ca.pem"
    trigger = migration_set_checksum(migrations)
    for provider, props in ((SqlMigrationsProvider(), lambda dsn: migration_props(dsn, migrations)),
                            (DatabaseBackupProvider(), lambda dsn: backup_props(dsn, tmp_path.as_uri(), trigger))):
        olds = {**as_engine_sees_it(props(here)), "applied": [{"version": str(m.version)} for m in migrations]}
        assert provider.diff("id", olds, as_engine_sees_it(props(there))).changes is False, type(provider).__name__
        tighter = as_engine_sees_it(props(f"{there} sslmode=verify-full"))
        assert provider.diff("id", olds, tighter).changes is True, type(provider).__name__
