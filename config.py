"""Typed, validated stack configuration.

Every key of the `tonsurance` config namespace is parsed here into one frozen dataclass tree, and every
rule is checked before the program registers a single resource. An error names the key and says what is
expected; it never repeats a secret value.

`parse_stack_config` is pure (raw strings in, dataclasses out) so each rule is unit-tested without the
engine; `load_stack_config` feeds it from the Pulumi runtime.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Mapping

from pytoniq_core import Address
from pytoniq_core.crypto.keys import mnemonic_is_valid

NAMESPACE = "tonsurance"
NETWORKS = ("localnet", "testnet", "mainnet")
SHARD_COUNTS = (16, 256)
SERVICES = ("backend", "pricingKeeper", "bridgeHealthKeeper", "apiV2", "websocketV2")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/:-]*:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")


class ConfigError(ValueError):
    """A stack configuration value is missing or malformed. The message names the key."""

    def __init__(self, key: str, expected: str):
        self.key = f"{NAMESPACE}:{key}"
        super().__init__(f"config {self.key}: {expected}")


@dataclass(frozen=True)
class SecretValue:
    """A secret read from config. Its repr never shows the value, so it cannot leak through logs."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "SecretValue(***)"

    __str__ = __repr__


@dataclass(frozen=True)
class TonConfig:
    network: str  # localnet | testnet | mainnet
    shard_count: int  # 16 | 256
    shard_batch_size: int
    admin_address: str  # the 3-of-5 multisig on mainnet
    keeper_addresses: tuple[str, ...]
    treasury_address: str
    claims_processor_address: str
    deployer_mnemonic: SecretValue  # pays for deployment; never an admin
    localnet_path: str | None  # localnet only: the emulated chain's state file
    liteserver_config_path: str | None  # testnet/mainnet: network config file for pytoniq


@dataclass(frozen=True)
class KubernetesConfig:
    namespace: str
    render_manifests_to: str | None  # set: render YAML to this directory instead of applying to a cluster
    images: Mapping[str, str]  # service -> image reference with an explicit tag


@dataclass(frozen=True)
class DatabaseConfig:
    host: str  # a host name, or on localnet the server's Unix socket directory inside the project
    port: int
    name: str
    user: str
    password: SecretValue | None  # None only on localnet, whose socket needs no password
    timescaledb_required: bool
    backup_before_migrate: bool
    single_transaction: bool
    backup_store: str | None  # s3://bucket/prefix, or on localnet a folder inside the project
    backup_s3_region: str | None

    def dsn(self) -> str:
        """The libpq connection string, password included: wrap it in a Pulumi secret at once."""
        from psycopg.conninfo import make_conninfo

        host = os.path.abspath(self.host) if self.host.startswith(".") else self.host
        password = {"password": self.password.value} if self.password else {}
        return make_conninfo(host=host, port=self.port, dbname=self.name, user=self.user, **password)


@dataclass(frozen=True)
class StackConfig:
    stack: str
    ton: TonConfig
    kubernetes: KubernetesConfig
    database: DatabaseConfig

    @property
    def is_mainnet(self) -> bool:
        return self.ton.network == "mainnet"


class _Reader:
    """Reads raw config strings by key, remembering which keys were consulted."""

    def __init__(self, raw: Mapping[str, str], secret_keys: set[str]):
        self.raw = raw
        self.secret_keys = secret_keys
        self.seen: set[str] = set()

    def optional(self, key: str) -> str | None:
        self.seen.add(key)
        value = self.raw.get(key)
        return None if value is None or value == "" else value

    def required(self, key: str, expected: str) -> str:
        value = self.optional(key)
        if value is None:
            raise ConfigError(key, f"is required: {expected}")
        return value

    def secret(self, key: str, expected: str) -> SecretValue:
        value = self.optional(key)
        if value is None:
            raise ConfigError(key, f"is required and must be a secret: {expected} "
                                   f"(set it with `pulumi config set --secret {key}`)")
        if key not in self.secret_keys:
            raise ConfigError(key, "is stored in plaintext but must be a secret: "
                                   f"remove it and set it with `pulumi config set --secret {key}`")
        return SecretValue(value)

    def integer(self, key: str, default: int | None = None) -> int:
        value = self.optional(key)
        if value is None:
            if default is None:
                raise ConfigError(key, "is required: an integer")
            return default
        try:
            return int(value)
        except ValueError:
            raise ConfigError(key, f"must be an integer, got {value!r}") from None

    def boolean(self, key: str, default: bool) -> bool:
        value = self.optional(key)
        if value is None:
            return default
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ConfigError(key, f"must be true or false, got {value!r}")

    def structured(self, key: str, kind: type, example: str) -> Any:
        value = self.optional(key)
        if value is None:
            return None
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, kind):
            raise ConfigError(key, f"must be a {kind.__name__}, for example {example}")
        return parsed


def parse_ton_address(key: str, value: str, network: str) -> str:
    """Parse a TON address and check it belongs to `network`; return its canonical user-friendly form."""
    try:
        address = Address(value)
    except Exception:
        raise ConfigError(key, f"is not a valid TON address: {value!r}") from None
    if address.wc != 0:
        raise ConfigError(key, f"must be on workchain 0, got workchain {address.wc}: {value!r}")
    is_raw = ":" in value
    if network != "localnet":
        if is_raw:
            raise ConfigError(key, f"must be in user-friendly form on {network} so its network flag can be "
                                   f"checked, got raw address {value!r}")
        if address.is_test_only != (network == "testnet"):
            flagged_for = "testnet" if address.is_test_only else "mainnet"
            raise ConfigError(key, f"is a {flagged_for} address but the stack's network is {network}: {value!r}")
    return address.to_str(is_user_friendly=True, is_bounceable=True, is_test_only=network != "mainnet")


def _relative_path(key: str, value: str) -> str:
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts:
        raise ConfigError(key, f"must be a path inside the project directory, got {value!r}")
    return value


def parse_stack_config(stack: str, raw: Mapping[str, str], secret_keys: set[str]) -> StackConfig:
    """Validate raw config (keys without the `tonsurance:` prefix) into a StackConfig or raise ConfigError."""
    read = _Reader(raw, secret_keys)
    network = read.required("network", f"one of {', '.join(NETWORKS)}")
    if network not in NETWORKS:
        raise ConfigError("network", f"must be one of {', '.join(NETWORKS)}, got {network!r}")

    config = StackConfig(stack=stack, ton=_ton(read, network), kubernetes=_kubernetes(read, network),
                         database=_database(read, network))
    unknown_keys = sorted(set(raw) - read.seen)
    if unknown_keys:
        raise ConfigError(unknown_keys[0], "is not a known configuration key (typo?)")
    return config


def _ton(read: _Reader, network: str) -> TonConfig:
    shard_count = read.integer("shardCount")
    if shard_count not in SHARD_COUNTS:
        raise ConfigError("shardCount", f"must be 16 or 256, got {shard_count}")
    shard_batch_size = read.integer("shardBatchSize", default=64)  # see docs/contracts-deploy.md
    if not 1 <= shard_batch_size <= 256:
        raise ConfigError("shardBatchSize", f"must be between 1 and 256, got {shard_batch_size}")

    def address(key: str) -> str:
        return parse_ton_address(key, read.required(key, "a TON address"), network)

    admin = address("adminAddress")
    keepers_raw = read.structured("keeperAddresses", list, '["EQ...", "EQ..."]')
    if not keepers_raw:
        raise ConfigError("keeperAddresses", "is required: a non-empty list of TON addresses")
    keepers = tuple(parse_ton_address(f"keeperAddresses[{i}]", str(k), network) for i, k in enumerate(keepers_raw))
    if len(set(keepers)) != len(keepers):
        raise ConfigError("keeperAddresses", "must not list the same address twice")

    mnemonic = read.secret("deployerMnemonic", "the deployer wallet's 24-word mnemonic")
    words = mnemonic.value.split()
    if len(words) != 24 or not mnemonic_is_valid(words):
        raise ConfigError("deployerMnemonic", "is not a valid 24-word TON mnemonic")

    localnet_path = read.optional("localnetPath")
    liteserver_config = read.optional("liteserverConfig")
    if network == "localnet":
        localnet_path = _relative_path("localnetPath", localnet_path or ".state/localnet/chain.json")
    elif liteserver_config is None:
        raise ConfigError("liteserverConfig", f"is required on {network}: path to the network config file "
                                              "(global.config.json) used to reach liteservers")

    return TonConfig(
        network=network,
        shard_count=shard_count,
        shard_batch_size=shard_batch_size,
        admin_address=admin,
        keeper_addresses=keepers,
        treasury_address=address("treasuryAddress"),
        claims_processor_address=address("claimsProcessorAddress"),
        deployer_mnemonic=mnemonic,
        localnet_path=localnet_path if network == "localnet" else None,
        liteserver_config_path=liteserver_config,
    )


def _kubernetes(read: _Reader, network: str) -> KubernetesConfig:
    namespace = read.required("namespace", "a Kubernetes namespace name")
    if not _DNS_LABEL.match(namespace):
        raise ConfigError("namespace", f"must be a DNS-1123 label (lowercase letters, digits, '-'), got {namespace!r}")
    render_to = read.optional("renderManifestsTo")
    images = read.structured("images", dict, '{"backend": "ghcr.io/tonsurance/backend:1.4.2", ...}') or {}
    missing = [s for s in SERVICES if s not in images]
    if missing:
        raise ConfigError("images", f"must give an image for every service; missing: {', '.join(missing)}")
    unknown = sorted(set(images) - set(SERVICES))
    if unknown:
        raise ConfigError("images", f"names unknown services {', '.join(unknown)}; known: {', '.join(SERVICES)}")
    for service, image in images.items():
        if not isinstance(image, str) or not _IMAGE.match(image):
            raise ConfigError(f"images.{service}", f"must be an image reference with an explicit tag, got {image!r}")
        if network == "mainnet" and image.endswith(":latest"):
            raise ConfigError(f"images.{service}", "must pin a version on mainnet, not ':latest'")
    return KubernetesConfig(
        namespace=namespace,
        render_manifests_to=_relative_path("renderManifestsTo", render_to) if render_to else None,
        images=dict(images),
    )


def _database(read: _Reader, network: str) -> DatabaseConfig:
    db = read.structured("database", dict, '{"host": "127.0.0.1", "port": 5432, "name": "tonsurance", "user": "tonsurance"}')
    if db is None:
        raise ConfigError("database", "is required: an object with host, port, name and user")
    for key in ("host", "name", "user"):
        if not isinstance(db.get(key), str) or not db[key]:
            raise ConfigError(f"database.{key}", "is required: a non-empty string")
    port = db.get("port", 5432)
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError("database.port", f"must be a TCP port number, got {port!r}")
    unknown_db = sorted(set(db) - {"host", "port", "name", "user"})
    if unknown_db:
        raise ConfigError("database", f"has unknown keys {', '.join(unknown_db)}")
    is_public_network = network in ("testnet", "mainnet")
    host = db["host"]
    if host.startswith((".", "/")):
        if is_public_network:
            raise ConfigError("database.host", f"must be a host name on {network}, got the path {host!r}")
        host = _relative_path("database.host", host)
    if is_public_network or read.optional("databasePassword") is not None:
        password = read.secret("databasePassword", "the PostgreSQL password")
    else:
        password = None
    backup_before_migrate = read.boolean("backupBeforeMigrate", default=network == "mainnet")
    backup_store = read.optional("backupStore")
    if backup_store is None and backup_before_migrate:
        raise ConfigError("backupStore", "is required when backupBeforeMigrate is true: s3://bucket/prefix"
                                         + (" or a folder inside the project" if not is_public_network else ""))
    if backup_store is not None:
        if is_public_network and not backup_store.startswith("s3://"):
            raise ConfigError("backupStore", f"must be an s3://bucket/prefix URL on {network}, got {backup_store!r}")
        if not backup_store.startswith("s3://"):
            backup_store = _relative_path("backupStore", backup_store)
    database = DatabaseConfig(
        host=host,
        port=port,
        name=db["name"],
        user=db["user"],
        password=password,
        timescaledb_required=read.boolean("timescaledbRequired", default=is_public_network),
        backup_before_migrate=backup_before_migrate,
        single_transaction=read.boolean("migrationsInOneTransaction", default=network == "mainnet"),
        backup_store=backup_store,
        backup_s3_region=read.optional("backupS3Region"),
    )
    if network == "mainnet" and not database.backup_before_migrate:
        raise ConfigError("backupBeforeMigrate", "cannot be false on mainnet: migrations run after a verified backup")
    if network == "mainnet" and not database.timescaledb_required:
        raise ConfigError("timescaledbRequired", "cannot be false on mainnet: the schema needs TimescaleDB there")
    return database


def load_stack_config() -> StackConfig:
    """Read the `tonsurance:*` config of the running stack from the Pulumi runtime and validate it."""
    import pulumi
    from pulumi.runtime.config import CONFIG, get_config_env

    prefix = f"{NAMESPACE}:"
    merged = {**get_config_env(), **CONFIG.get()}
    raw = {k[len(prefix):]: v for k, v in merged.items() if k.startswith(prefix)}
    secret_keys = {k for k in raw if pulumi.runtime.is_config_secret(prefix + k)}
    return parse_stack_config(pulumi.get_stack(), raw, secret_keys)
