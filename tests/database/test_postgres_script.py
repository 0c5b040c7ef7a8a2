"""scripts/postgres.sh: idempotent start/stop and clear failures."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

from tests.database.conftest import SCRIPT


def script(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=120)


def test_start_is_idempotent_and_creates_the_database(postgres):
    result = script("start", str(postgres.data_dir), str(postgres.port), "tonsurance_local")
    assert result.returncode == 0, result.stderr
    again = script("start", str(postgres.data_dir), str(postgres.port), "tonsurance_local")
    assert again.returncode == 0, again.stderr
    with psycopg.connect(postgres.superuser_dsn("tonsurance_local")) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == "tonsurance_local"


def test_start_refuses_a_running_server_on_another_port(postgres):
    result = script("start", str(postgres.data_dir), str(postgres.port + 1))
    assert result.returncode == 1
    assert f"already running on port {postgres.port}, not {postgres.port + 1}" in result.stderr


def test_missing_server_binaries_say_how_to_install_them(tmp_path):
    result = script("start", str(tmp_path / "data"), "55999", PG_VERSION="99")
    assert result.returncode == 1
    assert "PostgreSQL 99 server binaries not found" in result.stderr
    assert "run scripts/postgres.sh install" in result.stderr


def test_bad_arguments_are_refused_before_touching_anything(tmp_path):
    assert "PORT must be a number" in script("start", str(tmp_path / "d"), "5432; rm -rf /").stderr
    assert "DBNAME must be a lowercase identifier" in script("start", str(tmp_path / "d"), "5432", "x'; DROP").stderr
    assert not (tmp_path / "d").exists()
    assert script("bogus").returncode == 1


def test_stop_of_a_directory_without_a_server_is_a_noop(tmp_path):
    assert script("stop", str(tmp_path / "never-started")).returncode == 0


def test_a_port_taken_by_another_process_is_refused_naming_it(postgres):
    # A second data directory asked to start on the running server's port: the error names the holder.
    base = Path(tempfile.mkdtemp(prefix="tonsurance-pg-"))
    base.chmod(0o755)  # the postgres user must reach the data directory (pytest's tmp_path is private)
    try:
        result = script("start", str(base / "other"), str(postgres.port))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert result.returncode == 1
    assert f"port {postgres.port} is taken by pid " in result.stderr
    assert "postgres" in result.stderr.split("taken by", 1)[1]
