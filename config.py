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
# An image reference that names its version: a tag, a digest, or both (repo[:port]/name:tag@sha256:...).
_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/:-]*(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}|@sha256:[a-f0-9]{64})$"
                    r"|^[a-z0-9][a-z0-9._/:-]*:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}@sha256:[a-f0-9]{64}$")
_HOST = re.compile(r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_QUANTITY = re.compile(r"^[1-9][0-9]*(Mi|Gi|Ti)$")
REDIS_IMAGE = "redis:7.4.1-alpine"
_SECRET_ID = re.compile(r"^[A-Za-z0-9/_+=.@:-]{1,2048}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_OIDC_PROVIDER_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/[A-Za-z0-9.-]+(/[A-Za-z0-9._-]+)+$")
MAINNET_SHARD_COUNT = 256
# Secrets providers that keep the stack's data key in a cloud KMS (required on mainnet).
KMS_SECRETS_PROVIDERS = ("awskms://", "gcpkms://", "azurekeyvault://")


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
class SecretReference:
    """A secret named, not held: an AWS Secrets Manager id whose value is read only where it is used."""

    secret_id: str  # e.g. tonsurance/mainnet/deployer-mnemonic, or the secret's ARN
    region: str


@dataclass(frozen=True)
class TonConfig:
    network: str  # localnet | testnet | mainnet
    shard_count: int  # 16 | 256
    shard_batch_size: int
    admin_address: str  # the 3-of-5 multisig on mainnet
    keeper_addresses: tuple[str, ...]
    treasury_address: str
    claims_processor_address: str
    # Pays for deployment, never an admin. On mainnet always a reference: the TON providers fetch the words
    # inside each call, so they never enter Pulumi state (see dynamic_providers/deployer_mnemonic.py).
    deployer_mnemonic: SecretValue | SecretReference
    localnet_path: str | None  # localnet only: the emulated chain's state file
    liteserver_config_path: str | None  # testnet/mainnet: network config file for pytoniq


@dataclass(frozen=True)
class KubernetesConfig:
    namespace: str
    render_manifests_to: str | None  # set: render YAML to this directory instead of applying to a cluster
    images: Mapping[str, str]  # service -> image reference with an explicit tag
    kubeconfig: str | None = None  # path of the cluster's kubeconfig; None: the provider's ambient config


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


# The platform charts a stack can install (`tonsurance:platform`, components/platform_charts.py).
PLATFORM_CHARTS = ("kubePrometheusStack", "ingressNginx", "argoRollouts", "externalSecrets", "certManager")
_SLACK_CHANNEL = re.compile(r"^[#@][a-z0-9][a-z0-9._-]{0,79}$")


@dataclass(frozen=True)
class MonitoringConfig:
    slack_channel: str  # every alert is posted here; critical ones also page the on-call (PagerDuty)
    runbook_url: str  # where operators open docs/runbook.md; alerts link to <runbook_url>#<alert>


@dataclass(frozen=True)
class PlatformConfig:
    """Which cluster-wide charts the stack installs; operators who bring their own switch them off."""

    charts: Mapping[str, bool]  # PLATFORM_CHARTS key -> install


@dataclass(frozen=True)
class RolloutConfig:
    """The canary of the replicated services (20% -> pause -> 50% -> pause -> 100%) and its gates."""

    replicas: int
    pause_seconds: int
    analysis: bool  # False only where no Prometheus exists (local): the canary then advances on pauses alone
    prometheus_url: str | None
    max_error_rate: float  # 5xx / all over 5 min
    max_p99_ms: int  # p99 of http_request_duration_seconds over 5 min


@dataclass(frozen=True)
class ServicesConfig:
    domain: str  # api.<domain> and ws.<domain>
    tls_issuer: str  # cert-manager ClusterIssuer that signs the ingress certificates
    rate_limit_rps: int  # per client IP, at the nginx ingress
    ingress_namespace: str  # where the nginx ingress controller runs (NetworkPolicy source)
    prometheus_namespace: str  # where Prometheus runs (NetworkPolicy source for the metrics port)
    rollout: RolloutConfig
    redis_in_cluster: bool  # True: a StatefulSet with a PVC; False: a managed Redis, URL from `redis-url`
    redis_storage: str
    redis_image: str
    secret_store: str  # aws: Secrets Manager; fake: throwaway values in the store itself (local only)
    aws_region: str | None


@dataclass(frozen=True)
class AwsConfig:
    """What testnet and mainnet describe in AWS (components/aws.py); the local stack has none."""
    region: str
    eks_oidc_provider_arn: str  # the cluster's IAM OIDC provider: service accounts assume roles through it
    backup_bucket: str  # from tonsurance:backupStore (s3://bucket/prefix)
    backup_prefix: str  # "" or ending in "/"
    backup_retention_days: int
    backup_job_image: str  # Python 3.11 + psycopg + boto3 + PostgreSQL 15 client (the job's code comes from a ConfigMap)


@dataclass(frozen=True)
class OpsConfig:
    """What `python -m ops preflight/verify` check beyond the resources (docs/ops.md)."""
    secret_rotation_days: int = 90        # a secret older than this (since its last rotation) fails preflight
    max_backup_age_hours: int = 6         # the guide: mainnet backups every 6 hours and before each deployment
    release_branch: str = "main"          # preflight wants a clean tree on this branch
    api_url: str | None = None            # verify checks /health and a premium quote when set


@dataclass(frozen=True)
class StackConfig:
    stack: str
    ton: TonConfig
    kubernetes: KubernetesConfig
    database: DatabaseConfig
    services: ServicesConfig
    monitoring: MonitoringConfig
    platform: PlatformConfig
    aws: AwsConfig | None = None
    ops: OpsConfig = field(default_factory=OpsConfig)

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


def deployer_address_conflicts(addresses: Mapping[str, str], mnemonic: str) -> list[tuple[str, str]]:
    """(name, wallet kind) for each named address that is one of the deployer mnemonic's wallets. Config (on
    mainnet) and the policy pack (every contract's init data) share this rule: the deployer only pays."""
    from chain.wallets import deployer_wallet_addresses

    wallets = deployer_wallet_addresses(mnemonic)
    return [(name, kind) for name, value in addresses.items() for kind, wallet in wallets.items()
            if Address(value) == wallet]


def check_secrets_provider(network: str, provider: str | None) -> None:
    """On mainnet the stack's secrets provider must be a cloud KMS (Pulumi.<stack>.yaml `secretsprovider`)."""
    if network == "mainnet" and not (provider or "").startswith(KMS_SECRETS_PROVIDERS):
        raise ConfigError("network", "is mainnet, so the stack's secrets provider must be a KMS one "
                                     f"({', '.join(p + '...' for p in KMS_SECRETS_PROVIDERS)}), got "
                                     f"{(provider or 'passphrase').split('://')[0]!r}: pulumi stack change-secrets-provider")


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

    ton, kubernetes, database = _ton(read, network), _kubernetes(read, network), _database(read, network)
    services = _services(read, network)
    config = StackConfig(stack=stack, ton=ton, kubernetes=kubernetes, database=database,
                         services=services, monitoring=_monitoring(read),
                         platform=_platform(read, network), aws=_aws(read, network, database, services),
                         ops=_ops(read))
    unknown_keys = sorted(set(raw) - read.seen)
    if unknown_keys:
        raise ConfigError(unknown_keys[0], "is not a known configuration key (typo?)")
    return config


def _ton(read: _Reader, network: str) -> TonConfig:
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
    else:
        _check_network_config(liteserver_config, network)
    treasury, claims_processor = address("treasuryAddress"), address("claimsProcessorAddress")
    if network == "mainnet":
        # The deployer's words are in Secrets Manager on mainnet, so the rule that admin, treasury and claims
        # processor are none of its wallets (role_conflicts) runs where they are read: preflight, policy pack.
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
    )


def _deployer_mnemonic(read: _Reader, network: str) -> SecretValue | SecretReference:
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
def _check_network_config(path: str, network: str) -> None:
    """The liteserver config file exists and its zero state is the stack's network's (chain/liteserver.py)."""
    from chain.errors import ConfigError as ChainConfigError
    from chain.liteserver import load_network_config

    try:
        load_network_config(path, network)
    except ChainConfigError as error:
        raise ConfigError("liteserverConfig", str(error)) from None


def _check_keepers_not_admin(admin: str, keepers: tuple[str, ...]) -> None:
    for i, keeper in enumerate(keepers):
        if Address(keeper) == Address(admin):
            raise ConfigError(f"keeperAddresses[{i}]", "is the admin address; keepers must be other accounts")


def role_conflicts(ton: TonConfig, mnemonic: str) -> list[tuple[str, str]]:
    """(config key, wallet kind) for each of admin, treasury and claims processor that is one of the deployer
    mnemonic's wallets: on mainnet the deployer only pays (preflight checks this with the words it reads)."""
    return deployer_address_conflicts({"adminAddress": ton.admin_address, "treasuryAddress": ton.treasury_address,
                                       "claimsProcessorAddress": ton.claims_processor_address}, mnemonic)


def _kubernetes(read: _Reader, network: str) -> KubernetesConfig:
    namespace = read.required("namespace", "a Kubernetes namespace name")
    if not _DNS_LABEL.match(namespace):
        raise ConfigError("namespace", f"must be a DNS-1123 label (lowercase letters, digits, '-'), got {namespace!r}")
    render_to = read.optional("renderManifestsTo")
    kubeconfig = read.optional("kubeconfig")
    if kubeconfig is not None and render_to is not None:
        raise ConfigError("renderManifestsTo", "cannot be set together with kubeconfig: the provider either "
                                               "applies to the cluster or renders YAML; remove one of them")
    images = read.structured("images", dict, '{"backend": "ghcr.io/tonsurance/backend:1.4.2", ...}') or {}
    missing = [s for s in SERVICES if s not in images]
    if missing:
        raise ConfigError("images", f"must give an image for every service; missing: {', '.join(missing)}")
    unknown = sorted(set(images) - set(SERVICES))
    if unknown:
        raise ConfigError("images", f"names unknown services {', '.join(unknown)}; known: {', '.join(SERVICES)}")
    for service, image in images.items():
        check_image(f"images.{service}", image, network)
    return KubernetesConfig(
        namespace=namespace,
        render_manifests_to=_relative_path("renderManifestsTo", render_to) if render_to else None,
        images=dict(images),
        kubeconfig=kubeconfig,
    )


def check_image(key: str, image: object, network: str) -> None:
    """An image reference names its version (tag or digest), and not `:latest` off localnet. Config and the
    policy pack (every workload's containers) share this rule."""
    if not isinstance(image, str) or not _IMAGE.match(image):
        raise ConfigError(key, f"must be an image reference with an explicit tag or digest, got {image!r}")
    if network != "localnet" and image.split("@")[0].endswith(":latest"):
        raise ConfigError(key, f"must pin a version on {network}, not ':latest'")


_SERVICES_KEYS = {"domain", "tlsIssuer", "rateLimitRps", "ingressNamespace", "prometheusNamespace", "replicas",
                  "pauseSeconds", "analysis", "prometheusUrl", "maxErrorRate", "maxP99Ms", "redis", "redisStorage",
                  "redisImage", "secretStore"}
# Defaults per network: (replicas, pause seconds). Mainnet is the guide's 2/10, 5/10, 10/10 with 5 min pauses.
_ROLLOUT_DEFAULTS = {"localnet": (2, 10), "testnet": (2, 60), "mainnet": (10, 300)}
_KINDS = {int: "a whole number", float: "a number", bool: "true or false", str: "a string"}
ANALYSIS_WINDOW_SECONDS = 300  # both analyses measure over 5 min


def _services(read: _Reader, network: str) -> ServicesConfig:
    raw = read.structured("services", dict, '{"domain": "tonsurance.com", "tlsIssuer": "letsencrypt-prod", ...}') or {}
    unknown = sorted(set(raw) - _SERVICES_KEYS)
    if unknown:
        raise ConfigError("services", f"has unknown keys {', '.join(unknown)}; known: {', '.join(sorted(_SERVICES_KEYS))}")
    public = network != "localnet"

    def get(key: str, kind: type, default: Any, needed: str | None = None) -> Any:
        """raw[key] of type `kind`, else `default`; `needed` says what it is when there is no default."""
        value = raw.get(key, default)
        if value is None and needed:
            raise ConfigError(f"services.{key}", f"is required on {network}: {needed}")
        numeric = kind is float and isinstance(value, int)
        if value is not None and (isinstance(value, bool) != (kind is bool) or not (isinstance(value, kind) or numeric)):
            raise ConfigError(f"services.{key}", f"must be {_KINDS[kind]}, got {value!r}")
        return value

    def bounded(key: str, kind: type, default: float, low: float, high: float) -> Any:
        value = get(key, kind, default)
        if not low <= value <= high:
            raise ConfigError(f"services.{key}", f"must be between {low} and {high}, got {value!r}")
        return value

    def label(key: str, default: str | None, needed: str | None = None) -> str:
        value = get(key, str, default, needed)
        if not _DNS_LABEL.match(value):
            raise ConfigError(f"services.{key}", f"must be a DNS-1123 label, got {value!r}")
        return value

    domain = get("domain", str, None if public else "tonsurance.localhost", "the public DNS domain (api.<domain>)")
    if not _HOST.match(domain):
        raise ConfigError("services.domain", f"must be a DNS name like tonsurance.com, got {domain!r}")

    replicas_default, pause_default = _ROLLOUT_DEFAULTS[network]
    analysis = get("analysis", bool, public)
    prometheus_url = get("prometheusUrl", str, None, "the Prometheus address the analyses query" if analysis else None)
    if prometheus_url is not None and not re.match(r"^https?://[^\s/]+(/\S*)?$", prometheus_url):
        raise ConfigError("services.prometheusUrl", f"must be an http(s):// URL, got {prometheus_url!r}")
    rollout = RolloutConfig(
        replicas=bounded("replicas", int, replicas_default, 1, 100),
        pause_seconds=bounded("pauseSeconds", int, pause_default, 0, 86400),
        analysis=analysis, prometheus_url=prometheus_url,
        max_error_rate=float(bounded("maxErrorRate", float, 0.01, 0.0001, 0.5)),
        max_p99_ms=bounded("maxP99Ms", int, 500, 10, 60000))
    if network == "mainnet":
        # The guide's gates are the floor on mainnet: an operator may tighten them, never loosen them.
        if not rollout.analysis:
            raise ConfigError("services.analysis", "cannot be false on mainnet: the canary is gated by Prometheus")
        if rollout.replicas < 5:
            raise ConfigError("services.replicas", f"must be at least 5 on mainnet (20% must be a minority), "
                                                   f"got {rollout.replicas}")
        if rollout.pause_seconds < ANALYSIS_WINDOW_SECONDS:
            raise ConfigError("services.pauseSeconds", f"must be at least {ANALYSIS_WINDOW_SECONDS} on mainnet "
                                                       f"(one full analysis window per step), got {rollout.pause_seconds}")
        if rollout.max_error_rate > 0.01:
            raise ConfigError("services.maxErrorRate", f"must be at most 0.01 on mainnet, got {rollout.max_error_rate}")
        if rollout.max_p99_ms > 500:
            raise ConfigError("services.maxP99Ms", f"must be at most 500 on mainnet, got {rollout.max_p99_ms}")

    redis = get("redis", str, "external" if public else "in-cluster")
    if redis not in ("in-cluster", "external"):
        raise ConfigError("services.redis", f"must be in-cluster or external, got {redis!r}")
    redis_storage = get("redisStorage", str, "1Gi" if network == "localnet" else "10Gi")
    if not _QUANTITY.match(redis_storage):
        raise ConfigError("services.redisStorage", f"must be a size like 10Gi, got {redis_storage!r}")
    redis_image = get("redisImage", str, REDIS_IMAGE)
    check_image("services.redisImage", redis_image, network)

    secret_store = get("secretStore", str, "aws" if public else "fake")
    if secret_store not in ("aws", "fake"):
        raise ConfigError("services.secretStore", f"must be aws or fake, got {secret_store!r}")
    if public and secret_store == "fake":
        raise ConfigError("services.secretStore", f"cannot be fake on {network}: secrets come from AWS Secrets Manager")
    # The store reads the secrets where the stack keeps them: the stack's one region, tonsurance:awsRegion.
    aws_region = read.optional("awsRegion")
    if secret_store == "aws" and aws_region is None:
        raise ConfigError("awsRegion", "is required when services.secretStore is aws: the region of Secrets Manager")
    return ServicesConfig(
        domain=domain,
        tls_issuer=label("tlsIssuer", None if public else "tonsurance-local-ca", "a cert-manager ClusterIssuer name"),
        rate_limit_rps=bounded("rateLimitRps", int, 20, 1, 10000),
        ingress_namespace=label("ingressNamespace", "ingress-nginx"),
        prometheus_namespace=label("prometheusNamespace", "monitoring"),
        rollout=rollout, redis_in_cluster=redis == "in-cluster", redis_storage=redis_storage, redis_image=redis_image,
        secret_store=secret_store,
        aws_region=aws_region)


def _database(read: _Reader, network: str) -> DatabaseConfig:
    db = read.structured("database", dict, '{"host": "127.0.0.1", "port": 5432, "name": "tonsurance", "user": "tonsurance"}')
    if db is None:
        raise ConfigError("database", "is required: an object with host, port, name and user")
    for key in ("host", "name", "user"):
        if not isinstance(db.get(key), str) or not db[key]:
            raise ConfigError(f"database.{key}", "is required: a non-empty string")
    host = db["host"]
    if "port" not in db and host.startswith(".") and network == "localnet":
        port = _local_server_port(host)
    else:
        port = db.get("port", 5432)
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError("database.port", f"must be a TCP port number, got {port!r}")
    unknown_db = sorted(set(db) - {"host", "port", "name", "user"})
    if unknown_db:
        raise ConfigError("database", f"has unknown keys {', '.join(unknown_db)}")
    is_public_network = network in ("testnet", "mainnet")
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


def _monitoring(read: _Reader) -> MonitoringConfig:
    raw = read.structured("monitoring", dict, '{"slackChannel": "#ops-alerts", "runbookUrl": "https://..."}') or {}
    unknown = sorted(set(raw) - {"slackChannel", "runbookUrl"})
    if unknown:
        raise ConfigError("monitoring", f"has unknown keys {', '.join(unknown)}; known: runbookUrl, slackChannel")
    channel = raw.get("slackChannel", "#ops-urgent")  # the guide's DevOps channel
    if not isinstance(channel, str) or not _SLACK_CHANNEL.match(channel):
        # Not echoed: a pasted webhook URL is a secret (it belongs in Secrets Manager, see docs/runbook.md).
        raise ConfigError("monitoring.slackChannel", "must be a Slack channel name like #ops-alerts")
    runbook_url = raw.get("runbookUrl", "docs/runbook.md")
    if not isinstance(runbook_url, str) or not runbook_url or any(c.isspace() or c == "#" for c in runbook_url):
        raise ConfigError("monitoring.runbookUrl", f"must be a URL or path without spaces or '#', got {runbook_url!r}")
    return MonitoringConfig(slack_channel=channel, runbook_url=runbook_url)


def _platform(read: _Reader, network: str) -> PlatformConfig:
    raw = read.structured("platform", dict, '{"kubePrometheusStack": false, "certManager": true}') or {}
    unknown = sorted(set(raw) - set(PLATFORM_CHARTS))
    if unknown:
        raise ConfigError("platform", f"has unknown keys {', '.join(unknown)}; known: {', '.join(PLATFORM_CHARTS)}")
    charts = {}
    for chart in PLATFORM_CHARTS:
        # Public networks install every chart unless switched off; the local cluster gets its CRDs and
        # controllers from scripts/ instead (chart repositories are not reachable there).
        value = raw.get(chart, network != "localnet")
        if not isinstance(value, bool):
            raise ConfigError(f"platform.{chart}", f"must be true or false, got {value!r}")
        charts[chart] = value
    return PlatformConfig(charts=charts)


def _aws(read: _Reader, network: str, database: DatabaseConfig, services: ServicesConfig) -> AwsConfig | None:
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
    if not _IMAGE.match(image) or image.endswith(":latest"):
        raise ConfigError("backupJobImage", f"must be an image reference with a pinned tag, got {image!r}")
    prefix = prefix.strip("/")
    return AwsConfig(region=region, eks_oidc_provider_arn=oidc_arn, backup_bucket=bucket,
                     backup_prefix=f"{prefix}/" if prefix else "", backup_retention_days=retention,
                     backup_job_image=image)


def _ops(read: _Reader) -> OpsConfig:
    rotation = read.integer("secretRotationDays", default=90)
    backup_age = read.integer("maxBackupAgeHours", default=6)
    for key, value in (("secretRotationDays", rotation), ("maxBackupAgeHours", backup_age)):
        if value < 1:
            raise ConfigError(key, f"must be a positive number, got {value}")
    api_url = read.optional("apiUrl")
    if api_url is not None and not api_url.startswith(("https://", "http://")):
        raise ConfigError("apiUrl", f"must be an http(s) URL, got {api_url!r}")
    return OpsConfig(secret_rotation_days=rotation, max_backup_age_hours=backup_age,
                     release_branch=read.optional("releaseBranch") or "main", api_url=api_url)
def _local_server_port(data_dir: str) -> int:
    """The port of the checkout's own PostgreSQL server, read from the server's postmaster.pid.

    The local stack leaves `database.port` unset: each checkout's server runs on a free port recorded in
    `.state/ports.json` (see localcluster/ports.py), and its socket in the data directory is named by it.
    """
    pid_file = os.path.join(data_dir, "postmaster.pid")
    try:
        return int(open(pid_file).read().splitlines()[3])  # line 4 of postmaster.pid is the port
    except (OSError, IndexError, ValueError):
        raise ConfigError("database.port", f"is not set and no PostgreSQL server runs in {data_dir} to take it "
                                           "from: start it with `make up` (or set the port)") from None


def load_stack_config() -> StackConfig:
    """Read the `tonsurance:*` config of the running stack from the Pulumi runtime and validate it."""
    import pulumi
    from pulumi.runtime.config import CONFIG, get_config_env

    prefix = f"{NAMESPACE}:"
    merged = {**get_config_env(), **CONFIG.get()}
    raw = {k[len(prefix):]: v for k, v in merged.items() if k.startswith(prefix)}
    secret_keys = {k for k in raw if pulumi.runtime.is_config_secret(prefix + k)}
    config = parse_stack_config(pulumi.get_stack(), raw, secret_keys)
    check_secrets_provider(config.ton.network, stack_secrets_provider(pulumi.get_stack()))
    return config


def stack_secrets_provider(stack: str, project_dir: str = ".") -> str | None:
    """The `secretsprovider` of Pulumi.<stack>.yaml (None: the passphrase provider or the backend's default)."""
    import yaml

    path = os.path.join(project_dir, f"Pulumi.{stack}.yaml")
    if not os.path.exists(path):
        return None
    with open(path) as file:
        return (yaml.safe_load(file) or {}).get("secretsprovider")
