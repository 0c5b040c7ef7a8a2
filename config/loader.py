"""The stack's config as the program and the operator commands read it: the raw values (from the Pulumi
runtime, or a stack's decrypted config), parsed (config/parse.py), then checked against the files they
name. These probes are the only file reads of config/:

- the local stack's PostgreSQL port, from its server's postmaster.pid (`tonsurance:database` leaves the
  port unset: each checkout's server runs on a free port recorded in `.state/ports.json`);
- the local stack's Prometheus (the canary gates' `services.prometheusUrl` left unset): its port recorded in
  `.state/ports.json` by `make up`, with a server listening there;
- the liteserver config of testnet/mainnet: it must exist and be the stack's network's (chain/liteserver.py);
- the CA bundles of the database and Redis (`database.sslRootCert`, `services.redisCaCert`): readable PEM
  certificates;
- the secrets provider of Pulumi.<stack>.yaml (a KMS one on mainnet).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Mapping

from config.parse import parse_stack_config
from config.rules import check_secrets_provider
from config.services import PROMETHEUS_PORT_NAME
from config.types import NAMESPACE, ConfigError, StackConfig


def load_stack_config() -> StackConfig:
    """Read the `tonsurance:*` config of the running stack from the Pulumi runtime and validate it."""
    import pulumi
    from pulumi.runtime.config import CONFIG, get_config_env

    prefix = f"{NAMESPACE}:"
    merged = {**get_config_env(), **CONFIG.get()}
    raw = {k[len(prefix):]: v for k, v in merged.items() if k.startswith(prefix)}
    secret_keys = {k for k in raw if pulumi.runtime.is_config_secret(prefix + k)}
    config = read_stack_config(pulumi.get_stack(), raw, secret_keys)
    check_secrets_provider(config.ton.network, stack_secrets_provider(pulumi.get_stack()))
    return config


def read_stack_config(stack: str, raw: Mapping[str, str], secret_keys: set[str]) -> StackConfig:
    """Parse raw config (keys without the `tonsurance:` prefix) and check the files it names; relative paths
    resolve against the current directory (the project's)."""
    return probe_files(parse_stack_config(stack, raw, secret_keys))


def probe_files(config: StackConfig) -> StackConfig:
    """The parsed config completed and checked by the files it names (see the module's docstring)."""
    if config.ton.liteserver_config_path is not None:
        _check_network_config(config.ton.liteserver_config_path, config.ton.network)
    for key, path in (("database.sslRootCert", config.database.ssl_root_cert),
                      ("services.redisCaCert", config.services.redis_ca_cert)):
        if path is not None:
            check_ca_bundle(key, path)
    if config.database.port is None:
        port = local_server_port(config.database.host)
        config = dataclasses.replace(config, database=dataclasses.replace(config.database, port=port))
    rollout = config.services.rollout
    if rollout.analysis and rollout.prometheus_url is None:
        rollout = dataclasses.replace(rollout, prometheus_url=local_prometheus_url())
        config = dataclasses.replace(config, services=dataclasses.replace(config.services, rollout=rollout))
    return config


def local_server_port(data_dir: str) -> int:
    """The port of the checkout's own PostgreSQL server, read from the server's postmaster.pid."""
    pid_file = os.path.join(data_dir, "postmaster.pid")
    try:
        with open(pid_file) as file:
            return int(file.read().splitlines()[3])  # line 4 of postmaster.pid is the port
    except (OSError, IndexError, ValueError):
        raise ConfigError("database.port", f"is not set and no PostgreSQL server runs in {data_dir} to take it "
                                           "from: start it with `make up` (or set the port)") from None


def local_prometheus_url(state_dir: str = ".state") -> str:
    """The checkout's own Prometheus, as `make up` started it: its port recorded in .state/ports.json, and
    something listening there (the local stack leaves services.prometheusUrl unset)."""
    import json
    import socket

    try:
        with open(os.path.join(state_dir, "ports.json")) as recorded:
            port = int(json.load(recorded)[PROMETHEUS_PORT_NAME])
        socket.create_connection(("127.0.0.1", port), timeout=2).close()  # a server listens there
    except (OSError, ValueError, KeyError, TypeError):
        port = None
    if port is None:
        raise ConfigError("services.prometheusUrl", "is not set and no local Prometheus runs for this checkout to take "
                                                    "it from: start it with `make up` (or set services.prometheusUrl, "
                                                    "or services.analysis to false)")
    return f"http://127.0.0.1:{port}"


def check_ca_bundle(key: str, path: str) -> None:
    """The file at `path` holds PEM certificates (a CA bundle libpq can verify the server with)."""
    from cryptography import x509

    try:
        with open(path, "rb") as file:
            certificates = x509.load_pem_x509_certificates(file.read())
    except OSError as error:
        raise ConfigError(key, f"cannot be read: {path} ({error.strerror}); put the CA bundle that signed the "
                               "server's certificate there (docs/ops.md, \"Database and Redis endpoints\")") from None
    except ValueError:
        certificates = []
    if not certificates:
        raise ConfigError(key, f"{path} holds no PEM certificate: it must be the CA bundle "
                               "(-----BEGIN CERTIFICATE-----) that signed the server's certificate")


def _check_network_config(path: str, network: str) -> None:
    """The liteserver config file exists and its zero state is the stack's network's (chain/liteserver.py)."""
    from chain.errors import ConfigError as ChainConfigError
    from chain.liteserver import load_network_config

    try:
        load_network_config(path, network)
    except ChainConfigError as error:
        raise ConfigError("liteserverConfig", str(error)) from None


def stack_secrets_provider(stack: str, project_dir: str = ".") -> str | None:
    """The `secretsprovider` of Pulumi.<stack>.yaml (None: the passphrase provider or the backend's default)."""
    import yaml

    path = os.path.join(project_dir, f"Pulumi.{stack}.yaml")
    if not os.path.exists(path):
        return None
    with open(path) as file:
        return (yaml.safe_load(file) or {}).get("secretsprovider")
