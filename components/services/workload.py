"""One backend workload from one row of the service table (guestbook's `ServiceDeployment` shape).

    ServiceWorkload("api-v2", ServiceWorkloadArgs(spec=SERVICES_BY_NAME["api-v2"], image=..., ...))

Every workload gets a ServiceAccount (no token), a Service with ports `http` and `metrics`, probes on
/health, per-network resources, the restricted security context, the `contract-addresses` ConfigMap as
environment (its checksum in the pod template, so a changed address rolls the pods), its secrets by
name, and a NetworkPolicy that opens only what the row says it needs. Replicated rows become an Argo
Rollouts canary (20% -> pause -> 50% -> pause -> 100%) with a PodDisruptionBudget and topology spread;
singleton rows (keepers) a one-replica Deployment with `Recreate`; rows with a public host an Ingress.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.services.catalog import (CONTRACT_ADDRESSES, DATABASE_URL, HEALTH_PATH, HTTP_PORT_NAME, INGRESS_CLASS,
                                         METRICS_PORT_NAME, REDIS_URL, ServiceSpec, selector_labels)
from components.services.database_tls import DatabaseTls
from components.services.pod_security import container_security, pod_security, tmp_volume
from components.services.redis import LABELS as REDIS_LABELS, PORT as REDIS_PORT
from components.services.rollout_analysis import rollout_args
from components.services.secrets import SECRET_KEY

CHECKSUM_ANNOTATION = "tonsurance.io/contract-addresses-checksum"
MANAGED_REDIS_PORT = 6379  # a managed Redis's URL is a secret; its port is the standard one
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16")
net = k8s.networking.v1
meta = k8s.meta.v1
core = k8s.core.v1


@dataclass(frozen=True)
class Canary:
    replicas: int
    pause_seconds: int  # without analysis: the pause after each weight; with it: how long the gates hold one
    analysis_templates: tuple[str, ...]  # empty: the canary advances on pauses alone (stacks without Prometheus)


@dataclass(frozen=True)
class Exposure:
    """Who may reach the workload and what it may reach, beyond its row."""

    ingress_namespace: str  # nginx ingress controller
    prometheus_namespace: str  # scrapes the metrics port
    database_port: int
    redis_in_cluster: bool
    domain: str
    tls_issuer: str
    rate_limit_rps: int
    # False where no ingress controller runs (the local cluster): Pulumi would otherwise wait ten minutes for
    # a load-balancer address nobody assigns.
    await_ingress: bool = True


@dataclass(frozen=True)
class ServiceWorkloadArgs:
    spec: ServiceSpec
    image: str
    network: str  # picks the row's resources
    namespace: pulumi.Input[str]
    contract_addresses_checksum: pulumi.Input[str]
    canary: Canary  # replicated rows only
    exposure: Exposure
    callers: tuple[str, ...] = ()  # workloads that call this one
    database_tls: DatabaseTls | None = None  # libpq's TLS settings and CA for a workload that reads DATABASE_URL
    # Applied to a cluster: Rollouts are retained on delete (see _rollout); rendered to YAML they are not.
    retain_rollout: bool = True


def dns_egress() -> net.NetworkPolicyEgressRuleArgs:
    """Egress to the cluster's DNS (kube-dns in kube-system), which every pod that resolves a name needs."""
    dns = net.NetworkPolicyPeerArgs(
        namespace_selector=meta.LabelSelectorArgs(match_labels={"kubernetes.io/metadata.name": "kube-system"}),
        pod_selector=meta.LabelSelectorArgs(match_labels={"k8s-app": "kube-dns"}))
    return net.NetworkPolicyEgressRuleArgs(to=[dns], ports=[
        net.NetworkPolicyPortArgs(port=53, protocol="UDP"), net.NetworkPolicyPortArgs(port=53, protocol="TCP")])


def image_version(image: str) -> str:
    """The tag (or short digest) of an image reference, for the app.kubernetes.io/version label."""
    name, _, digest = image.partition("@")
    tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else ""
    return tag or digest.removeprefix("sha256:")[:12]


class ServiceWorkload(pulumi.ComponentResource):
    workload: pulumi.Resource  # the Rollout or the Deployment
    service: core.Service
    ingress: net.Ingress | None

    def __init__(self, name: str, args: ServiceWorkloadArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("tonsurance:services:ServiceWorkload", name, None, opts)
        spec = args.spec
        selector = selector_labels(spec.name)
        labels = {**selector, "app.kubernetes.io/component": spec.component, "app.kubernetes.io/managed-by": "pulumi"}
        child = pulumi.ResourceOptions(parent=self)

        def metadata(**extra) -> meta.ObjectMetaArgs:
            return meta.ObjectMetaArgs(name=spec.name, namespace=args.namespace, labels=labels, **extra)

        account = core.ServiceAccount(f"{name}-account", metadata=metadata(), automount_service_account_token=False,
                                      opts=child)
        self.service = core.Service(f"{name}-service", metadata=metadata(), spec=core.ServiceSpecArgs(
            selector=selector, ports=[
                core.ServicePortArgs(name=HTTP_PORT_NAME, port=spec.port, target_port=HTTP_PORT_NAME),
                core.ServicePortArgs(name=METRICS_PORT_NAME, port=spec.metrics_port, target_port=METRICS_PORT_NAME)]),
            opts=child)
        template = self._pod_template(args, labels, selector)
        # Not after the Service: Pulumi waits for a Service to reach ready pods, so both go out together.
        after = pulumi.ResourceOptions(parent=self, depends_on=[account])
        if spec.replicated:
            self.workload = self._rollout(name, args, metadata, selector, template, after)
            policy_spec = k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1, selector=meta.LabelSelectorArgs(match_labels=selector))
            k8s.policy.v1.PodDisruptionBudget(f"{name}-pdb", metadata=metadata(), spec=policy_spec, opts=child)
        else:
            # A keeper signs with one wallet: a second replica would race it on the wallet's seqno, so
            # exactly one pod, and Recreate stops the old pod before the new one starts (no canary).
            self.workload = k8s.apps.v1.Deployment(f"{name}-deployment", metadata=metadata(), spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=1, strategy=k8s.apps.v1.DeploymentStrategyArgs(type="Recreate"),
                selector=meta.LabelSelectorArgs(match_labels=selector), template=template), opts=after)
        self.ingress = self._ingress(name, args, metadata, child) if spec.public_host else None
        net.NetworkPolicy(f"{name}-network-policy", metadata=metadata(), spec=self._network_policy(args, selector),
                          opts=child)
        self.register_outputs({})

    @staticmethod
    def _pod_template(args: ServiceWorkloadArgs, labels: dict, selector: dict) -> core.PodTemplateSpecArgs:
        spec, size = args.spec, args.spec.resources[args.network]
        secrets = [core.EnvVarArgs(name=s.env, value_from=core.EnvVarSourceArgs(
            secret_key_ref=core.SecretKeySelectorArgs(name=s.name, key=SECRET_KEY))) for s in spec.secrets]
        tls = args.database_tls if DATABASE_URL in spec.secrets else None
        probe = lambda delay: core.ProbeArgs(  # noqa: E731
            http_get=core.HTTPGetActionArgs(path=HEALTH_PATH, port=HTTP_PORT_NAME), initial_delay_seconds=delay,
            period_seconds=10, failure_threshold=3)
        spread = [core.TopologySpreadConstraintArgs(
            max_skew=1, topology_key=key, when_unsatisfiable="ScheduleAnyway",
            label_selector=meta.LabelSelectorArgs(match_labels=selector))
            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")] if spec.replicated else None
        return core.PodTemplateSpecArgs(
            metadata=meta.ObjectMetaArgs(
                labels={**labels, "app.kubernetes.io/version": image_version(args.image)},
                annotations={CHECKSUM_ANNOTATION: args.contract_addresses_checksum}),
            spec=core.PodSpecArgs(
                service_account_name=spec.name, automount_service_account_token=False,
                security_context=pod_security(), topology_spread_constraints=spread,
                volumes=[tmp_volume(), *(tls.volume_args() if tls else [])],
                containers=[core.ContainerArgs(
                    name=spec.name, image=args.image,
                    ports=[core.ContainerPortArgs(name=HTTP_PORT_NAME, container_port=spec.port),
                           core.ContainerPortArgs(name=METRICS_PORT_NAME, container_port=spec.metrics_port)],
                    env_from=[core.EnvFromSourceArgs(config_map_ref=core.ConfigMapEnvSourceArgs(name=CONTRACT_ADDRESSES))],
                    env=[core.EnvVarArgs(name="PORT", value=str(spec.port)),
                         core.EnvVarArgs(name="METRICS_PORT", value=str(spec.metrics_port)), *secrets,
                         *(tls.env_args() if tls else [])],
                    readiness_probe=probe(5), liveness_probe=probe(15),
                    resources=core.ResourceRequirementsArgs(
                        requests={"cpu": size.cpu_request, "memory": size.memory_request},
                        limits={"cpu": size.cpu_limit, "memory": size.memory_limit}),
                    security_context=container_security(),
                    volume_mounts=[core.VolumeMountArgs(name="tmp", mount_path="/tmp"),
                                   *(tls.mount_args() if tls else [])])]))

    @staticmethod
    def _rollout(name, args: ServiceWorkloadArgs, metadata, selector, template, opts) -> pulumi.Resource:
        canary = args.canary
        if canary.analysis_templates:
            # Each weight is held by the gates (components/rollout_analysis.py): the step passes on evidence,
            # aborts on a failed measurement and pauses when there is none.
            hold = [{"analysis": {"templates": [{"templateName": t} for t in canary.analysis_templates],
                                  "args": rollout_args(args.spec.name, args.namespace)}}]
        else:
            hold = [{"pause": {"duration": f"{canary.pause_seconds}s"}}] if canary.pause_seconds else []
        strategy: dict = {"maxSurge": "25%", "maxUnavailable": 0,
                          "steps": [{"setWeight": 20}, *hold, {"setWeight": 50}, *hold, {"setWeight": 100}]}
        # `pulumi up` waits for the Rollout to finish (Healthy) or fails after the pauses plus ten minutes.
        wait = {"pulumi.com/waitFor": "jsonpath={.status.phase}=Healthy",
                "pulumi.com/timeoutSeconds": str(2 * canary.pause_seconds + 600)}
        return k8s.apiextensions.CustomResource(
            f"{name}-rollout", api_version="argoproj.io/v1alpha1", kind="Rollout", metadata=metadata(annotations=wait),
            spec={"replicas": canary.replicas, "revisionHistoryLimit": 5,
                  "selector": {"matchLabels": selector}, "template": template,
                  "progressDeadlineSeconds": 600, "progressDeadlineAbort": True,
                  "strategy": {"canary": strategy}},
            # The Kubernetes provider (v4.25) crashes awaiting a Rollout's deletion: its status check cannot
            # read Argo's string observedGeneration. Destroy removes Rollouts with their namespace instead;
            # a service dropped from the table needs `kubectl delete rollout <name>` (docs/services.md).
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(retain_on_delete=args.retain_rollout)))

    @staticmethod
    def _ingress(name, args: ServiceWorkloadArgs, metadata, opts) -> net.Ingress:
        spec, exposure = args.spec, args.exposure
        host = f"{spec.public_host}.{exposure.domain}"
        annotations = {
            "cert-manager.io/cluster-issuer": exposure.tls_issuer,
            "nginx.ingress.kubernetes.io/limit-rps": str(exposure.rate_limit_rps),
            "nginx.ingress.kubernetes.io/limit-connections": str(exposure.rate_limit_rps),
            "nginx.ingress.kubernetes.io/ssl-redirect": "true",
        }
        if not exposure.await_ingress:
            annotations["pulumi.com/skipAwait"] = "true"
        if spec.long_lived:  # WebSocket clients hold a connection open; nginx's default 60 s would cut them
            annotations.update({"nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
                                "nginx.ingress.kubernetes.io/proxy-send-timeout": "3600"})
        backend = net.IngressBackendArgs(service=net.IngressServiceBackendArgs(
            name=spec.name, port=net.ServiceBackendPortArgs(name=HTTP_PORT_NAME)))
        return net.Ingress(f"{name}-ingress", metadata=metadata(annotations=annotations), spec=net.IngressSpecArgs(
            ingress_class_name=INGRESS_CLASS,
            tls=[net.IngressTLSArgs(hosts=[host], secret_name=f"{spec.name}-tls")],
            rules=[net.IngressRuleArgs(host=host, http=net.HTTPIngressRuleValueArgs(paths=[
                net.HTTPIngressPathArgs(path="/", path_type="Prefix", backend=backend)]))]),
            opts=opts)

    @staticmethod
    def _network_policy(args: ServiceWorkloadArgs, selector: dict) -> net.NetworkPolicySpecArgs:
        spec, exposure = args.spec, args.exposure

        def tcp(port) -> list[net.NetworkPolicyPortArgs]:
            return [net.NetworkPolicyPortArgs(port=port, protocol="TCP")]

        def pods(name: str) -> net.NetworkPolicyPeerArgs:
            return net.NetworkPolicyPeerArgs(pod_selector=meta.LabelSelectorArgs(match_labels=selector_labels(name)))

        def namespace(name: str) -> net.NetworkPolicyPeerArgs:
            return net.NetworkPolicyPeerArgs(namespace_selector=meta.LabelSelectorArgs(
                match_labels={"kubernetes.io/metadata.name": name}))

        ingress = [net.NetworkPolicyIngressRuleArgs(from_=[namespace(exposure.prometheus_namespace)],
                                                    ports=tcp(METRICS_PORT_NAME))]
        if spec.public_host:
            ingress.append(net.NetworkPolicyIngressRuleArgs(from_=[namespace(exposure.ingress_namespace)],
                                                            ports=tcp(HTTP_PORT_NAME)))
        if args.callers:
            ingress.append(net.NetworkPolicyIngressRuleArgs(from_=[pods(c) for c in args.callers],
                                                            ports=tcp(HTTP_PORT_NAME)))
        egress = [dns_egress()]
        egress += [net.NetworkPolicyEgressRuleArgs(to=[pods(callee)], ports=tcp(HTTP_PORT_NAME)) for callee in spec.calls]
        reads = set(spec.secret_names)
        if DATABASE_URL.name in reads:  # the database may live outside the cluster: any address, its port only
            egress.append(net.NetworkPolicyEgressRuleArgs(ports=tcp(exposure.database_port)))
        if REDIS_URL.name in reads:
            egress.append(net.NetworkPolicyEgressRuleArgs(
                to=[net.NetworkPolicyPeerArgs(pod_selector=meta.LabelSelectorArgs(match_labels=REDIS_LABELS))],
                ports=tcp(REDIS_PORT)) if exposure.redis_in_cluster else
                net.NetworkPolicyEgressRuleArgs(ports=tcp(MANAGED_REDIS_PORT)))
        if spec.internet:  # HTTPS to public addresses only (TON RPC, market data, Slack)
            egress.append(net.NetworkPolicyEgressRuleArgs(
                to=[net.NetworkPolicyPeerArgs(ip_block=net.IPBlockArgs(cidr="0.0.0.0/0", except_=list(PRIVATE_RANGES)))],
                ports=tcp(443)))
        return net.NetworkPolicySpecArgs(pod_selector=meta.LabelSelectorArgs(match_labels=selector),
                                         policy_types=["Ingress", "Egress"], ingress=ingress, egress=egress)
