"""The `local` stack's PostgreSQL: a private server under .state/postgres on a fixed loopback port.

`scripts/postgres.sh start .state/postgres 55432 tonsurance` starts it (this module's
`start_local_server` runs exactly that). The DSN reaches the server through its Unix socket in the
data directory, where only the owner of the work tree can connect, so it needs no password.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

from psycopg.conninfo import make_conninfo

LOCAL_PORT = 55432
LOCAL_DATABASE = "tonsurance"
_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "postgres.sh"


def local_data_dir(project_root: str | Path) -> Path:
    return Path(project_root).resolve() / ".state" / "postgres"


def local_dsn(project_root: str | Path) -> str:
    return make_conninfo(host=str(local_data_dir(project_root)), port=LOCAL_PORT, user="postgres", dbname=LOCAL_DATABASE)


def start_local_server(project_root: str | Path) -> str:
    """Start the server if it is not running, create the database if missing; return the DSN."""
    subprocess.run(
        [str(_SCRIPT), "start", str(local_data_dir(project_root)), str(LOCAL_PORT), LOCAL_DATABASE], check=True
    )
    return local_dsn(project_root)
