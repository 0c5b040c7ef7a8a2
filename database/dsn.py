"""PostgreSQL connection strings: connect, describe and hand to libpq tools without leaking the password.

A DSN carries a password, so it is a secret. Everything a user can see (exception messages, logs,
resource ids, process arguments) uses `describe(dsn)` instead: user, host, port and database only.
"""
from __future__ import annotations

import os

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo


class DatabaseConnectionError(Exception):
    """The database could not be reached or refused the credentials (message free of secrets)."""


class InvalidDsnError(ValueError):
    """The DSN could not be parsed (the message never repeats the DSN: it may hold a password)."""


def parse(dsn: str) -> dict[str, str]:
    try:
        return {key: str(value) for key, value in conninfo_to_dict(dsn).items()}
    except psycopg.ProgrammingError:
        # libpq's message quotes the offending part of the string, which may be the password.
        raise InvalidDsnError("the database DSN is not a valid PostgreSQL connection string") from None


def describe(dsn: str) -> str:
    """`user@host:port/dbname`, the part of a DSN that is safe to show."""
    params = parse(dsn)
    user = params.get("user") or os.environ.get("PGUSER") or "(default user)"
    host = params.get("host") or params.get("hostaddr") or "(default host)"
    port = params.get("port") or "5432"
    dbname = params.get("dbname") or user
    return f"{user}@{host}:{port}/{dbname}"


def scrub(text: str, dsn: str) -> str:
    """Remove the DSN and its password from a message that may quote them."""
    password = _password(dsn)
    text = text.replace(dsn, describe(dsn))
    if password:
        text = text.replace(password, "***")
    return text


def same_target(old: str | None, new: str | None) -> bool:
    """True when two DSNs reach the same database the same way: equal but for the CA bundle's path
    (`sslrootcert` is a file on the machine running `pulumi up`, another operator's checkout has another
    path), so that an update from another machine neither retargets migrations nor takes a backup."""
    if old is None or new is None:
        return old == new
    try:
        return {k: v for k, v in parse(old).items() if k != "sslrootcert"} == \
            {k: v for k, v in parse(new).items() if k != "sslrootcert"}
    except InvalidDsnError:
        return old == new


def with_database(dsn: str, dbname: str) -> str:
    """The same server and credentials, another database."""
    return make_conninfo(**{**parse(dsn), "dbname": dbname})


def connect(dsn: str, *, autocommit: bool = False) -> psycopg.Connection:
    try:
        return psycopg.connect(dsn, autocommit=autocommit, connect_timeout=15)
    except psycopg.OperationalError as error:
        reason = scrub(str(error).strip(), dsn)
        raise DatabaseConnectionError(f"cannot connect to PostgreSQL as {describe(dsn)}: {reason}") from None


def libpq_command_target(dsn: str) -> tuple[str, dict[str, str]]:
    """(conninfo without password, environment with PGPASSWORD) for pg_dump / pg_restore.

    The password travels in the child's environment, not on its command line (visible in `ps`); the rest of
    that environment is minimal (database/child_env.py).
    """
    from database.child_env import LIBPQ, minimal_env

    params = parse(dsn)
    password = params.pop("password", None)
    return make_conninfo(**params), minimal_env(LIBPQ, {"PGPASSWORD": password} if password else None)


def _password(dsn: str) -> str | None:
    try:
        return parse(dsn).get("password")
    except InvalidDsnError:
        return None
