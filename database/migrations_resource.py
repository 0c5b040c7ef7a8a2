"""`SqlMigrations`: the schema of a PostgreSQL database as a Pulumi resource.

Preview lists the migrations that would run (the new entries of `migrations`); `up` applies them
through database.migrations (advisory lock, one transaction each or one for all, drift refusal).
`refresh` reads `schema_migrations` back, so a database restored to an older backup shows its
pending migrations again. Deleting the resource never drops anything.

The provider holds no state: every method builds its connection from the inputs, so it pickles.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

from database.dsn import describe, same_target
from database.migrations import (
    Migration,
    MigrationRun,
    applied_migrations,
    apply_migrations,
    pending_migrations,
    validate_migration_set,
)
from resource_types import SQL_MIGRATIONS, dynamic_type


@dataclass(frozen=True)
class SqlMigrationsArgs:
    dsn: pulumi.Input[str]  # made a secret by the resource
    migrations: list[Migration]
    single_transaction: bool = False  # mainnet: all pending migrations commit or none does
    timescaledb_required: bool = False  # testnet/mainnet: refuse a server without TimescaleDB
    backup_id: pulumi.Input[str] | None = None  # the verified backup this run depends on, if any


class SqlMigrationsProvider(ResourceProvider):
    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        if not news.get("dsn"):
            failures.append(CheckFailure("dsn", "a PostgreSQL DSN is required"))
        try:
            migrations = _migrations(news)
            validate_migration_set(migrations)
        except (KeyError, TypeError, ValueError) as error:
            failures.append(CheckFailure("", str(error)))
        else:
            failures += _changed_since_applied(olds, migrations)
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        applied = {int(row["version"]) for row in olds.get("applied") or []}
        pending = pending_migrations(_migrations(news), applied)
        retarget = not same_target(olds.get("dsn"), news.get("dsn")) or \
            olds.get("timescaledb_required") != news.get("timescaledb_required")
        return DiffResult(changes=bool(pending) or retarget, replaces=[], stables=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(describe(props["dsn"]), _outputs(props, _apply(props)))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(_outputs(news, _apply(news)))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        applied = [row.as_output() for row in applied_migrations(props["dsn"])]
        return ReadResult(id_, {**props, "applied": applied, "schema_version": _schema_version(applied)})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Removing the resource from the stack leaves the schema and its data in place."""


class SqlMigrations(Resource, **dynamic_type(SQL_MIGRATIONS)):
    applied: pulumi.Output[list]
    schema_version: pulumi.Output[int]
    timescaledb: pulumi.Output[bool]
    database: pulumi.Output[str]

    def __init__(self, name: str, args: SqlMigrationsArgs, opts: pulumi.ResourceOptions | None = None):
        props = {
            "dsn": pulumi.Output.secret(args.dsn),
            "migrations": [m.as_input() for m in args.migrations],
            "single_transaction": args.single_transaction,
            "timescaledb_required": args.timescaledb_required,
            "backup_id": args.backup_id,
            "applied": None,
            "schema_version": None,
            "timescaledb": None,
            "database": None,
        }
        secret_dsn = pulumi.ResourceOptions(additional_secret_outputs=["dsn"])
        super().__init__(SqlMigrationsProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret_dsn))


def _migrations(props: dict[str, Any]) -> list[Migration]:
    return [Migration.from_input(value) for value in props["migrations"]]


def _changed_since_applied(olds: dict[str, Any], migrations: list[Migration]) -> list[CheckFailure]:
    """Fail the preview when a migration recorded in the stack's state was edited since.

    The failures name no property: the engine would print the property's whole value (all the SQL).
    """
    previous = {m.version: m for m in _migrations(olds)} if olds.get("migrations") else {}
    return [
        CheckFailure(
            "",
            f"migrations/{m.name} changed after it was applied (sha256 {previous[m.version].sha256[:12]} -> "
            f"{m.sha256[:12]}); applied migrations are immutable: restore the file and add a new migration",
        )
        for m in migrations
        if m.version in previous and previous[m.version].sha256 != m.sha256
    ]


def _apply(props: dict[str, Any]) -> MigrationRun:
    return apply_migrations(
        props["dsn"],
        _migrations(props),
        single_transaction=bool(props.get("single_transaction")),
        timescaledb_required=bool(props.get("timescaledb_required")),
    )


def _outputs(props: dict[str, Any], run: MigrationRun) -> dict[str, Any]:
    applied = [row.as_output() for row in run.applied]
    return {
        **props,
        "applied": applied,
        "schema_version": _schema_version(applied),
        "timescaledb": run.timescaledb,
        "database": describe(props["dsn"]),
    }


def _schema_version(applied: list[dict]) -> int:
    return max((int(row["version"]) for row in applied), default=0)
