"""Tonsurance Deploy: the composition root. Read and validate config, build components, export outputs."""

import os

import pulumi

from components.aws import TonsuranceAws, TonsuranceAwsArgs
from components.backup_schedule import BackupSchedule, BackupScheduleArgs
from components.contracts import TonsuranceContracts, contracts_args
from components.database import BackupPolicy, Database, DatabaseArgs
from components.exporters import Exporters, ExportersArgs, exporter_scrape_targets
from components.field_manager import pin_field_manager
from components.monitoring import LOCAL_ALERT_TIMING, AlertTiming, Monitoring, MonitoringArgs, workload_scrape_targets
from components.platform import Platform, PlatformArgs
from components.platform_charts import PlatformCharts, PlatformChartsArgs, grafana_namespace
from components.tls_issuer import TlsIssuer, TlsIssuerArgs
from components.services.backend_services import BackendServices, BackendServicesArgs
from components.services.database_tls import DatabaseTls
from config import ConfigError, load_stack_config
from database.signing import LOCAL_KEY_FILE
from monitoring.alerts import LOCAL_RULE_TIMING, RuleTiming

try:
    cfg = load_stack_config()  # validates everything before any resource is registered
except ConfigError as err:
    raise pulumi.RunError(str(err)) from None

# One Server-Side Apply field manager for every Kubernetes object, so an up killed mid-create converges.
pulumi.runtime.register_stack_transformation(pin_field_manager)

# First: its deployment is the update's longest step (a private TVM run of every deploy, then a chain round
# trip); registered first, it starts while the rest of the program registers (docs/contracts-deploy.md).
contracts = TonsuranceContracts("contracts", contracts_args(cfg))

platform = Platform("platform", PlatformArgs(
    namespace=cfg.kubernetes.namespace,
    render_manifests_to=cfg.kubernetes.render_manifests_to,
    kubeconfig=cfg.kubernetes.kubeconfig,
    labels={"tonsurance.io/network": cfg.ton.network},
))

# Cluster-wide charts (real clusters only); what needs their CRDs and controllers waits for them.
charts = PlatformCharts("platform-charts", PlatformChartsArgs(provider=platform.provider, install=cfg.platform.charts,
                                                              kubeconfig=cfg.kubernetes.kubeconfig,
                                                              load_balancer_cidrs=cfg.services.load_balancer_cidrs))

# The ClusterIssuer the ingresses name, where the program installs cert-manager (an operator's own brings its own).
if cfg.platform.charts["certManager"]:
    TlsIssuer("tls-issuer", TlsIssuerArgs.from_services(cfg.services),
              pulumi.ResourceOptions(provider=platform.provider, transformations=[charts.installed_first()]))

monitoring = Monitoring("monitoring", MonitoringArgs(
    namespace=platform.namespace,
    namespace_name=cfg.kubernetes.namespace,
    provider=platform.provider,
    runbook_url=cfg.monitoring.runbook_url,
    slack_channel=cfg.monitoring.slack_channel,
    scrape_targets=workload_scrape_targets() + exporter_scrape_targets(),
    alert_timing=LOCAL_ALERT_TIMING if cfg.ton.network == "localnet" else AlertTiming(),
    rule_timing=LOCAL_RULE_TIMING if cfg.ton.network == "localnet" else RuleTiming(),
), pulumi.ResourceOptions(transformations=[charts.installed_first()]))

# Testnet and mainnet only: the local stack never loads the AWS provider.
aws = TonsuranceAws("aws", TonsuranceAwsArgs.from_stack_config(cfg)) if cfg.aws else None
# Backup manifests are signed: with the stack's KMS key, or on the local stack a key file beside its state.
signing_key = aws.signing_key_arn.apply(lambda arn: f"kms:{arn}") if aws else f"file:{os.path.abspath(LOCAL_KEY_FILE)}"
if aws:  # scheduled backups to the stack's bucket (every 6 h on mainnet, daily on testnet)
    BackupSchedule("backups", BackupScheduleArgs.from_stack_config(cfg, aws.backup_role_arn, aws.signing_key_arn),
                   pulumi.ResourceOptions(provider=platform.provider, depends_on=[platform]))

database = Database("database", DatabaseArgs(
    dsn=pulumi.Output.secret(cfg.database.dsn()),
    single_transaction=cfg.database.single_transaction,
    timescaledb_required=cfg.database.timescaledb_required,
    backup=BackupPolicy(store_url=cfg.database.backup_store, s3_region=cfg.database.backup_s3_region,
                        signing_key=signing_key, s3_expected_owner=cfg.aws.account_id if cfg.aws else None,
                        every_update=cfg.is_mainnet)
    if cfg.database.backup_before_migrate else None,
))


# The pods that read DATABASE_URL verify the database as the operator's machine does (testnet/mainnet).
database_tls = DatabaseTls.from_config(cfg.database)
services = BackendServices("services", BackendServicesArgs(
    stack=cfg.stack, network=cfg.ton.network, namespace=platform.namespace, images=cfg.kubernetes.images,
    contract_addresses=contracts.keeper_config, settings=cfg.services, database_port=cfg.database.port,
    renders_manifests=cfg.kubernetes.render_manifests_to is not None,
    secrets_role_arns=aws.secret_set_role_arns if aws else {}, grafana_namespace=grafana_namespace(cfg.platform.charts),
    database_tls=database_tls,
), pulumi.ResourceOptions(provider=platform.provider, transformations=[charts.installed_first()]))

# PostgreSQL and Redis exporters for the alerts and panels that read them; they read the services' Secrets.
Exporters("exporters", ExportersArgs(
    namespace=platform.namespace, prometheus_namespace=cfg.services.prometheus_namespace,
    database_port=cfg.database.port, redis_in_cluster=cfg.services.redis_in_cluster,
    images=cfg.services.exporter_images, database_tls=database_tls,
), pulumi.ResourceOptions(provider=platform.provider, depends_on=[services]))

pulumi.export("network", cfg.ton.network)
pulumi.export("admin_address", cfg.ton.admin_address)
pulumi.export("keeper_addresses", list(cfg.ton.keeper_addresses))
pulumi.export("namespace", platform.namespace)
pulumi.export("manifests_dir", platform.manifests_dir)
pulumi.export("database_schema_version", database.schema_version)
pulumi.export("database_migrations", database.applied_migrations)
pulumi.export("database_backup_id", database.backup_id)
for name, value in contracts.stack_outputs().items():
    pulumi.export(name, value)
pulumi.export("service_images", services.images)
pulumi.export("service_hosts", services.hosts)
if aws:
    for name, value in aws.stack_outputs().items():
        pulumi.export(name, value)
