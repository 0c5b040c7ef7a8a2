"""Pure parsing of the `tonsurance:*` stack config: raw strings in, the dataclass tree out (config/types.py),
or a ConfigError that names the key and says what is expected; it never repeats a secret value.

Nothing here reads a file or the engine: what depends on files the config names (the local PostgreSQL
server's port, the liteserver config) is checked by config/loader.py. Every rule is unit-tested on raw values.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import PurePosixPath
from typing import Mapping

from pytoniq_core import Address
from pytoniq_core.crypto.keys import mnemonic_is_valid

from chain.client import NETWORKS
from config.reader import Reader, Section
from config.rules import check_image
from config.services import DNS_LABEL, parse_services
from config.types import (
    IMAGE_KEYS, PLATFORM_CHARTS, AwsConfig, ConfigError, DatabaseConfig, KubernetesConfig, MonitoringConfig, OpsConfig,
    PlatformConfig, SecretReference, SecretValue, ServicesConfig, StackConfig, TonConfig,
)
from contracts.policy_router import SHARD_COUNTS

MAINNET_SHARD_COUNT = 256
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")  # libpq's sslmode values
_SECRET_ID = re.compile(r"^[A-Za-z0-9/_+=.@:-]{1,2048}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_OIDC_PROVIDER_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/[A-Za-z0-9.-]+(/[A-Za-z0-9._-]+)+$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$")
_SLACK_CHANNEL = re.compile(r"^[#@][a-z0-9][a-z0-9._-]{0,79}$")


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
    read = Reader(raw, secret_keys)
    network = read.required("network", f"one of {', '.join(NETWORKS)}")
    if network not in NETWORKS:
        raise ConfigError("network", f"must be one of {', '.join(NETWORKS)}, got {network!r}")

    ton, kubernetes, database = _ton(read, network), _kubernetes(read, network), _database(read, network)
    services, platform = parse_services(read, network), _platform(read, network)
    if platform.charts["certManager"] and services.acme_email is None:
        raise ConfigError("services.acmeEmail", f"is required on {network}, where the program installs cert-manager "
                                                f"and creates the ClusterIssuer {services.tls_issuer}: the ACME account's "
                                                "email (expiry notices)")
    config = StackConfig(stack=stack, ton=ton, kubernetes=kubernetes, database=database,
                         services=services, monitoring=_monitoring(read),
                         platform=platform, aws=_aws(read, network, database, services),
                         ops=_ops(read))
    unknown_keys = sorted(set(raw) - read.seen)
    if unknown_keys:
        raise ConfigError(unknown_keys[0], "is not a known configuration key (typo?)")
    return config


def _ton(read: Reader, network: str) -> TonConfig:
    shard_count = read.integer("shardCount")
    if shard_count not in SHARD_COUNTS:
        raise ConfigError("shardCount", f"must be 16 or 256, got {shard_count}")
    # A router's shard count is in its init data and can never change: mainnet takes 256 unless the
    # operator says otherwise on purpose (Pulumi.mainnet.yaml documents the key).
    override = read.boolean("shardCountOverride", default=False)
    if network == "mainnet" and shard_count != MAINNET_SHARD_COUNT and not override:
        raise ConfigError("shardCount", f"must be {MAINNET_SHARD_COUNT} on mainnet (a router's shard count never "
                                        f"changes), got {shard_count}; set tonsurance:shardCountOverride to true "
                                        "to deploy another count on purpose")
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

    mnemonic = _deployer_mnemonic(read, network)

    localnet_path = read.optional("localnetPath")
    liteserver_config = read.optional("liteserverConfig")
    if network == "localnet":
        localnet_path = _relative_path("localnetPath", localnet_path or ".state/localnet/chain.json")
    elif liteserver_config is None:
        raise ConfigError("liteserverConfig", f"is required on {network}: path to the network config file "
                                              "(global.config.json) used to reach liteservers")
    treasury, claims_processor = address("treasuryAddress"), address("claimsProcessorAddress")
    if network == "mainnet":
        # The deployer's words are in Secrets Manager on mainnet, so the rule that admin, treasury and claims
        # processor are none of its wallets (role_conflicts) runs where they are read: preflight, policy pack.
        _check_keepers_not_admin(admin, keepers)
    admin_mnemonic = _admin_mnemonic(read, network, admin)
    if admin_mnemonic is not None:
        _check_keepers_not_admin(admin, keepers)

    return TonConfig(
        network=network,
        shard_count=shard_count,
        shard_batch_size=shard_batch_size,
        admin_address=admin,
        keeper_addresses=keepers,
        treasury_address=treasury,
        claims_processor_address=claims_processor,
        deployer_mnemonic=mnemonic,
        localnet_path=localnet_path if network == "localnet" else None,
        liteserver_config_path=liteserver_config,
        admin_mnemonic=admin_mnemonic,
        keeper_mnemonics=_keeper_mnemonics(read, network, keepers),
    )


def _admin_mnemonic(read: Reader, network: str, admin: str) -> SecretValue | None:
    """localnet only: the words of the admin wallet (v4r2), which must be tonsurance:adminAddress."""
    if read.optional("adminMnemonic") is None:
        return None
    if network != "localnet":
        raise ConfigError("adminMnemonic", f"is localnet only: on {network} the admin is the multisig, and the "
                                           "program's admin messages are multisig orders; remove it "
                                           "(`pulumi config rm adminMnemonic`)")
    mnemonic = read.secret("adminMnemonic", "the local admin wallet's 24-word mnemonic")
    words = mnemonic.value.split()
    if len(words) != 24 or not mnemonic_is_valid(words):
        raise ConfigError("adminMnemonic", "is not a valid 24-word TON mnemonic")
    from chain.wallets import WalletKey, WalletV4R2

    wallet = WalletV4R2(None, WalletKey.from_mnemonic(words), os.devnull).address  # type: ignore[arg-type]
    if wallet != Address(admin):
        raise ConfigError("adminAddress", f"must be the wallet of tonsurance:adminMnemonic "
                                          f"({wallet.to_str(is_test_only=True)}) when that is set, got {admin}")
    return mnemonic


def _keeper_mnemonics(read: Reader, network: str, keepers: tuple[str, ...]) -> tuple[SecretValue, ...]:
    """tonsurance:keeperMnemonics (localnet only): a secret JSON list of 24-word mnemonics whose v4r2 wallets
    are the keeper addresses, in order. Errors name the entry, never a word."""
    if read.optional("keeperMnemonics") is None:
        return ()
    if network != "localnet":
        raise ConfigError("keeperMnemonics", f"is for the local stack only: on {network} the keepers' keys live in "
                                             "AWS Secrets Manager (remove it with `pulumi config rm keeperMnemonics`)")
    raw = read.secret("keeperMnemonics", "a JSON list of the keepers' 24-word mnemonics")
    try:
        words = json.loads(raw.value)
    except json.JSONDecodeError:
        words = None
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise ConfigError("keeperMnemonics", "must be a JSON list of 24-word mnemonics, one per keeper address")
    if len(words) > len(keepers):
        raise ConfigError("keeperMnemonics", f"has {len(words)} entries for {len(keepers)} keeper address(es)")
    from chain.wallets import WalletKey, WalletV4R2
    for index, mnemonic in enumerate(words):
        if len(mnemonic.split()) != 24 or not mnemonic_is_valid(mnemonic.split()):
            raise ConfigError(f"keeperMnemonics[{index}]", "is not a valid 24-word TON mnemonic")
        wallet = WalletV4R2(None, WalletKey.from_mnemonic(mnemonic), os.devnull).address  # type: ignore[arg-type]
        if wallet != Address(keepers[index]):
            raise ConfigError(f"keeperMnemonics[{index}]", f"is the key of wallet {wallet.to_str(is_test_only=True)}, "
                                                           f"not of keeperAddresses[{index}] {keepers[index]}")
    return tuple(SecretValue(w) for w in words)


def _deployer_mnemonic(read: Reader, network: str) -> SecretValue | SecretReference:
    """The mnemonic itself (a Pulumi secret: local, testnet) or its Secrets Manager id (required on mainnet)."""
    secret_id = read.optional("deployerMnemonicSecretId")
    if secret_id is not None:
        if read.optional("deployerMnemonic") is not None:
            raise ConfigError("deployerMnemonicSecretId", "is set together with tonsurance:deployerMnemonic: keep "
                                                          "only the secret id (`pulumi config rm deployerMnemonic`)")
        if not _SECRET_ID.match(secret_id):
            raise ConfigError("deployerMnemonicSecretId", f"must be a Secrets Manager secret name or ARN, got {secret_id!r}")
        region = read.required("awsRegion", "the AWS region of the deployer mnemonic's secret "
                                            "(tonsurance:deployerMnemonicSecretId is set)")
        return SecretReference(secret_id, region)
    if network == "mainnet":
        present = read.optional("deployerMnemonic") is not None
        raise ConfigError("deployerMnemonicSecretId", (
            "is required on mainnet: the deployer mnemonic must live in AWS Secrets Manager, not in Pulumi config"
            + (" (remove tonsurance:deployerMnemonic with `pulumi config rm deployerMnemonic`)" if present else "")
            + "; set the id, e.g. `pulumi config set deployerMnemonicSecretId tonsurance/mainnet/deployer-mnemonic`"))
    mnemonic = read.secret("deployerMnemonic", "the deployer wallet's 24-word mnemonic "
                                               "(or name its Secrets Manager id in deployerMnemonicSecretId)")
    words = mnemonic.value.split()
    if len(words) != 24 or not mnemonic_is_valid(words):
        raise ConfigError("deployerMnemonic", "is not a valid 24-word TON mnemonic")
    return mnemonic
def _check_keepers_not_admin(admin: str, keepers: tuple[str, ...]) -> None:
    for i, keeper in enumerate(keepers):
        if Address(keeper) == Address(admin):
            raise ConfigError(f"keeperAddresses[{i}]", "is the admin address; keepers must be other accounts")


def _kubernetes(read: Reader, network: str) -> KubernetesConfig:
    namespace = read.required("namespace", "a Kubernetes namespace name")
    if not DNS_LABEL.match(namespace):
        raise ConfigError("namespace", f"must be a DNS-1123 label (lowercase letters, digits, '-'), got {namespace!r}")
    render_to = read.optional("renderManifestsTo")
    kubeconfig = read.optional("kubeconfig")
    if kubeconfig is not None and render_to is not None:
        raise ConfigError("renderManifestsTo", "cannot be set together with kubeconfig: the provider either "
                                               "applies to the cluster or renders YAML; remove one of them")
    images = read.section("images", IMAGE_KEYS, '{"backend": "ghcr.io/tonsurance/backend:1.4.2", ...}').raw
    missing = [key for key in IMAGE_KEYS if key not in images]
    if missing:
        raise ConfigError("images", f"must give an image for every service; missing: {', '.join(missing)}")
    for service, image in images.items():
        check_image(f"images.{service}", image, network)
    return KubernetesConfig(
        namespace=namespace,
        render_manifests_to=_relative_path("renderManifestsTo", render_to) if render_to else None,
        images=dict(images),
        kubeconfig=kubeconfig,
    )


def _database(read: Reader, network: str) -> DatabaseConfig:
    if read.optional("database") is None:
        raise ConfigError("database", "is required: an object with host, port, name and user")
    db = read.section("database", ("host", "port", "name", "user", "sslMode", "sslRootCert"),
                      '{"host": "127.0.0.1", "port": 5432, "name": "tonsurance", "user": "tonsurance"}')
    host, name, user = (db.get(key, str, needed="a non-empty string") or "" for key in ("host", "name", "user"))
    for key, value in (("host", host), ("name", name), ("user", user)):
        if not value:
            raise ConfigError(f"database.{key}", "is required: a non-empty string")
    # The local stack's own server (a socket directory in the project) runs on a port of this checkout that
    # config/loader.py reads from the server; every other database names its port or takes 5432.
    local_server = "port" not in db and host.startswith(".") and network == "localnet"
    port = None if local_server else db.get("port", int, 5432)
    if port is not None and not 1 <= port <= 65535:
        raise ConfigError("database.port", f"must be a TCP port number, got {port!r}")
    is_public_network = network in ("testnet", "mainnet")
    if host.startswith((".", "/")):
        if is_public_network:
            raise ConfigError("database.host", f"must be a host name on {network}, got the path {host!r}")
        host = _relative_path("database.host", host)
    ssl_mode, ssl_root_cert = _database_tls(db, network)
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
        name=name,
        user=user,
        password=password,
        timescaledb_required=read.boolean("timescaledbRequired", default=is_public_network),
        backup_before_migrate=backup_before_migrate,
        single_transaction=read.boolean("migrationsInOneTransaction", default=network == "mainnet"),
        backup_store=backup_store,
        backup_s3_region=read.optional("backupS3Region"),
        ssl_mode=ssl_mode,
        ssl_root_cert=ssl_root_cert,
    )
    if network == "mainnet" and not database.backup_before_migrate:
        raise ConfigError("backupBeforeMigrate", "cannot be false on mainnet: migrations run after a verified backup")
    if network == "mainnet" and not database.timescaledb_required:
        raise ConfigError("timescaledbRequired", "cannot be false on mainnet: the schema needs TimescaleDB there")
    return database


def _database_tls(db: Section, network: str) -> tuple[str | None, str | None]:
    """(sslmode, CA bundle path). Testnet and mainnet reach a managed server over the internet: only
    verify-full with a CA (the server's certificate chains to it and names the host) stops an impostor
    from reading the password. config/loader.py checks that the CA file holds certificates."""
    ssl_mode = db.get("sslMode", str, "verify-full" if network in ("testnet", "mainnet") else None)
    if ssl_mode is not None and ssl_mode not in SSL_MODES:
        raise ConfigError("database.sslMode", f"must be one of {', '.join(SSL_MODES)}, got {ssl_mode!r}")
    ssl_root_cert = db.get("sslRootCert", str)
    if network in ("testnet", "mainnet"):
        if ssl_mode != "verify-full":
            raise ConfigError("database.sslMode", f"must be verify-full on {network}, got {ssl_mode!r}: the database is "
                                                  "reached over the network, so its certificate is verified against "
                                                  "database.sslRootCert and must name database.host")
        if not ssl_root_cert:
            raise ConfigError("database.sslRootCert", f"is required on {network}: the path (inside the project, or "
                                                      "absolute) of the CA bundle that signed the database server's "
                                                      "certificate, e.g. your managed provider's CA bundle (docs/ops.md)")
    if ssl_root_cert is not None and not PurePosixPath(ssl_root_cert).is_absolute():
        ssl_root_cert = _relative_path("database.sslRootCert", ssl_root_cert)
    return ssl_mode, ssl_root_cert


def _monitoring(read: Reader) -> MonitoringConfig:
    raw = read.section("monitoring", ("slackChannel", "runbookUrl"),
                       '{"slackChannel": "#ops-alerts", "runbookUrl": "https://..."}').raw
    channel = raw.get("slackChannel", "#ops-urgent")  # the guide's DevOps channel
    if not isinstance(channel, str) or not _SLACK_CHANNEL.match(channel):
        # Not echoed: a pasted webhook URL is a secret (it belongs in Secrets Manager, see docs/runbook.md).
        raise ConfigError("monitoring.slackChannel", "must be a Slack channel name like #ops-alerts")
    runbook_url = raw.get("runbookUrl", "docs/runbook.md")
    if not isinstance(runbook_url, str) or not runbook_url or any(c.isspace() or c == "#" for c in runbook_url):
        raise ConfigError("monitoring.runbookUrl", f"must be a URL or path without spaces or '#', got {runbook_url!r}")
    return MonitoringConfig(slack_channel=channel, runbook_url=runbook_url)


def _platform(read: Reader, network: str) -> PlatformConfig:
    raw = read.section("platform", PLATFORM_CHARTS, '{"kubePrometheusStack": false, "certManager": true}')
    charts = {}
    for chart in PLATFORM_CHARTS:
        # Public networks install every chart unless switched off; the local cluster gets its CRDs and
        # controllers from scripts/ instead (chart repositories are not reachable there).
        value = raw.raw.get(chart, network != "localnet")
        if not isinstance(value, bool):
            raise ConfigError(f"platform.{chart}", f"must be true or false, got {value!r}")
        charts[chart] = value
    return PlatformConfig(charts=charts)


def _aws(read: Reader, network: str, database: DatabaseConfig, services: ServicesConfig) -> AwsConfig | None:
    """Testnet and mainnet: the region, the EKS OIDC provider and the backup bucket's rules."""
    region = read.optional("awsRegion")
    if region is not None and not _REGION.match(region):
        raise ConfigError("awsRegion", f"must be an AWS region such as eu-central-1, got {region!r}")
    if network == "localnet":
        return None
    region = read.required("awsRegion", f"the AWS region of the {network} stack's bucket, secrets and roles")
    oidc_arn = read.required("eksOidcProviderArn", "the ARN of the EKS cluster's IAM OIDC provider "
                                                   "(arn:aws:iam::<account>:oidc-provider/oidc.eks...)")
    if not _OIDC_PROVIDER_ARN.match(oidc_arn):
        raise ConfigError("eksOidcProviderArn", f"must be an IAM OIDC provider ARN, got {oidc_arn!r}")
    if database.backup_store is None:
        raise ConfigError("backupStore", f"is required on {network}: s3://bucket/prefix, the bucket the stack "
                                         "creates for its scheduled and pre-migration backups")
    bucket, _, prefix = database.backup_store.removeprefix("s3://").partition("/")
    if not re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", bucket):
        raise ConfigError("backupStore", f"names an invalid S3 bucket {bucket!r}")
    retention = read.integer("backupRetentionDays", default=90 if network == "mainnet" else 30)
    if not 7 <= retention <= 3650:
        raise ConfigError("backupRetentionDays", f"must be between 7 and 3650 days, got {retention}")
    image = read.required("backupJobImage", "the backup CronJob's image (Python 3.11, psycopg, boto3, pg_dump 15)")
    check_image("backupJobImage", image, network)
    versions = read.integer("backupVersionRetentionDays", default=2 * retention)
    if not retention <= versions <= 3650:
        raise ConfigError("backupVersionRetentionDays", f"must be between backupRetentionDays ({retention}) and 3650 "
                                                        f"days: older versions outlive the backups, got {versions}")
    replica = read.optional("backupReplicaRegion")
    if replica is not None and (not _REGION.match(replica) or replica == region):
        raise ConfigError("backupReplicaRegion", f"must be another AWS region than {region}, got {replica!r}")
    deploy_role = read.required("deployRoleArn", "the ARN of the IAM role the deploy workflow assumes: the only "
                                                 "reader of the deployer mnemonic (arn:aws:iam::<account>:role/<name>)")
    if not _ROLE_ARN.match(deploy_role) or deploy_role.split(":")[4] != oidc_arn.split(":")[4]:
        raise ConfigError("deployRoleArn", f"must be an IAM role ARN of the stack's account "
                                           f"({oidc_arn.split(':')[4]}), got {deploy_role!r}")
    prefix = prefix.strip("/")
    return AwsConfig(region=region, eks_oidc_provider_arn=oidc_arn, backup_bucket=bucket,
                     backup_prefix=f"{prefix}/" if prefix else "", backup_retention_days=retention,
                     backup_job_image=image, deploy_role_arn=deploy_role, backup_version_retention_days=versions,
                     backup_replica_region=replica)


def _ops(read: Reader) -> OpsConfig:
    # Both optional: a stricter limit than each secret's rotation tag / the network's backup cadence.
    rotation = read.integer("secretRotationDays") if read.optional("secretRotationDays") else None
    backup_age = read.integer("maxBackupAgeHours") if read.optional("maxBackupAgeHours") else None
    for key, value in (("secretRotationDays", rotation), ("maxBackupAgeHours", backup_age)):
        if value is not None and value < 1:
            raise ConfigError(key, f"must be a positive number, got {value}")
    urls = {key: read.optional(key) for key in ("apiUrl", "watchPrometheusUrl", "watchAlertmanagerUrl")}
    for key, url in urls.items():
        if url is not None and not url.startswith(("https://", "http://")):
            raise ConfigError(key, f"must be an http(s) URL, got {url!r}")
    return OpsConfig(secret_rotation_days=rotation, max_backup_age_hours=backup_age,
                     release_branch=read.optional("releaseBranch") or "main", api_url=urls["apiUrl"],
                     watch_prometheus_url=urls["watchPrometheusUrl"],
                     watch_alertmanager_url=urls["watchAlertmanagerUrl"])
