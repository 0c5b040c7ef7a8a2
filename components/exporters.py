"""Exporters of the stack's PostgreSQL and Redis for Prometheus: the series the PostgreSQL and Redis alerts
and panels read (pg_stat_activity_count, pg_settings_max_connections, redis_memory_used_bytes,
redis_memory_max_bytes). One row of `EXPORTERS` per exporter; each becomes a one-replica Deployment of a
pinned image that reads its connection string from the stack's Secret, a Service with the port `metrics`
(whose ServiceMonitor components/monitoring.py makes from `exporter_scrape_targets()`), and a NetworkPolicy:
Prometheus in, DNS and the database or Redis out.

On the `local` stack the pods are simulated like every other; localcluster/servers.py runs the same two
exporters from Debian's packages against the local PostgreSQL and a local Redis, with these names as jobs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.monitoring import ScrapeTarget
from components.services.catalog import DATABASE_URL, METRICS_PORT_NAME, REDIS_URL, SecretSpec, selector_labels
from components.services.database_tls import DatabaseTls
from components.services.pod_security import container_security, pod_security, tmp_volume
from components.services.redis import LABELS as REDIS_LABELS, PORT as REDIS_PORT
from components.services.secrets import SECRET_KEY
from components.services.workload import MANAGED_REDIS_PORT, dns_egress

net, meta, core = k8s.networking.v1, k8s.meta.v1, k8s.core.v1
NOBODY = 65534  # both images run as an unprivileged user; any non-root uid will do


@dataclass(frozen=True)
class ExporterSpec:
    name: str  # Deployment, Service and ServiceMonitor name, hence the `job` of its series (and its image's key
    # in tonsurance:services.exporterImages)
    port: int
    health_path: str
    secret: SecretSpec  # the connection string it reads
    env: str  # the variable the exporter reads it from
    reads: str  # "database" or "redis": what its NetworkPolicy lets it reach


EXPORTERS: tuple[ExporterSpec, ...] = (
    ExporterSpec("postgres-exporter", 9187, "/", DATABASE_URL, "DATA_SOURCE_NAME", "database"),
    ExporterSpec("redis-exporter", 9121, "/health", REDIS_URL, "REDIS_ADDR", "redis"),
)


def exporter_scrape_targets() -> tuple[ScrapeTarget, ...]:
    return tuple(ScrapeTarget(e.name, selector_labels(e.name), METRICS_PORT_NAME) for e in EXPORTERS)


@dataclass(frozen=True)
class ExportersArgs:
    namespace: pulumi.Input[str]
    prometheus_namespace: str  # scrapes the metrics port
    database_port: int
    redis_in_cluster: bool
    images: dict[str, str]  # exporter name -> pinned image (config.ServicesConfig.exporter_images)
    database_tls: DatabaseTls | None = None  # the PostgreSQL exporter's TLS settings and CA (lib/pq reads PGSSL*)


class Exporters(pulumi.ComponentResource):
    deployments: dict[str, k8s.apps.v1.Deployment]

    def __init__(self, name: str, args: ExportersArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("tonsurance:monitoring:Exporters", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.deployments = {}
        for spec in EXPORTERS:
            selector = selector_labels(spec.name)
            labels = {**selector, "app.kubernetes.io/component": "exporter", "app.kubernetes.io/managed-by": "pulumi"}
            metadata = meta.ObjectMetaArgs(name=spec.name, namespace=args.namespace, labels=labels)
            core.Service(f"{name}-{spec.name}-service", metadata=metadata, spec=core.ServiceSpecArgs(
                selector=selector, ports=[core.ServicePortArgs(name=METRICS_PORT_NAME, port=spec.port,
                                                               target_port=METRICS_PORT_NAME)]), opts=child)
            probe = core.ProbeArgs(http_get=core.HTTPGetActionArgs(path=spec.health_path, port=METRICS_PORT_NAME),
                                   period_seconds=30)
            tls = args.database_tls if spec.secret == DATABASE_URL else None
            container = core.ContainerArgs(
                name=spec.name, image=args.images[spec.name],
                ports=[core.ContainerPortArgs(name=METRICS_PORT_NAME, container_port=spec.port)],
                env=[core.EnvVarArgs(name=spec.env, value_from=core.EnvVarSourceArgs(
                    secret_key_ref=core.SecretKeySelectorArgs(name=spec.secret.name, key=SECRET_KEY))),
                     *(tls.env_args() if tls else [])],
                readiness_probe=probe, liveness_probe=probe,
                resources=core.ResourceRequirementsArgs(requests={"cpu": "10m", "memory": "32Mi"},
                                                        limits={"cpu": "100m", "memory": "64Mi"}),
                security_context=container_security(),
                volume_mounts=[core.VolumeMountArgs(name="tmp", mount_path="/tmp"), *(tls.mount_args() if tls else [])])
            self.deployments[spec.name] = k8s.apps.v1.Deployment(
                f"{name}-{spec.name}", metadata=metadata, spec=k8s.apps.v1.DeploymentSpecArgs(
                    replicas=1, selector=meta.LabelSelectorArgs(match_labels=selector),
                    template=core.PodTemplateSpecArgs(
                        metadata=meta.ObjectMetaArgs(labels=labels),
                        spec=core.PodSpecArgs(automount_service_account_token=False, security_context=pod_security(NOBODY),
                                              volumes=[tmp_volume(), *(tls.volume_args() if tls else [])],
                                              containers=[container]))), opts=child)
            net.NetworkPolicy(f"{name}-{spec.name}-network-policy", metadata=metadata,
                              spec=self._network_policy(spec, selector, args), opts=child)
        self.register_outputs({})

    @staticmethod
    def _network_policy(spec: ExporterSpec, selector: dict, args: ExportersArgs) -> net.NetworkPolicySpecArgs:
        tcp = lambda port: [net.NetworkPolicyPortArgs(port=port, protocol="TCP")]  # noqa: E731
        prometheus = net.NetworkPolicyPeerArgs(namespace_selector=meta.LabelSelectorArgs(
            match_labels={"kubernetes.io/metadata.name": args.prometheus_namespace}))
        if spec.reads == "database":  # the database may live outside the cluster: any address, its port only
            target = net.NetworkPolicyEgressRuleArgs(ports=tcp(args.database_port))
        elif args.redis_in_cluster:
            target = net.NetworkPolicyEgressRuleArgs(
                to=[net.NetworkPolicyPeerArgs(pod_selector=meta.LabelSelectorArgs(match_labels=REDIS_LABELS))],
                ports=tcp(REDIS_PORT))
        else:
            target = net.NetworkPolicyEgressRuleArgs(ports=tcp(MANAGED_REDIS_PORT))
        return net.NetworkPolicySpecArgs(
            pod_selector=meta.LabelSelectorArgs(match_labels=selector), policy_types=["Ingress", "Egress"],
            ingress=[net.NetworkPolicyIngressRuleArgs(from_=[prometheus], ports=tcp(METRICS_PORT_NAME))],
            egress=[dns_egress(), target])
