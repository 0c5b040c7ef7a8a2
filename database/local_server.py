"""The `local` stack's PostgreSQL: a private server under .state/postgres on the checkout's own loopback port.

The port is chosen free once and recorded in `.state/ports.json` (localcluster/ports.py), so two checkouts
never collide; `make up` and this module's `start_local_server` run
`scripts/postgres.sh start .state/postgres <that port> tonsurance`. The DSN reaches the server through its Unix socket in the
data directory, where only the owner of the work tree can connect, so it needs no password.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

from psycopg.conninfo import make_conninfo

from localcluster.ports import recorded_port

LOCAL_DATABASE = "tonsurance"
_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "postgres.sh"


def local_data_dir(project_root: str | Path) -> Path:
    return Path(project_root).resolve() / ".state" / "postgres"


def local_port(project_root: str | Path) -> int:
    return recorded_port(Path(project_root).resolve() / ".state", "postgres")


def local_dsn(project_root: str | Path) -> str:
    return make_conninfo(host=str(local_data_dir(project_root)), port=local_port(project_root), user="postgres",
                         dbname=LOCAL_DATABASE)


def start_local_server(project_root: str | Path) -> str:
    """Start the server if it is not running, create the database if missing; return the DSN."""
    subprocess.run(
        [str(_SCRIPT), "start", str(local_data_dir(project_root)), str(local_port(project_root)), LOCAL_DATABASE],
        check=True
    )
    return local_dsn(project_root)
