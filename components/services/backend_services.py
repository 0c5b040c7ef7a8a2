"""The backend on Kubernetes: the `contract-addresses` ConfigMap, secrets, Redis, the canary's gates and the
five workloads of the service table, behind a default-deny NetworkPolicy; on stacks whose database takes
verified TLS, the `database-ca` ConfigMap its readers mount (components/services/database_tls.py).

    BackendServices("services", BackendServicesArgs(stack=..., network=..., namespace=platform.namespace,
                    images=cfg.kubernetes.images, contract_addresses=contracts.keeper_config,
                    settings=cfg.services, database_port=cfg.database.port),
                    pulumi.ResourceOptions(provider=platform.provider))
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.exporters import EXPORTERS  # the Redis exporter is a client of Redis too
from components.services.catalog import (CONTRACT_ADDRESSES, REDIS_URL, SERVICES, ServiceSpec, secret_sets,
                                         selector_labels)
from components.services.database_tls import CA_KEY, DATABASE_CA, DatabaseTls
from components.services.redis import Redis, RedisArgs
from components.services.rollout_analysis import GateTiming, RolloutAnalysis, RolloutAnalysisArgs
from components.services.secrets import ServiceSecrets, ServiceSecretsArgs
from components.services.workload import Canary, Exposure, ServiceWorkload, ServiceWorkloadArgs
from config.types import ServicesConfig


@dataclass(frozen=True)
class BackendServicesArgs:
    stack: str
    network: str
    namespace: pulumi.Input[str]
    images: Mapping[str, str]  # image key -> reference (cfg.kubernetes.images)
    contract_addresses: pulumi.Input[Mapping[str, str]]  # the contracts' keeper_config output
    settings: ServicesConfig
    database_port: int
    renders_manifests: bool = False  # the provider writes YAML instead of applying to a cluster
    catalog: Sequence[ServiceSpec] = SERVICES
    # Public stacks: the IAM role of each secret set (components/aws.py), assumed by that set's secret store.
    secrets_role_arns: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    # Where the monitoring chart's Grafana runs (platform_charts.grafana_namespace): its admin Secret is made there.
    grafana_namespace: str | None = None
    # The database's sslmode and CA (testnet/mainnet): the `database-ca` ConfigMap and the readers' PGSSL* variables.
    database_tls: DatabaseTls | None = None


def checksum(data: Mapping[str, str]) -> str:
    """A stable digest of the ConfigMap's data: equal data, equal digest, whatever the key order."""
    return hashlib.sha256(json.dumps(dict(data), sort_keys=True).encode()).hexdigest()


class BackendServices(pulumi.ComponentResource):
    workloads: dict[str, ServiceWorkload]
    contract_addresses: pulumi.Output[dict]  # the ConfigMap's data as applied
    images: dict[str, str]  # workload name -> image reference
    hosts: dict[str, str]  # workload name -> public host

    def __init__(self, name: str, args: BackendServicesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("tonsurance:services:BackendServices", name, None, opts)
        settings, child = args.settings, pulumi.ResourceOptions(parent=self)
        part_of = {"app.kubernetes.io/part-of": "tonsurance"}

        # Everything in the namespace is denied until a workload's own policy opens what it needs.
        k8s.networking.v1.NetworkPolicy(f"{name}-default-deny", metadata=k8s.meta.v1.ObjectMetaArgs(
            name="default-deny", namespace=args.namespace, labels=part_of),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(pod_selector=k8s.meta.v1.LabelSelectorArgs(),
                                                         policy_types=["Ingress", "Egress"]), opts=child)
        config_map = k8s.core.v1.ConfigMap(f"{name}-contract-addresses", metadata=k8s.meta.v1.ObjectMetaArgs(
            name=CONTRACT_ADDRESSES, namespace=args.namespace, labels=part_of), data=args.contract_addresses, opts=child)
        self.contract_addresses = config_map.data
        database_ca = None
        if args.database_tls and args.database_tls.ca_bundle:
            database_ca = k8s.core.v1.ConfigMap(f"{name}-database-ca", metadata=k8s.meta.v1.ObjectMetaArgs(
                name=DATABASE_CA, namespace=args.namespace, labels=part_of),
                data={CA_KEY: args.database_tls.ca_bundle}, opts=child)

        redis = None
        if settings.redis_in_cluster:
            readers = [s.name for s in args.catalog if REDIS_URL.name in s.secret_names]
            readers += [e.name for e in EXPORTERS if e.secret == REDIS_URL]
            clients = tuple(selector_labels(reader) for reader in readers)
            redis = Redis(f"{name}-redis", RedisArgs(namespace=args.namespace, image=settings.redis_image,
                                                     storage=settings.redis_storage, clients=clients,
                                                     prebound_volume=args.network == "localnet"), child)
        secrets = ServiceSecrets(f"{name}-secrets", ServiceSecretsArgs(
            stack=args.stack, namespace=args.namespace, sets=secret_sets(settings.redis_in_cluster, grafana=args.grafana_namespace is not None),
            store=settings.secret_store, aws_region=settings.aws_region, redis_host=redis.host if redis else None,
            aws_role_arns=args.secrets_role_arns,
            grafana_namespace=args.grafana_namespace), child)

        rollout = settings.rollout
        templates: tuple[str, ...] = ()
        analysis = None
        hold_seconds = rollout.pause_seconds
        if rollout.analysis:
            timing = GateTiming.of(rollout)
            analysis = RolloutAnalysis(f"{name}-analysis", RolloutAnalysisArgs(
                namespace=args.namespace, prometheus_url=rollout.prometheus_url,
                max_error_rate=rollout.max_error_rate, max_p99_ms=rollout.max_p99_ms, timing=timing), child)
            templates = analysis.template_names
            hold_seconds = timing.count * timing.interval_seconds
        exposure = Exposure(
            ingress_namespace=settings.ingress_namespace, prometheus_namespace=settings.prometheus_namespace,
            database_port=args.database_port, redis_in_cluster=settings.redis_in_cluster, domain=settings.domain,
            tls_issuer=settings.tls_issuer, rate_limit_rps=settings.rate_limit_rps,
            await_ingress=args.network != "localnet")
        digest = pulumi.Output.from_input(args.contract_addresses).apply(checksum)
        # Pods start after what they reference exists: the ConfigMap, their Secrets' ExternalSecrets, the gates.
        ready = [config_map, secrets, *([analysis] if analysis else []), *([database_ca] if database_ca else [])]
        self.workloads = {
            spec.name: ServiceWorkload(f"{name}-{spec.name}", ServiceWorkloadArgs(
                spec=spec, image=args.images[spec.image_key], network=args.network, namespace=args.namespace,
                contract_addresses_checksum=digest,
                canary=Canary(replicas=rollout.replicas, pause_seconds=hold_seconds,
                              analysis_templates=templates),
                exposure=exposure,
                callers=tuple(c.name for c in args.catalog if spec.name in c.calls),
                database_tls=args.database_tls,
                retain_rollout=not args.renders_manifests),
                pulumi.ResourceOptions(parent=self, depends_on=ready))
            for spec in args.catalog
        }
        self.images = {spec.name: args.images[spec.image_key] for spec in args.catalog}
        self.hosts = {s.name: f"{s.public_host}.{settings.domain}" for s in args.catalog if s.public_host}
        self.register_outputs({"images": self.images, "hosts": self.hosts})
