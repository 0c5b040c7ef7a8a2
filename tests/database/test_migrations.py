"""The migration runner against a real PostgreSQL."""
from __future__ import annotations

import re
import threading
import time

import psycopg
import pytest

from database.migrations import (
    ADVISORY_LOCK_KEY,
    ChecksumDriftError,
    Migration,
    MigrationError,
    MigrationFailedError,
    TimescaleRequiredError,
    applied_migrations,
    apply_migrations,
    migration_set_checksum,
    pending_migrations,
    validate_migration_set,
)
from database.sql_statements import split_statements
from tests.database.conftest import scalar, tables

SCHEMA_TABLES = {
    "schema_migrations", "tranches", "policies", "deposits", "vault_state", "tranche_state", "transactions",
    "product_exposure", "blockchain_events", "indexer_cursors", "pricing_oracle_updates",
}

BROKEN = Migration.from_sql(
    "005_broken.sql",
    "CREATE TABLE audit_log (id int PRIMARY KEY);\n"
    "INSERT INTO audit_log VALUES (1);\n"
    "\n"
    "INSERT INTO audit_log VALUES (1);  -- duplicate key\n",
)


def insert_policy(dsn: str, policy_id: int) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO policies (policy_id, shard_id, holder_address, coverage_type, coverage_amount, premium,"
            " start_time, expiry_time) VALUES (%s, %s, 'EQholder', 'depeg', 1000000, 5000, now(), now() + interval '30 days')",
            (policy_id, policy_id % 16),
        )


def test_fresh_apply_creates_the_schema_and_records_each_migration(database, migrations):
    run = apply_migrations(database, migrations)

    assert run.newly_applied == [m.name for m in migrations]
    assert run.timescaledb is False  # Debian's PostgreSQL has no TimescaleDB: the guarded fallback ran
    assert tables(database) == SCHEMA_TABLES
    assert [(row.version, row.name, row.checksum) for row in run.applied] == [
        (m.version, m.name, m.sha256) for m in migrations
    ]
    assert all(row.duration_ms >= 0 and row.applied_at for row in run.applied)
    assert scalar(database, "SELECT string_agg(token_symbol, ',' ORDER BY tranche_id) FROM tranches") == (
        "SURE-BTC,SURE-SNR,SURE-MEZZ,SURE-JNR,SURE-JNR+,SURE-EQT"
    )
    assert scalar(database, "SELECT count(*) FROM information_schema.views WHERE table_name = 'current_premium_rates'") == 1


def test_reapply_is_a_noop(database, migrations):
    first = apply_migrations(database, migrations)
    insert_policy(database, 7)

    second = apply_migrations(database, migrations)

    assert second.newly_applied == []
    assert second.applied == first.applied  # same rows, same applied_at
    assert scalar(database, "SELECT count(*) FROM policies") == 1


def test_only_pending_migrations_run(database, migrations):
    apply_migrations(database, migrations[:2])
    assert "blockchain_events" not in tables(database)

    run = apply_migrations(database, migrations)

    assert run.newly_applied == [m.name for m in migrations[2:]]
    assert [row.version for row in applied_migrations(database)] == [1, 2, 3, 4]


def test_every_migration_file_is_idempotent(database, migrations):
    """The guide promises idempotent files: running each one again by hand must not fail."""
    apply_migrations(database, migrations)
    with psycopg.connect(database) as conn:
        for migration in migrations:
            for statement in split_statements(migration.sql):
                conn.execute(statement.text)
    assert scalar(database, "SELECT count(*) FROM tranches") == 6


def test_failing_migration_is_rolled_back_and_named(database, migrations):
    with pytest.raises(MigrationFailedError) as failure:
        apply_migrations(database, [*migrations, BROKEN])

    message = str(failure.value)
    assert "005_broken.sql" in message
    assert "statement 3 (line 4)" in message
    assert "INSERT INTO audit_log VALUES (1)" in message
    assert "duplicate key" in message
    assert "tonsurance_app@127.0.0.1" in message  # which database: an operator may run against several
    assert "audit_log" not in tables(database)  # its first two statements were undone too
    assert [row.version for row in applied_migrations(database)] == [1, 2, 3, 4]


def test_failing_migration_leaves_existing_data_as_it_was(database, migrations):
    apply_migrations(database, migrations)
    insert_policy(database, 1)
    insert_policy(database, 2)
    breaking = Migration.from_sql(
        "005_policy_fee.sql",
        "ALTER TABLE policies ADD COLUMN fee NUMERIC(39, 0);\n"
        "UPDATE policies SET premium = premium * 2;\n"
        "UPDATE policies SET fee = premium / (policy_id - 2);\n",  # division by zero on policy 2
    )

    with pytest.raises(MigrationFailedError, match=r"005_policy_fee.sql .* statement 3 \(line 3\).*division by zero") \
            as failure:
        apply_migrations(database, [*migrations, breaking])
    # Not in one transaction: the message says what stays applied, never that the whole run was undone.
    assert str(failure.value).endswith("005_policy_fee.sql was rolled back; migrations before it stay applied")

    assert scalar(database, "SELECT count(*) FROM information_schema.columns WHERE column_name = 'fee'") == 0
    assert scalar(database, "SELECT sum(premium) FROM policies") == 10000
    assert [row.version for row in applied_migrations(database)] == [1, 2, 3, 4]


def test_single_transaction_mode_rolls_back_the_whole_run(database, migrations):
    with pytest.raises(MigrationFailedError, match="whole run was rolled back") as failure:
        apply_migrations(database, [*migrations, BROKEN], single_transaction=True)

    assert "005_broken.sql" in str(failure.value) and "tonsurance_app@127.0.0.1" in str(failure.value)
    assert tables(database) == {"schema_migrations"}
    assert applied_migrations(database) == []

    run = apply_migrations(database, migrations, single_transaction=True)
    assert run.newly_applied == [m.name for m in migrations]
    assert tables(database) == SCHEMA_TABLES


def test_changed_applied_migration_is_refused_naming_the_file(database, migrations):
    apply_migrations(database, migrations)
    edited = [
        Migration.from_sql(m.name, m.sql + "\nCREATE INDEX policies_chain_idx ON policies (chain);\n")
        if m.version == 2 else m
        for m in migrations
    ]
    new = Migration.from_sql("005_new_table.sql", "CREATE TABLE claims (id int);")

    with pytest.raises(ChecksumDriftError, match=r"migrations/002_add_multi_dimensional_coverage\.sql changed after it was applied") \
            as refused:
        apply_migrations(database, [*edited, new])
    # It names the database and says what to do.
    assert "tonsurance_app@127.0.0.1" in str(refused.value)
    assert "restore the file" in str(refused.value) and "new migration" in str(refused.value)

    assert "claims" not in tables(database)  # refused before running anything
    assert [row.version for row in applied_migrations(database)] == [1, 2, 3, 4]


def test_database_ahead_of_the_migration_set_is_refused(database, migrations):
    apply_migrations(database, migrations)

    with pytest.raises(ChecksumDriftError, match=r"004_add_dynamic_pricing\.sql applied, but it is not in the migration set") \
            as refused:
        apply_migrations(database, migrations[:3])
    assert "tonsurance_app@127.0.0.1" in str(refused.value)
    assert "older checkout" in str(refused.value) and "refusing to run" in str(refused.value)


def test_concurrent_runs_apply_each_migration_once(database, migrations):
    # Slow enough that, without the advisory lock, both runs would be inside it at the same time.
    slow = Migration.from_sql(
        "005_slow.sql",
        "CREATE TABLE runs (n int);\nSELECT pg_sleep(1);\nINSERT INTO runs VALUES (1);\n",
    )
    start = threading.Barrier(2)
    results, errors = [], []

    def run() -> None:
        start.wait()
        try:
            results.append(apply_migrations(database, [*migrations, slow]))
        except Exception as error:  # collected for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(len(r.newly_applied) for r in results) == [0, 5]
    assert scalar(database, "SELECT count(*) FROM runs") == 1
    assert scalar(database, "SELECT count(*) FROM schema_migrations") == 5


def test_a_run_gives_up_when_the_lock_is_held_too_long(database, migrations):
    with psycopg.connect(database, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        with pytest.raises(MigrationError, match="another migration run has held the migration lock") as waited:
            apply_migrations(database, migrations, lock_timeout_seconds=1)
    assert "tonsurance_app@127.0.0.1" in str(waited.value) and "for over 1s" in str(waited.value)
    assert applied_migrations(database) == []


def test_timescaledb_required_but_absent_is_an_error_before_anything_runs(database, migrations):
    with pytest.raises(TimescaleRequiredError, match="TimescaleDB is required") as failure:
        apply_migrations(database, migrations, timescaledb_required=True)

    message = str(failure.value)
    assert "tonsurance_app@127.0.0.1" in message
    # What to do (install it, or the key that turns the requirement off), and that nothing ran.
    assert "install TimescaleDB on the server" in message and "timescaledb_required" in message
    assert "Nothing was applied" in message
    assert tables(database) == set()


def test_each_migration_records_how_long_it_ran(database, migrations):
    """duration_ms is what operators read to plan a migration window: a 0.3 s migration is recorded as at least
    300 ms and never as more than the whole run took."""
    slow = Migration.from_sql("005_slow.sql", "SELECT pg_sleep(0.3);")
    apply_migrations(database, migrations)
    started = time.monotonic()
    run = apply_migrations(database, [*migrations, slow])
    elapsed_ms = (time.monotonic() - started) * 1000

    assert 300 <= run.applied[-1].duration_ms <= elapsed_ms + 1


def test_a_migration_file_name_that_does_not_give_a_version_is_refused_naming_it():
    for name in ("5_short.sql", "005-dash.sql", "005_Upper.sql", "005_name.txt"):
        with pytest.raises(ValueError, match=re.escape(repr(name))):
            Migration.from_sql(name, "SELECT 1;")
    assert Migration.from_sql("012_add_claims.sql", "SELECT 1;").version == 12


def test_a_migration_read_back_from_state_is_the_same_migration(migrations):
    """Pulumi hands numbers back as floats: the version must come back an int, so the set and its checksum match."""
    for migration in migrations:
        from_state = {**migration.as_input(), "version": float(migration.version)}
        assert Migration.from_input(from_state) == migration
        assert type(Migration.from_input(from_state).version) is int


def test_an_inconsistent_migration_set_is_refused_before_any_database_is_touched(migrations):
    first, second = migrations[0], migrations[1]
    with pytest.raises(ValueError, match="empty"):
        validate_migration_set([])
    clash = Migration.from_sql(f"{first.version:03d}_other.sql", "SELECT 1;")
    with pytest.raises(ValueError, match="unique") as duplicate:
        validate_migration_set([first, clash, second])
    assert first.name in str(duplicate.value) and clash.name in str(duplicate.value)
    assert second.name not in str(duplicate.value)
    with pytest.raises(ValueError, match="version order"):
        validate_migration_set([second, first])
    tampered = Migration(second.version, second.name, second.sha256, second.sql + "DROP TABLE policies;")
    with pytest.raises(ValueError, match=re.escape(second.name)):
        validate_migration_set([first, tampered])
    validate_migration_set(migrations)   # the real set passes


def test_the_set_checksum_changes_with_any_migration_added_renamed_or_edited(migrations):
    checksum = migration_set_checksum(migrations)
    assert checksum == migration_set_checksum(list(migrations))
    renamed = Migration.from_sql(migrations[-1].name.replace(".sql", "_v2.sql"), migrations[-1].sql)
    edited = Migration.from_sql(migrations[-1].name, migrations[-1].sql + "\n-- edited\n")
    renumbered = Migration.from_sql("099" + migrations[-1].name[3:], migrations[-1].sql)
    variants = [migrations[:-1], [*migrations[:-1], renamed], [*migrations[:-1], edited],
                [*migrations[:-1], renumbered], [*migrations, Migration.from_sql("099_more.sql", "SELECT 1;")]]
    assert len({checksum, *(migration_set_checksum(v) for v in variants)}) == 1 + len(variants)


def test_pending_is_every_migration_not_applied_in_order(migrations):
    assert pending_migrations(migrations, set()) == migrations
    assert pending_migrations(migrations, {1, 3}) == [m for m in migrations if m.version not in (1, 3)]
    assert pending_migrations(migrations, {m.version for m in migrations}) == []
