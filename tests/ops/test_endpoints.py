"""Preflight's database and Redis checks (ops/endpoints.py) against real servers on 127.0.0.1 with TLS: a
PostgreSQL 15 (scripts/postgres.sh) and a redis-server with a tls-port, both presenting a certificate of a
test CA made here (tests/tls.py); the `redis-url` and `database-url` secrets in Secrets Manager served by
moto; and libpq's PGSSLMODE/PGSSLROOTCERT, which the pods get (components/services/database_tls.py)."""
from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from ops.checks import run_check
from components.services.database_tls import CA_PATH
from ops.endpoints import database_answers, database_url_secret, ping_redis, redis_answers
from tests.moto_server import aws_env, moto_endpoint, secrets_manager  # noqa: F401
from tests.support import parse, raw_config, wait_until
from tests.tls import Pki, make_pki

ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = Path("/usr/bin/redis-server")
ROLE = "preflight_app"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclasses.dataclass(frozen=True)
class TlsPostgres:
    data_dir: Path
    port: int
    password: str
    pki: Pki

    def superuser(self) -> psycopg.Connection:
        return psycopg.connect(make_conninfo(host=str(self.data_dir), port=self.port, user="postgres", dbname="postgres"),
                               autocommit=True)

    def install(self, pki: Pki) -> None:
        """Serve `pki`'s server certificate (the server's owner must own its key, mode 0600)."""
        for source, name in ((pki.server_cert, "server.crt"), (pki.server_key, "server.key")):
            target = self.data_dir / name
            shutil.copy(source, target)
            target.chmod(0o600)
            if os.geteuid() == 0:
                shutil.chown(target, "postgres", "postgres")

    def set_ssl(self, on: bool) -> None:
        with self.superuser() as conn:
            conn.execute(f"ALTER SYSTEM SET ssl = {'on' if on else 'off'}")
            conn.execute("SELECT pg_reload_conf()")


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"), "endpoint")


@pytest.fixture(scope="module")
def tls_postgres(pki) -> TlsPostgres:
    """A PostgreSQL server with ssl=on and the test CA's server certificate, a role with a password."""
    data_dir, port = Path(tempfile.mkdtemp(prefix="tonsurance-pg-tls-")), free_port()
    subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "start", str(data_dir), str(port)], check=True,
                   env={**os.environ, "POSTGRES_EXTRA_OPTS": "-c fsync=off"})
    server = TlsPostgres(data_dir, port, secrets.token_urlsafe(18), pki)
    try:
        server.install(pki)
        with server.superuser() as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(ROLE),
                                                                             sql.Literal(server.password)))
        server.set_ssl(True)
        yield server
    finally:
        subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "stop", str(data_dir)], check=True)
        shutil.rmtree(data_dir, ignore_errors=True)


def config_for(host: str, port: int, password: str, ca: Path | str, **database) -> object:
    return parse(raw_config("testnet", databasePassword=password, database=json.dumps(
        {"host": host, "port": port, "name": "postgres", "user": ROLE, "sslRootCert": str(ca), **database})))


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_the_database_answers_over_verified_tls_with_the_right_ca(tls_postgres, host):
    cfg = config_for(host, tls_postgres.port, tls_postgres.password, tls_postgres.pki.ca_cert)
    passed, detail = database_answers(cfg)
    assert passed, detail
    assert detail.startswith(f"PostgreSQL at {host}:{tls_postgres.port} answers SELECT 1 over TLSv1.")
    assert "sslmode=verify-full" in detail and tls_postgres.password not in detail


def test_a_server_certificate_of_another_ca_fails_naming_the_server(tls_postgres, tmp_path):
    other = make_pki(tmp_path, "impostor")
    cfg = config_for("127.0.0.1", tls_postgres.port, tls_postgres.password, other.ca_cert)
    passed, detail = database_answers(cfg)
    assert not passed
    assert f"PostgreSQL at 127.0.0.1:{tls_postgres.port} does not answer (sslmode=verify-full)" in detail
    assert "certificate verify failed" in detail and tls_postgres.password not in detail


def test_a_certificate_that_does_not_name_the_host_fails(tls_postgres, tmp_path):
    elsewhere = make_pki(tmp_path, "elsewhere", names=("db.elsewhere.test",))  # a trusted CA, another host's name
    tls_postgres.install(elsewhere)
    tls_postgres.set_ssl(True)  # reloads the certificate
    try:
        cfg = config_for("127.0.0.1", tls_postgres.port, tls_postgres.password, elsewhere.ca_cert)
        passed, detail = database_answers(cfg)
        assert not passed and f"127.0.0.1:{tls_postgres.port}" in detail
        assert 'does not match host name "127.0.0.1"' in detail
        # verify-ca (allowed on localnet only) trusts the chain alone: the same server passes it
        local = parse(raw_config(databasePassword=tls_postgres.password, database=json.dumps(
            {"host": "127.0.0.1", "port": tls_postgres.port, "name": "postgres", "user": ROLE,
             "sslMode": "verify-ca", "sslRootCert": str(elsewhere.ca_cert)})))
        assert database_answers(local)[0]
    finally:
        tls_postgres.install(tls_postgres.pki)
        tls_postgres.set_ssl(True)
    assert database_answers(config_for("127.0.0.1", tls_postgres.port, tls_postgres.password, tls_postgres.pki.ca_cert))[0]


def test_a_server_with_tls_off_fails(tls_postgres):
    tls_postgres.set_ssl(False)
    try:
        cfg = config_for("127.0.0.1", tls_postgres.port, tls_postgres.password, tls_postgres.pki.ca_cert)
        passed, detail = database_answers(cfg)
        assert not passed and "server does not support SSL" in detail
    finally:
        tls_postgres.set_ssl(True)
    assert database_answers(cfg)[0]  # the same config passes once TLS is back on


def test_an_unreachable_port_and_a_wrong_password_fail_without_the_password(tls_postgres):
    closed = free_port()
    cfg = config_for("127.0.0.1", closed, tls_postgres.password, tls_postgres.pki.ca_cert)
    passed, detail = database_answers(cfg)
    assert not passed and f"PostgreSQL at 127.0.0.1:{closed} does not answer" in detail
    assert "Connection refused" in detail and tls_postgres.password not in detail
    wrong = "a-wrong-password-1234"
    passed, detail = database_answers(config_for("127.0.0.1", tls_postgres.port, wrong, tls_postgres.pki.ca_cert))
    assert not passed and "password authentication failed" in detail and wrong not in detail


def test_a_local_socket_passes_without_tls(tls_postgres):
    cfg = parse(raw_config(databasePassword=None))  # the local stack: its server's socket directory, no password
    local = dataclasses.replace(cfg, database=dataclasses.replace(
        cfg.database, host=str(tls_postgres.data_dir), port=tls_postgres.port, name="postgres", user="postgres"))
    passed, detail = database_answers(local)
    assert passed and detail == f"PostgreSQL at {tls_postgres.data_dir} answers SELECT 1 without TLS (local)"


# ---- Redis ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def redis_tls(pki, tmp_path_factory):
    """redis-server with TLS only (port 0, tls-port) and a password: yields (port, password)."""
    if not REDIS_SERVER.exists():
        pytest.fail(f"{REDIS_SERVER} not found: scripts/bootstrap installs the Debian package redis-server",
                    pytrace=False)
    port, password = free_port(), secrets.token_urlsafe(18)
    work = tmp_path_factory.mktemp("redis-tls")
    server = subprocess.Popen(
        [str(REDIS_SERVER), "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(pki.server_cert), "--tls-key-file", str(pki.server_key),
         "--tls-ca-cert-file", str(pki.ca_cert), "--tls-auth-clients", "no", "--requirepass", password,
         "--dir", str(work), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: ping_redis(f"rediss://:{password}@127.0.0.1:{port}", "testnet", str(pki.ca_cert))[0],
                   timeout=60, what="redis-server with TLS to answer PING")
        yield port, password
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def redis_plain(tmp_path_factory):
    """redis-server without TLS: yields its port."""
    port = free_port()
    server = subprocess.Popen([str(REDIS_SERVER), "--port", str(port), "--bind", "127.0.0.1", "--dir",
                               str(tmp_path_factory.mktemp("redis-plain")), "--save", "", "--appendonly", "no"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: ping_redis(f"redis://127.0.0.1:{port}", "localnet", None)[0], timeout=60,
                   what="redis-server to answer PING")
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_redis_answers_ping_over_tls_with_the_right_ca(redis_tls, pki):
    port, password = redis_tls
    passed, detail = ping_redis(f"rediss://:{password}@localhost:{port}", "mainnet", str(pki.ca_cert))
    assert (passed, detail) == (True, f"Redis at localhost:{port} answers PING over TLSv1.3")


def test_redis_failures_are_named_and_never_show_the_password(redis_tls, redis_plain, pki, tmp_path):
    port, password = redis_tls
    url = f"rediss://:{password}@127.0.0.1:{port}"
    failures = {
        "another CA": ping_redis(url, "testnet", str(make_pki(tmp_path, "impostor").ca_cert)),
        "the system CAs": ping_redis(url, "testnet", None),
        "a wrong password": ping_redis(f"rediss://:not-{password}@127.0.0.1:{port}", "testnet", str(pki.ca_cert)),
        "no TLS at the server": ping_redis(f"rediss://:{password}@127.0.0.1:{redis_plain}", "testnet", str(pki.ca_cert)),
        "plain redis:// on testnet": ping_redis(f"redis://:{password}@127.0.0.1:{redis_plain}", "testnet", None),
        "an unreachable port": ping_redis(f"rediss://:{password}@127.0.0.1:{free_port()}", "testnet", str(pki.ca_cert)),
        "not a redis URL": ping_redis(f"https://:{password}@127.0.0.1:{port}", "testnet", str(pki.ca_cert)),
    }
    assert all(not passed and password not in detail for passed, detail in failures.values()), failures
    assert failures["another CA"][1].startswith(f"Redis at 127.0.0.1:{port}: TLS certificate not trusted (")
    assert "CA: the system CAs" in failures["the system CAs"][1]
    assert f"Redis at 127.0.0.1:{port} refused: WRONGPASS" in failures["a wrong password"][1]
    assert "TLS handshake failed" in failures["no TLS at the server"][1]
    assert "is redis:// (plain text) on testnet" in failures["plain redis:// on testnet"][1]
    assert "cannot connect (Connection refused)" in failures["an unreachable port"][1]
    assert failures["not a redis URL"][1] == "redis-url must be rediss://[:password@]host:port"
    # localnet may use a plain Redis
    assert ping_redis(f"redis://127.0.0.1:{redis_plain}", "localnet", None) == (
        True, f"Redis at 127.0.0.1:{redis_plain} answers PING without TLS (local)")


def test_preflight_reads_the_redis_url_secret_and_pings_it(redis_tls, pki, aws_env):  # noqa: F811
    port, password = redis_tls
    cfg = parse(raw_config("testnet", services=json.dumps({**json.loads(raw_config("testnet")["services"]),
                                                           "redisCaCert": str(pki.ca_cert)})),
                stack=f"preflight-{uuid.uuid4().hex[:8]}")  # its own secret on the session's moto server
    check = run_check("redis", lambda: redis_answers(cfg))
    assert not check.ok and "ResourceNotFoundException" in check.detail  # no secret yet: named, failed
    client = secrets_manager()
    client.create_secret(Name=f"tonsurance/{cfg.stack}/redis-url", SecretString=f"redis://:{password}@127.0.0.1:{port}")
    check = run_check("redis", lambda: redis_answers(cfg))
    assert not check.ok and "is redis:// (plain text) on testnet" in check.detail and password not in check.detail
    client.put_secret_value(SecretId=f"tonsurance/{cfg.stack}/redis-url",
                            SecretString=f"rediss://:{password}@127.0.0.1:{port}")
    check = run_check("redis", lambda: redis_answers(cfg))
    assert check.ok and check.detail == f"Redis at 127.0.0.1:{port} answers PING over TLSv1.3"


def test_an_in_cluster_redis_is_skipped_with_the_reason():
    check = run_check("redis", lambda: redis_answers(parse(raw_config())))
    assert check.skipped and check.status == "SKIP" and "services.redis: in-cluster" in check.detail


# ---- what the pods get: PGSSLMODE/PGSSLROOTCERT, and the database-url secret that must not override them --------

def server_tls_version(dsn: str) -> str | None:
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        row = conn.execute("SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl").fetchone()
    return row[0] if row else None


def test_libpq_takes_the_pods_tls_variables_unless_the_dsn_overrides_them(tls_postgres, monkeypatch, tmp_path):
    """The pods' mechanism on the real libpq: a DSN without sslmode is verified against PGSSLROOTCERT; an
    explicit sslmode in the DSN wins (why preflight refuses one in database-url)."""
    dsn = f"postgresql://{ROLE}:{tls_postgres.password}@127.0.0.1:{tls_postgres.port}/postgres"
    monkeypatch.setenv("PGSSLMODE", "verify-full")
    monkeypatch.setenv("PGSSLROOTCERT", str(tls_postgres.pki.ca_cert))
    assert server_tls_version(dsn).startswith("TLSv1.")
    monkeypatch.setenv("PGSSLROOTCERT", str(make_pki(tmp_path, "impostor").ca_cert))
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        server_tls_version(dsn)
    assert server_tls_version(dsn + "?sslmode=disable") is None  # the DSN's own mode overrides the variables


@pytest.fixture
def stored_dsn(aws_env):  # noqa: F811
    """Set the stack's database-url secret (on moto) and run the preflight check on it."""
    cfg = parse(raw_config("testnet"), stack=f"preflight-{uuid.uuid4().hex[:8]}")
    client, secret = secrets_manager(), f"tonsurance/{cfg.stack}/database-url"
    client.create_secret(Name=secret)

    def check(value: str):
        client.put_secret_value(SecretId=secret, SecretString=value)
        return run_check("database url", lambda: database_url_secret(cfg))
    return check


def test_the_database_url_secret_must_name_the_server_and_keep_verify_full(stored_dsn):
    password = "pw-" + secrets.token_hex(8)  # pragma: allowlist secret (made here)
    url = f"postgresql://tonsurance:{password}@127.0.0.1:5432/tonsurance"
    good = stored_dsn(url)
    assert good.ok and good.detail.endswith("names 127.0.0.1, TLS from the pods' PGSSLMODE=verify-full")
    assert stored_dsn(url + "?sslmode=verify-full").ok
    assert stored_dsn(url + f"?sslmode=verify-full&sslrootcert={CA_PATH}").ok
    weaker = stored_dsn(url + "?sslmode=require")
    assert not weaker.ok and "sets sslmode=require, which overrides the pods' PGSSLMODE=verify-full" in weaker.detail
    elsewhere = stored_dsn(url + "?sslrootcert=/etc/ssl/other.pem")
    assert not elsewhere.ok and f"the pods' CA bundle is at {CA_PATH}" in elsewhere.detail
    other = stored_dsn(url.replace("127.0.0.1", "old-db.internal"))
    assert not other.ok and "names host 'old-db.internal', not tonsurance:database.host '127.0.0.1'" in other.detail
    garbage = stored_dsn(f"host=127.0.0.1 password='{password}")
    assert not garbage.ok and "not a valid PostgreSQL connection string" in garbage.detail
    assert all(password not in c.detail for c in (good, weaker, elsewhere, other, garbage))
