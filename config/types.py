"""The stack configuration as the program reads it: one frozen dataclass tree (StackConfig and its
sections), the secret wrappers and ConfigError. Parsing and its rules: config/parse.py."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping

NAMESPACE = "tonsurance"
# The keys of `tonsurance:images`: one image per backend workload (components/services/catalog.py gives each
# to its row; config requires all of them).
IMAGE_KEYS = ("backend", "pricingKeeper", "bridgeHealthKeeper", "apiV2", "websocketV2")
# The platform charts a stack can install (`tonsurance:platform`, components/platform_charts.py).
PLATFORM_CHARTS = ("kubePrometheusStack", "ingressNginx", "argoRollouts", "externalSecrets", "certManager")


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
    # inside each call, so they never enter Pulumi state (see ton_deploy/mnemonic.py).
    deployer_mnemonic: SecretValue | SecretReference
    localnet_path: str | None  # localnet only: the emulated chain's state file
    liteserver_config_path: str | None  # testnet/mainnet: network config file for pytoniq
    # localnet only: the admin wallet's words, so the program sends admin messages itself (the keepers);
    # elsewhere the admin is the multisig and those messages are multisig orders (ton_deploy/roles.py)
    admin_mnemonic: SecretValue | None = None
    # Localnet only: the keepers' throwaway wallet words, one per keeper address (same order), for the stand-in
    # keepers that sign oracle updates. Public stacks keep keeper keys in Secrets Manager, read by the pods.
    keeper_mnemonics: tuple[SecretValue, ...] = ()


@dataclass(frozen=True)
class KubernetesConfig:
    namespace: str
    render_manifests_to: str | None  # set: render YAML to this directory instead of applying to a cluster
    images: Mapping[str, str]  # service -> image reference with an explicit tag
    kubeconfig: str | None = None  # path of the cluster's kubeconfig; None: the provider's ambient config


@dataclass(frozen=True)
class DatabaseConfig:
    host: str  # a host name, or on localnet the server's Unix socket directory inside the project
    port: int | None  # None only while the local server's port is unread (config/loader.py fills it)
    name: str
    user: str
    password: SecretValue | None  # None only on localnet, whose socket needs no password
    timescaledb_required: bool
    backup_before_migrate: bool
    single_transaction: bool
    backup_store: str | None  # s3://bucket/prefix, or on localnet a folder inside the project
    backup_s3_region: str | None
    # libpq's sslmode and the CA bundle that verifies the server (verify-full and a CA on testnet/mainnet,
    # config/parse.py); None on a local socket, where libpq's default applies.
    ssl_mode: str | None = None
    ssl_root_cert: str | None = None  # a path inside the project or absolute

    def dsn(self) -> str:
        """The libpq connection string, password and TLS settings included: wrap it in a Pulumi secret at once."""
        from psycopg.conninfo import make_conninfo

        host = os.path.abspath(self.host) if self.host.startswith(".") else self.host
        password = {"password": self.password.value} if self.password else {}
        tls = {key: value for key, value in (("sslmode", self.ssl_mode),
                                             ("sslrootcert", self.ssl_root_cert and os.path.abspath(self.ssl_root_cert)))
               if value}
        return make_conninfo(host=host, port=self.port, dbname=self.name, user=self.user, **password, **tls)




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
    analysis: bool  # False: the canary advances on pauses alone (a stack without Prometheus)
    prometheus_url: str | None
    max_error_rate: float  # 5xx / all canary requests over the window
    max_p99_ms: int  # p99 of the canary's http_request_duration_seconds over the window
    analysis_window_seconds: int = 300  # the guide's 5 min; the local stack measures 1 min so a drill takes minutes
    analysis_interval_seconds: int = 60
    min_requests: int = 100  # canary requests in a window below which a measurement is inconclusive


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
    exporter_images: dict[str, str]  # exporter name -> image (config/services.py EXPORTER_IMAGES)
    secret_store: str  # aws: Secrets Manager; fake: throwaway values in the store itself (local only)
    aws_region: str | None
    # The load balancer's ranges: the only peers whose X-Forwarded-For nginx believes (empty: it believes none)
    load_balancer_cidrs: tuple[str, ...] = ()
    acme_email: str | None = None  # the ClusterIssuer's ACME account (where the program installs cert-manager)
    acme_server: str = "https://acme-v02.api.letsencrypt.org/directory"
    redis_ca_cert: str | None = None  # the CA bundle that verifies a managed Redis's TLS (None: the system's)


@dataclass(frozen=True)
class AwsConfig:
    """What testnet and mainnet describe in AWS (components/aws.py); the local stack has none."""
    region: str
    eks_oidc_provider_arn: str  # the cluster's IAM OIDC provider: service accounts assume roles through it
    backup_bucket: str  # from tonsurance:backupStore (s3://bucket/prefix)
    backup_prefix: str  # "" or ending in "/"
    backup_retention_days: int
    backup_job_image: str  # Python 3.11 + psycopg + boto3 + PostgreSQL 15 client (the job's code comes from a ConfigMap)
    # The role the deploy workflow (and operators) assume: the only reader of the deployer mnemonic, a signer of backups.
    deploy_role_arn: str = ""
    backup_version_retention_days: int = 0  # older versions of a backup object (longer than backup_retention_days)
    backup_replica_region: str | None = None  # the bucket is replicated to this region when set

    @property
    def account_id(self) -> str:
        return self.eks_oidc_provider_arn.split(":")[4]


@dataclass(frozen=True)
class OpsConfig:
    """What `python -m ops preflight/verify` check beyond the resources (docs/ops.md)."""
    # Stricter limits than preflight's defaults (each secret's tonsurance:rotation-days tag; the network's backup
    # cadence, components/backup_schedule.py CADENCES); None: those defaults.
    secret_rotation_days: int | None = None
    max_backup_age_hours: int | None = None
    release_branch: str = "main"          # preflight wants a clean tree on this branch
    api_url: str | None = None            # verify's API; default https://api.<services.domain>
    # Where `ops watch` reaches the stack's Prometheus (default services.prometheusUrl) and Alertmanager
    # (default: none, firing alerts then come from Prometheus) from the operator's machine or CI runner.
    watch_prometheus_url: str | None = None
    watch_alertmanager_url: str | None = None


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

