"""Preflight's reachability checks of the stack's external endpoints: the PostgreSQL server answers `SELECT 1`
over the TLS the config demands (verify-full with database.sslRootCert on testnet/mainnet); the secret
`database-url` the pods read names that server and does not weaken its TLS; the managed Redis answers PING
over TLS (its URL, the secret `redis-url`, must be rediss:// off localnet).

Neither message ever carries the password: PostgreSQL errors are scrubbed (database/dsn.py) and the Redis URL
is shown as host:port only. The Redis client is a few lines of RESP over the standard library's ssl module:
preflight needs AUTH and PING, nothing a client library would add.
"""
from __future__ import annotations

import socket
import ssl
from urllib.parse import unquote, urlsplit

from config import StackConfig

CONNECT_TIMEOUT_SECONDS = 5  # an endpoint that answers at all answers well within it


def database_answers(cfg: StackConfig) -> tuple[bool, str]:
    """Connect with the DSN the providers use (sslmode, sslrootcert included) and run SELECT 1."""
    import psycopg

    from database.dsn import scrub

    db, dsn = cfg.database, cfg.database.dsn()
    where = f"PostgreSQL at {db.host}" + (f":{db.port}" if not db.host.startswith((".", "/")) else "")
    try:
        with psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT_SECONDS) as conn:
            conn.execute("SELECT 1").fetchone()
            # The server's view of this connection (NULL over a socket or plain TCP).
            row = conn.execute("SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl").fetchone()
            protocol = row[0] if row else None
    except psycopg.Error as error:
        reason = " ".join(scrub(str(error), dsn).split())
        return False, f"{where} does not answer (sslmode={db.ssl_mode or 'libpq default'}): {reason}"
    if db.ssl_mode == "verify-full" and not protocol:  # libpq never allows this; a guard against a wrong DSN
        return False, f"{where} answered without TLS although sslmode is verify-full"
    how = f"over {protocol}, sslmode={db.ssl_mode}" if protocol else "without TLS (local)"
    return True, f"{where} answers SELECT 1 {how}"


def database_url_secret(cfg: StackConfig) -> tuple[bool, str]:
    """The `database-url` the pods read names the stack's database and does not weaken its TLS: the pods get
    PGSSLMODE and PGSSLROOTCERT (components/services/database_tls.py), which a DSN's own sslmode overrides."""
    from components.services.catalog import DATABASE_URL
    from components.services.database_tls import CA_PATH
    from database.dsn import parse
    from ops.checks import Skipped

    if cfg.services.secret_store != "aws":  # pragma: allowlist secret (config allows this on localnet only)
        raise Skipped(f"secret store is {cfg.services.secret_store!r}: no database-url to read")
    name = f"secret {_secret_id(cfg, DATABASE_URL.name)}"
    params = parse(_secret_value(cfg, DATABASE_URL.name))  # its errors never repeat the value
    problems = []
    if params.get("host") != cfg.database.host:
        problems.append(f"names host {params.get('host')!r}, not tonsurance:database.host {cfg.database.host!r}")
    wanted = cfg.database.ssl_mode
    if wanted and params.get("sslmode", wanted) != wanted:
        problems.append(f"sets sslmode={params['sslmode']}, which overrides the pods' PGSSLMODE={wanted}: "
                        f"remove it or set sslmode={wanted}")
    if cfg.database.ssl_root_cert and params.get("sslrootcert", CA_PATH) != CA_PATH:
        problems.append(f"sets sslrootcert={params['sslrootcert']}: the pods' CA bundle is at {CA_PATH} "
                        "(remove it from the DSN)")
    if problems:
        return False, f"{name} " + "; ".join(problems)
    tls = f", TLS from the pods' PGSSLMODE={wanted}" if wanted and "sslmode" not in params else \
        f", sslmode={wanted}" if wanted else ""
    return True, f"{name} names {cfg.database.host}{tls}"


def _secret_id(cfg: StackConfig, name: str) -> str:
    from components.services.catalog import secret_id

    return secret_id(cfg.stack, name)


def _secret_value(cfg: StackConfig, name: str) -> str:
    import boto3

    client = boto3.client("secretsmanager", region_name=cfg.services.aws_region)
    return client.get_secret_value(SecretId=_secret_id(cfg, name))["SecretString"].strip()


def redis_answers(cfg: StackConfig) -> tuple[bool, str]:
    """The managed Redis (its URL from Secrets Manager) answers PING; in-cluster Redis is not reachable from here."""
    from components.services.catalog import REDIS_URL
    from ops.checks import Skipped

    if cfg.services.redis_in_cluster:
        raise Skipped("Redis runs in the cluster (services.redis: in-cluster): not reachable from this machine")
    if cfg.services.secret_store != "aws":  # pragma: allowlist secret (config allows this on localnet only)
        raise Skipped(f"secret store is {cfg.services.secret_store!r}: no redis-url to read")
    return ping_redis(_secret_value(cfg, REDIS_URL.name), cfg.ton.network, cfg.services.redis_ca_cert)


def ping_redis(url: str, network: str, ca_file: str | None) -> tuple[bool, str]:
    """AUTH (when the URL has a password) and PING over TLS verified against `ca_file` (else the system's CAs)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or 6379
    except ValueError:
        return False, "redis-url is not a URL (rediss://[:password@]host:port)"  # never echoed: it holds the password
    if parts.scheme not in ("redis", "rediss") or not host:
        return False, "redis-url must be rediss://[:password@]host:port"
    where = f"Redis at {host}:{port}"
    if parts.scheme != "rediss" and network != "localnet":
        return False, (f"redis-url for {where} is redis:// (plain text) on {network}: set the secret to the TLS "
                       "endpoint, rediss://:<password>@host:port (docs/ops.md)")
    commands = []
    if parts.password:
        commands.append(["AUTH", *([unquote(parts.username)] if parts.username else []), unquote(parts.password)])
    commands.append(["PING"])
    try:
        raw = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_SECONDS)
    except socket.timeout:
        return False, f"{where}: no answer within {CONNECT_TIMEOUT_SECONDS} s"
    except OSError as error:
        return False, f"{where}: cannot connect ({error.strerror or error})"
    sock, protocol = raw, None
    try:
        if parts.scheme == "rediss":
            try:
                sock = ssl.create_default_context(cafile=ca_file).wrap_socket(raw, server_hostname=host)  # chain + name
            except ssl.SSLCertVerificationError as error:
                return False, (f"{where}: TLS certificate not trusted ({error.verify_message}; "
                               f"CA: {ca_file or 'the system CAs'})")
            except (ssl.SSLError, socket.timeout) as error:  # a plain server waits for a command: the handshake times out
                reason = getattr(error, "reason", None) or f"no handshake within {CONNECT_TIMEOUT_SECONDS} s"
                return False, f"{where}: TLS handshake failed ({reason}): is TLS on at that port?"
            protocol = sock.version()
        replies = _exchange(sock, commands)
    except socket.timeout:
        return False, f"{where}: no reply within {CONNECT_TIMEOUT_SECONDS} s"
    except OSError as error:
        return False, f"{where}: connection lost ({error.strerror or error})"
    finally:
        sock.close()
        raw.close()
    if replies[-1] != "+PONG":
        failed = next(r for r in replies if not r.startswith("+"))
        return False, f"{where} refused: {failed[1:] if failed.startswith('-') else 'connection closed'}"
    return True, f"{where} answers PING" + (f" over {protocol}" if protocol else " without TLS (local)")


def _exchange(sock: socket.socket, commands: list[list[str]]) -> list[str]:
    """Send RESP commands and read one status line each; stop at the first that is not +OK/+PONG."""
    replies = []
    with sock.makefile("rb") as answers:
        for command in commands:
            encoded = [arg.encode() for arg in command]
            sock.sendall(b"*%d\r\n" % len(encoded) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in encoded))
            reply = answers.readline().decode(errors="replace").strip()
            replies.append(reply)
            if not reply.startswith("+"):
                break
    return replies
